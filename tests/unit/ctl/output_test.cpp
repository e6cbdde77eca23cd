// kvctl's output: the human text and JSON for every command, and for events.
#include "ctl/output.hpp"

#include <gtest/gtest.h>

namespace kvd::ctl {
namespace {

TEST(Output, JsonDocumentIsOneLine) {
    EXPECT_EQ(json_document(Json{{"bucket", "a"}, {"pid", 1}}), "{\"bucket\":\"a\",\"pid\":1}\n");
    EXPECT_EQ(json_document(Json::array({1, 2})), "[1,2]\n");
}

TEST(Output, ErrorLine) {
    EXPECT_EQ(error_line({"not_found", "no bucket named 'nope'"}),
              "kvctl: not_found: no bucket named 'nope'\n");
}

TEST(Output, Ping) {
    EXPECT_EQ(human_ping({{"version", "0.1.0"}, {"pid", 4242}}), "kvd 0.1.0 pid 4242\n");
}

TEST(Output, Status) {
    Json r = {
        {"version", "0.1.0"},     {"pid", 4242},   {"boot", "0123456789abcdef0123456789abcdef"},
        {"uptime_ms", 3'723'000}, {"buckets", 3},  {"handlers", 1},
        {"subscriptions", 0},     {"last_seq", 17}};
    EXPECT_EQ(human_status(r),
              "version:        0.1.0\n"
              "pid:            4242\n"
              "boot:           0123456789abcdef0123456789abcdef\n"
              "uptime:         1h 2m 3s\n"
              "buckets:        3\n"
              "handlers:       1\n"
              "subscriptions:  0\n"
              "last seq:       17\n");
}

TEST(Output, StatusShowsHowTreesEnd) {
    Json r = {{"version", "0.1.0"}, {"pid", 1},
              {"boot", "b"},        {"uptime_ms", 0},
              {"buckets", 0},       {"handlers", 0},
              {"subscriptions", 0}, {"last_seq", 0},
              {"tree", "cgroup"},   {"limits", "memory=cgroup tasks=cgroup cpu=none"}};
    std::string out = human_status(r);
    EXPECT_NE(out.find("process trees:  cgroup\nlimits:         memory=cgroup tasks=cgroup "
                       "cpu=none\n"),
              std::string::npos)
        << out;
}

TEST(Output, Uptime) {
    EXPECT_EQ(human_uptime(0), "0ms");
    EXPECT_EQ(human_uptime(850), "850ms");
    EXPECT_EQ(human_uptime(42'900), "42s");
    EXPECT_EQ(human_uptime(185'000), "3m 5s");
    EXPECT_EQ(human_uptime(7'207'000), "2h 0m 7s");
    EXPECT_EQ(human_uptime(3 * 86'400'000LL + 4 * 3'600'000 + 10 * 60'000 + 5000), "3d 4h 10m");
}

TEST(Output, Create) {
    EXPECT_EQ(human_create({{"bucket", "shopping"}, {"pid", 4242}, {"created", true}}),
              "created shopping (pid 4242)\n");
    EXPECT_EQ(human_create({{"bucket", "shopping"}, {"pid", 4242}, {"created", false}}),
              "shopping already exists (pid 4242)\n");
}

TEST(Output, Lookup) {
    EXPECT_EQ(human_lookup({{"bucket", "shopping"}, {"pid", 4242}}), "shopping pid 4242\n");
}

TEST(Output, ListIsAnAlignedTable) {
    Json r = {{"buckets",
               {{{"bucket", "shopping"}, {"pid", 4242}, {"started", "2026-11-23T19:40:00.123456Z"}},
                {{"bucket", "a"}, {"pid", 7}, {"started", "2026-11-23T19:41:00.000001Z"}}}}};
    EXPECT_EQ(human_list(r),
              "BUCKET    PID   STARTED\n"
              "shopping  4242  2026-11-23T19:40:00.123456Z\n"
              "a         7     2026-11-23T19:41:00.000001Z\n");
    EXPECT_EQ(human_list({{"buckets", Json::array()}}), "no buckets\n");
}

TEST(Output, StopAndKill) {
    EXPECT_EQ(human_stop("shopping", Json::object()), "stopped shopping\n");
    EXPECT_EQ(human_stop("shopping", {{"bucket", "shopping"}, {"pid", 9}}),
              "stopped shopping (pid 9)\n");
    EXPECT_EQ(human_stop("shopping", {{"bucket", "shopping"},
                                      {"pid", 9},
                                      {"code", 0},
                                      {"signal", nullptr},
                                      {"reason", "stopped"}}),
              "stopped shopping (pid 9, exit code 0)\n");
    EXPECT_EQ(human_stop("shopping", {{"bucket", "shopping"},
                                      {"pid", 9},
                                      {"code", nullptr},
                                      {"signal", "SIGKILL"},
                                      {"reason", "stopped"}}),
              "stopped shopping (pid 9, signal SIGKILL)\n");
    EXPECT_EQ(human_kill("shopping", "SIGTERM", Json::object()), "sent SIGTERM to shopping\n");
    EXPECT_EQ(human_kill("shopping", "SIGTERM", {{"pid", 9}}),
              "sent SIGTERM to shopping (pid 9)\n");
}

TEST(Output, KeyValueCommands) {
    EXPECT_EQ(human_put(Json::object()), "");
    EXPECT_EQ(human_get({{"value", "two litres"}}), "two litres\n");
    EXPECT_EQ(human_get({{"value", ""}}), "\n");
    EXPECT_EQ(human_delete("shopping", "milk", {{"deleted", true}}),
              "deleted milk from shopping\n");
    EXPECT_EQ(human_delete("shopping", "milk", {{"deleted", false}}), "shopping has no key milk\n");
    EXPECT_EQ(human_keys({{"keys", {"eggs", "milk"}}}), "eggs\nmilk\n");
    EXPECT_EQ(human_keys({{"keys", Json::array()}}), "");
}

TEST(Output, Notify) {
    EXPECT_EQ(human_notify("hello", Json::object()), "published hello\n");
    EXPECT_EQ(human_notify("hello", {{"seq", 3}}), "published hello (seq 3)\n");
}

TEST(Output, HandlersIsAnAlignedTable) {
    Json r = {{"handlers",
               {{{"name", "audit"},
                 {"pid", 100},
                 {"state", "running"},
                 {"mode", "sync"},
                 {"delivered", 12},
                 {"acked", 12},
                 {"dropped", 0},
                 {"restarts", 1},
                 {"queued", 0}},
                {{"name", "metrics-long"},
                 {"pid", nullptr},
                 {"state", "backoff"},
                 {"mode", "async"},
                 {"delivered", 3},
                 {"acked", 0},
                 {"dropped", 17},
                 {"restarts", 4},
                 {"queued", 250}}}}};
    EXPECT_EQ(human_handlers(r),
              "NAME          PID  STATE    MODE   DELIVERED  ACKED  DROPPED  RESTARTS  QUEUED\n"
              "audit         100  running  sync   12         12     0        1         0\n"
              "metrics-long  -    backoff  async  3          0      17       4         250\n");
    EXPECT_EQ(human_handlers({{"handlers", Json::array()}}), "no handlers\n");
}

TEST(Output, Reload) {
    EXPECT_EQ(
        human_reload({{"started", {"a", "b"}}, {"stopped", Json::array()}, {"restarted", {"c"}}}),
        "started:   a, b\n"
        "stopped:   (none)\n"
        "restarted: c\n");
}

TEST(Output, Events) {
    EXPECT_EQ(
        human_event(
            R"({"seq":1,"type":"create","bucket":"shopping","pid":4242,"time":"2026-11-23T19:40:00.123456Z"})"),
        "#1 create shopping pid=4242 2026-11-23T19:40:00.123456Z\n");
    EXPECT_EQ(
        human_event(
            R"({"seq":2,"type":"exit","bucket":"shopping","pid":4242,"code":null,"signal":"SIGKILL","reason":"killed","time":"T"})"),
        "#2 exit shopping pid=4242 signal=SIGKILL reason=killed T\n");
    EXPECT_EQ(
        human_event(
            R"({"seq":5,"type":"exit","bucket":"b","pid":9,"code":0,"signal":null,"reason":"stopped","time":"T"})"),
        "#5 exit b pid=9 code=0 reason=stopped T\n");
    EXPECT_EQ(human_event(R"({"seq":3,"type":"hello","data":{"world":true},"time":"T"})"),
              "#3 hello {\"world\":true} T\n");
    EXPECT_EQ(human_event(R"({"seq":4,"type":"dropped","count":17,"time":"T"})"),
              "#4 dropped count=17 T\n");
    EXPECT_EQ(
        human_event(
            R"({"seq":6,"type":"create","bucket":"w","pid":7,"kind":"worker","restart":2,"time":"T"})"),
        "#6 create w pid=7 kind=worker restart=2 T\n");
    EXPECT_EQ(human_event(R"({"seq":7,"type":"failed","bucket":"w","restarts":5,"time":"T"})"),
              "#7 failed w restarts=5 T\n");
    EXPECT_EQ(human_event("not json"), "not json\n");
}

TEST(Output, OddResultsDoNotThrow) {
    // The text comes from another program: wrong types and missing fields print as "-".
    Json odd = {{"bucket", 5}, {"pid", "x"}, {"buckets", 3}, {"handlers", {1, "two"}}, {"keys", 1}};
    EXPECT_EQ(human_lookup(odd), "5 pid x\n");
    EXPECT_EQ(human_ping(Json::array()), "kvd - pid -\n");
    EXPECT_EQ(human_list(odd), "no buckets\n");
    EXPECT_NO_THROW(human_handlers(odd));
    EXPECT_NO_THROW(human_status(odd));
    EXPECT_EQ(human_keys(odd), "");
    EXPECT_EQ(human_reload(nullptr), "started:   (none)\nstopped:   (none)\nrestarted: (none)\n");
    EXPECT_EQ(human_event("[1,2]"), "[1,2]\n");
}

// Event lines nlohmann cannot hold, or would recurse too deep to print, are shown as they came.
TEST(Output, OddEventLinesAreShownAsTheyCame) {
    std::string overflow = R"({"seq":1,"type":"t","data":1e999,"time":"T"})";
    EXPECT_EQ(human_event(overflow), overflow + "\n");
    std::string deep = R"({"seq":1,"type":"t","data":)" + std::string(100'000, '[') +
                       std::string(100'000, ']') + "}";
    EXPECT_TRUE(parse_event(deep).is_discarded());
    EXPECT_EQ(human_event(deep), deep + "\n");
}

}  // namespace
}  // namespace kvd::ctl
