// `kvctl top` without a terminal: its rates, the model it builds from kvd's replies and
// events, its sort orders and keys, and the screen layout at a given size.
#include "ctl/top_view.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <sstream>

#include "ctl/cli.hpp"
#include "ctl/exit_status.hpp"
#include "ctl/output.hpp"

namespace kvd::ctl::top {
namespace {

using namespace std::chrono_literals;

const SteadyTime t0{};
const WallTime kNow = *parse_rfc3339("2026-11-25T18:00:00Z");

Json bucket(std::string name, Json pid, int64_t uptime_ms, int64_t restarts, Json rss, Json cpu,
            std::string state = "running") {
    return {{"bucket", name},       {"pid", pid},
            {"kind", "kv-bucket"},  {"state", state},
            {"restarts", restarts}, {"uptime_ms", uptime_ms},
            {"last_exit", nullptr}, {"rss_bytes", rss},
            {"cpu_ms", cpu},        {"started", "2026-11-25T17:00:00Z"}};
}

Json handler(std::string name, int64_t delivered, int64_t queued = 0, int64_t restarts = 0) {
    return {{"name", name},           {"pid", 500}, {"state", "running"}, {"mode", "async"},
            {"delivered", delivered}, {"acked", 0}, {"dropped", 0},       {"restarts", restarts},
            {"queued", queued}};
}

Json status(int64_t buckets = 3) {
    return {{"version", "0.1.0"},   {"pid", 42},
            {"uptime_ms", 192'000}, {"buckets", buckets},
            {"handlers", 2},        {"subscriptions", 1},
            {"last_seq", 7},        {"boot", "5f0c2e9a7d41b3866e1f09c2b7a4d318"}};
}

Json list_of(std::vector<Json> buckets) {
    return {{"buckets", buckets}};
}

Json handlers_of(std::vector<Json> handlers) {
    return {{"handlers", handlers}};
}

std::vector<std::string> bucket_names(const Model& model, const PaneView& view) {
    std::vector<std::string> names;
    for (const auto& row : sorted_buckets(model, view)) names.push_back(row.name);
    return names;
}

std::vector<std::string> handler_names(const Model& model, const PaneView& view) {
    std::vector<std::string> names;
    for (const auto& row : sorted_handlers(model, view)) names.push_back(row.name);
    return names;
}

// Three buckets that each sort first by a different column.
Model three_buckets() {
    Model model(500ms);
    model.update(status(),
                 list_of({bucket("alpha", 101, 5'000, 0, 1 << 20, 100),
                          bucket("bravo", 102, 90'000, 2, 8 << 20, 50),
                          bucket("charlie", 103, 1'000, 1, 2 << 20, 900)}),
                 handlers_of({handler("audit", 10), handler("fwd", 30, 5)}), t0);
    model.update(status(),
                 list_of({bucket("alpha", 101, 6'000, 0, 1 << 20, 300),
                          bucket("bravo", 102, 91'000, 2, 8 << 20, 60),
                          bucket("charlie", 103, 2'000, 1, 2 << 20, 1000)}),
                 handlers_of({handler("audit", 40), handler("fwd", 35, 5)}), t0 + 1s);
    return model;
}

TEST(TopRateMeter, NeedsTwoSamplesAFullWindowApart) {
    RateMeter meter(500ms);
    meter.sample(t0, 100);
    EXPECT_FALSE(meter.rate());
    meter.sample(t0 + 100ms, 150);  // too soon: the window is not full
    EXPECT_FALSE(meter.rate());
    meter.sample(t0 + 2s, 300);
    ASSERT_TRUE(meter.rate());
    EXPECT_DOUBLE_EQ(*meter.rate(), 100.0);
    meter.sample(t0 + 2100ms, 1000);  // too soon again: the last rate stays
    EXPECT_DOUBLE_EQ(*meter.rate(), 100.0);
    meter.sample(t0 + 3s, 310);  // measured from the last full window's end
    EXPECT_DOUBLE_EQ(*meter.rate(), 10.0);
}

TEST(TopRateMeter, ACounterThatGoesBackStartsOver) {
    RateMeter meter(100ms);
    meter.sample(t0, 100);
    meter.sample(t0 + 1s, 200);
    EXPECT_DOUBLE_EQ(*meter.rate(), 100.0);
    meter.sample(t0 + 2s, 5);
    EXPECT_FALSE(meter.rate());
    meter.sample(t0 + 3s, 25);
    EXPECT_DOUBLE_EQ(*meter.rate(), 20.0);
}

TEST(TopModel, TakesListAndHandlersWithCpuAndDeliveryRates) {
    Model model = three_buckets();
    ASSERT_EQ(model.buckets().size(), 3u);
    const BucketRow& alpha = model.buckets()[0];
    EXPECT_EQ(alpha.name, "alpha");
    EXPECT_EQ(alpha.pid, 101);
    EXPECT_EQ(alpha.rss_bytes, 1 << 20);
    ASSERT_TRUE(alpha.cpu_percent);
    EXPECT_DOUBLE_EQ(*alpha.cpu_percent, 20.0);  // 200 ms of CPU in 1 s
    ASSERT_EQ(model.handlers().size(), 2u);
    EXPECT_DOUBLE_EQ(*model.handlers()[0].events_per_second, 30.0);
    EXPECT_DOUBLE_EQ(*model.handlers()[1].events_per_second, 5.0);
    EXPECT_EQ(model.last_seq(), 7u);
}

TEST(TopModel, ANewProcessOfABucketHasNoCpuRateUntilMeasured) {
    Model model = three_buckets();
    model.update(status(),
                 list_of({bucket("alpha", 201, 10, 1, 1 << 20, 5000),  // restarted: new pid
                          bucket("bravo", nullptr, 0, 3, nullptr, nullptr, "backoff")}),
                 handlers_of({}), t0 + 2s);
    ASSERT_EQ(model.buckets().size(), 2u);
    EXPECT_FALSE(model.buckets()[0].cpu_percent);
    EXPECT_FALSE(model.buckets()[1].cpu_percent);
    EXPECT_FALSE(model.buckets()[1].pid);
    EXPECT_FALSE(model.buckets()[1].rss_bytes);
    model.update(status(), list_of({bucket("alpha", 201, 1010, 1, 1 << 20, 5500)}), handlers_of({}),
                 t0 + 3s);
    EXPECT_DOUBLE_EQ(*model.buckets()[0].cpu_percent, 50.0);
}

TEST(TopModel, CountsEventsOnTheStreamAndWantsARefreshForBucketChanges) {
    Model model(500ms);
    model.update(status(), list_of({}), handlers_of({}), t0);
    EXPECT_TRUE(model.take_event(Json{{"seq", 8}, {"type", "create"}, {"bucket", "a"}}));
    EXPECT_TRUE(model.take_event(Json{{"seq", 9}, {"type", "exit"}, {"bucket", "a"}}));
    EXPECT_TRUE(model.take_event(Json{{"seq", 10}, {"type", "failed"}, {"bucket", "a"}}));
    EXPECT_FALSE(model.take_event(Json{{"seq", 11}, {"type", "hello"}, {"data", 1}}));
    EXPECT_FALSE(model.take_event(Json{{"seq", 30}, {"type", "dropped"}, {"count", 16}}));
    EXPECT_FALSE(model.take_event(Json("not an event")));
    EXPECT_EQ(model.last_seq(), 30u);
    model.update(status(), list_of({}), handlers_of({}), t0 + 2s);
    ASSERT_TRUE(model.events_per_second());
    EXPECT_DOUBLE_EQ(*model.events_per_second(), 10.0);  // 4 events and 16 dropped in 2 s
}

TEST(TopModel, OddRepliesGiveEmptyPanesRatherThanFailing) {
    Model model(500ms);
    model.update(Json("x"), Json{{"buckets", 3}}, Json::array(), t0);
    EXPECT_TRUE(model.buckets().empty());
    EXPECT_TRUE(model.handlers().empty());
    model.update(status(), list_of({Json{{"bucket", "x"}, {"pid", -3}, {"rss_bytes", "big"}}}),
                 handlers_of({Json(5)}), t0 + 1s);
    ASSERT_EQ(model.buckets().size(), 1u);
    EXPECT_FALSE(model.buckets()[0].pid);
    EXPECT_FALSE(model.buckets()[0].rss_bytes);
    ViewState view;
    EXPECT_NO_THROW(render(model, view, 80, 24, kNow));
}

TEST(TopSort, ByEachColumnKeyLargestFirstAndAgainReversed) {
    Model model = three_buckets();
    ViewState view;
    EXPECT_EQ(bucket_names(model, view.buckets),
              (std::vector<std::string>{"alpha", "bravo", "charlie"}));
    struct Case {
        int key;
        std::vector<std::string> order;
    };
    for (const Case& c : std::vector<Case>{
             {'c', {"alpha", "charlie", "bravo"}},  // CPU%: 20, 10, 1
             {'m', {"bravo", "charlie", "alpha"}},  // RSS
             {'u', {"bravo", "alpha", "charlie"}},  // uptime
             {'t', {"bravo", "charlie", "alpha"}},  // restarts
             {'p', {"alpha", "bravo", "charlie"}},  // pid, smallest first
             {'n', {"alpha", "bravo", "charlie"}},
         }) {
        EXPECT_EQ(handle_key(view, c.key), KeyAction::redraw) << char(c.key);
        EXPECT_EQ(bucket_names(model, view.buckets), c.order) << char(c.key);
        EXPECT_EQ(handle_key(view, c.key), KeyAction::redraw) << char(c.key);
        std::vector<std::string> reversed(c.order.rbegin(), c.order.rend());
        EXPECT_EQ(bucket_names(model, view.buckets), reversed) << char(c.key) << " twice";
    }
    handle_key(view, 'r');
    EXPECT_EQ(bucket_names(model, view.buckets),
              (std::vector<std::string>{"alpha", "bravo", "charlie"}));
}

TEST(TopSort, UnknownValuesGoLastEitherWayAndTiesGoByName) {
    Model model(500ms);
    model.update(status(),
                 list_of({bucket("zed", nullptr, 0, 0, nullptr, nullptr, "backoff"),
                          bucket("bee", 2, 0, 0, 100, 0), bucket("ant", 3, 0, 0, 100, 0),
                          bucket("cat", 4, 0, 0, 900, 0)}),
                 handlers_of({}), t0);
    ViewState view;
    handle_key(view, 'm');
    EXPECT_EQ(bucket_names(model, view.buckets),
              (std::vector<std::string>{"cat", "ant", "bee", "zed"}));
    handle_key(view, 'r');
    EXPECT_EQ(bucket_names(model, view.buckets),
              (std::vector<std::string>{"ant", "bee", "cat", "zed"}));
}

TEST(TopKeys, TabMovesSortingToTheHandlersPane) {
    Model model = three_buckets();
    ViewState view;
    EXPECT_EQ(handle_key(view, '\t'), KeyAction::redraw);
    EXPECT_EQ(view.focus, Pane::handlers);
    handle_key(view, 'e');  // events/s: audit 30, fwd 5
    EXPECT_EQ(handler_names(model, view.handlers), (std::vector<std::string>{"audit", "fwd"}));
    handle_key(view, 'w');  // queued: fwd 5, audit 0
    EXPECT_EQ(handler_names(model, view.handlers), (std::vector<std::string>{"fwd", "audit"}));
    EXPECT_EQ(view.buckets.sort_column, 0u) << "the buckets pane keeps its order";
    EXPECT_EQ(handle_key(view, 'c'), KeyAction::none) << "no CPU column for handlers";
    handle_key(view, '\t');
    EXPECT_EQ(view.focus, Pane::buckets);
}

TEST(TopKeys, SCyclesThroughEveryColumnAndQQuits) {
    ViewState view;
    std::size_t n = bucket_columns().size();
    for (std::size_t i = 1; i <= n; ++i) {
        handle_key(view, 's');
        EXPECT_EQ(view.buckets.sort_column, i % n);
        EXPECT_EQ(view.buckets.descending, bucket_columns()[i % n].descending_first);
    }
    handle_key(view, 'S');
    EXPECT_EQ(view.buckets.sort_column, n - 1);
    EXPECT_EQ(handle_key(view, 'q'), KeyAction::quit);
    EXPECT_EQ(handle_key(view, 'Q'), KeyAction::quit);
    EXPECT_EQ(handle_key(view, 'z'), KeyAction::none);
}

TEST(TopRender, ShowsKvdTheBucketsTheHandlersAndTheKeys) {
    Model model = three_buckets();
    ViewState view;
    auto lines = render(model, view, 120, 20, kNow);
    ASSERT_EQ(lines.size(), 20u);
    std::string screen = screen_text(lines);
    EXPECT_EQ(line_text(lines[0]).rfind("kvd 0.1.0 pid 42  up 3m12s  buckets 3", 0), 0u) << screen;
    EXPECT_NE(line_text(lines[0]).find("seq 7  0.0 events/s"), std::string::npos) << screen;
    EXPECT_EQ(line_text(lines[2]), "> BUCKETS 3  sorted by NAME, ascending") << screen;
    EXPECT_EQ(line_text(lines[3]),
              "NAME     KIND       STATE    PID  UPTIME  RESTARTS  RSS   CPU%  CPU   LAST-EXIT")
        << screen;
    EXPECT_EQ(line_text(lines[4]),
              "alpha    kv-bucket  running  101  6s      0         1.0M  20.0  0.3s  -")
        << screen;
    EXPECT_EQ(line_text(lines[8]), "  HANDLERS 2  sorted by NAME, ascending") << screen;
    EXPECT_EQ(line_text(lines[9]),
              "NAME   PID  STATE    MODE   DELIVERED  ACKED  DROPPED  QUEUED  RESTARTS  EV/S")
        << screen;
    EXPECT_EQ(line_text(lines[10]),
              "audit  500  running  async  40         0      0        0       0         30.0")
        << screen;
    EXPECT_EQ(line_text(lines[19]).rfind("q quit  Tab handlers  sort n=name p=pid u=uptime ", 0),
              0u)
        << screen;
    // Styles: the state is painted by its tone, the sorted column and the focus stand out.
    EXPECT_EQ(lines[2][0].style, Style::focus_title);
    EXPECT_TRUE(lines[7].empty()) << "a blank line between the panes";
    EXPECT_EQ(lines[8][0].style, Style::title);
    EXPECT_EQ(lines[3][0].style, Style::sorted);
    EXPECT_EQ(lines[3][2].style, Style::columns);
    EXPECT_EQ(lines[4][4].text, "running");
    EXPECT_EQ(lines[4][4].style, Style::good);

    handle_key(view, 'c');
    lines = render(model, view, 120, 20, kNow);
    EXPECT_EQ(line_text(lines[2]), "> BUCKETS 3  sorted by CPU%, descending");
    EXPECT_EQ(line_text(lines[4]).rfind("alpha", 0), 0u);
    EXPECT_EQ(line_text(lines[5]).rfind("charlie", 0), 0u);
}

TEST(TopRender, EveryLineFitsTheWidthAndTheScreenItsHeight) {
    Model model = three_buckets();
    ViewState view;
    view.message = "kvd refused a refresh: unavailable: shutting down";
    for (int width : {1, 10, 40, 80}) {
        for (int height : {1, 2, 5, 9, 30}) {
            auto lines = render(model, view, width, height, kNow);
            EXPECT_EQ(lines.size(), static_cast<std::size_t>(height));
            for (const auto& line : lines)
                EXPECT_LE(line_text(line).size(), static_cast<std::size_t>(width));
        }
    }
    EXPECT_TRUE(render(model, view, 0, 10, kNow).empty());
    auto lines = render(model, view, 80, 24, kNow);
    EXPECT_EQ(line_text(lines[1]), view.message);
    EXPECT_EQ(lines[1][0].style, Style::message);
}

TEST(TopRender, ManyBucketsScrollAndTheHandlersKeepTheirShare) {
    std::vector<Json> buckets;
    for (int i = 0; i < 100; ++i)
        buckets.push_back(bucket(fmt::format("b{:03}", i), 1000 + i, 1000, 0, 4096, 0));
    Model model(500ms);
    model.update(status(100), list_of(buckets), handlers_of({handler("audit", 1)}), t0);
    ViewState view;
    auto lines = render(model, view, 100, 30, kNow);
    std::string screen = screen_text(lines);
    // 27 lines for the panes: the handlers need 3, the buckets get 24, 22 of them rows.
    EXPECT_EQ(view.buckets.visible, 22u);
    EXPECT_EQ(line_text(lines[2]), "> BUCKETS 100  sorted by NAME, ascending  rows 1-22 of 100")
        << screen;
    EXPECT_EQ(line_text(lines[4]).rfind("b000", 0), 0u) << screen;
    EXPECT_EQ(line_text(lines[26]).rfind("  HANDLERS 1", 0), 0u) << screen;
    EXPECT_EQ(line_text(lines[28]).rfind("audit", 0), 0u) << screen;

    handle_key(view, kKeyPageDown);
    handle_key(view, kKeyDown);
    lines = render(model, view, 100, 30, kNow);
    EXPECT_EQ(line_text(lines[4]).rfind("b023", 0), 0u) << screen_text(lines);
    handle_key(view, kKeyEnd);
    lines = render(model, view, 100, 30, kNow);
    EXPECT_EQ(view.buckets.scroll, 78u);
    EXPECT_EQ(line_text(lines[25]).rfind("b099", 0), 0u) << screen_text(lines);
    EXPECT_NE(line_text(lines[2]).find("rows 79-100 of 100"), std::string::npos);
    handle_key(view, kKeyUp);
    handle_key(view, kKeyPageUp);
    render(model, view, 100, 30, kNow);
    EXPECT_EQ(view.buckets.scroll, 55u);
    handle_key(view, kKeyHome);
    EXPECT_EQ(view.buckets.scroll, 0u);
    handle_key(view, kKeyEnd);
    handle_key(view, 'm');  // a new order starts at its top
    EXPECT_EQ(view.buckets.scroll, 0u);
}

TEST(TopRender, EmptyPanesSaySo) {
    Model model(500ms);
    model.update(status(0), list_of({}), handlers_of({}), t0);
    ViewState view;
    std::string screen = screen_text(render(model, view, 80, 12, kNow));
    EXPECT_NE(screen.find("(no buckets)"), std::string::npos) << screen;
    EXPECT_NE(screen.find("(no handlers)"), std::string::npos) << screen;
}

// Without a terminal there is nothing to draw on: a usage error before anything is sent.
TEST(TopCommand, RefusesWithoutATerminalOrWithJson) {
    for (std::vector<const char*> args :
         {std::vector<const char*>{"kvctl", "--socket", "/nonexistent/kvd.sock", "top"},
          std::vector<const char*>{"kvctl", "--socket", "/nonexistent/kvd.sock", "--json",
                                   "top"}}) {
        std::ostringstream out, err;
        EXPECT_EQ(run(static_cast<int>(args.size()), args.data(), out, err), kExitUsage);
        EXPECT_EQ(out.str(), "");
        EXPECT_EQ(err.str().rfind("kvctl: top: ", 0), 0u) << err.str();
        EXPECT_EQ(err.str().find("cannot connect"), std::string::npos) << err.str();
    }
}

TEST(TopCommand, IntervalMustBeADurationOfAtLeast100ms) {
    for (const char* interval : {"50ms", "0s", "soon", "25h"}) {
        std::vector<const char*> args = {"kvctl", "top", "--interval", interval};
        std::ostringstream out, err;
        EXPECT_EQ(run(static_cast<int>(args.size()), args.data(), out, err), kExitUsage)
            << interval;
        EXPECT_NE(err.str().find("--interval"), std::string::npos) << err.str();
    }
}

}  // namespace
}  // namespace kvd::ctl::top
