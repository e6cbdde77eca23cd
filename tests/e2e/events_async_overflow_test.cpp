// An async handler that stops reading (GenEvent.notify to a stuck handler): kvd keeps serving,
// keeps at most `queue` events it has not read (written into its socket or not), drops the
// oldest not yet written beyond that, and once the handler reads again sends it one `dropped`
// event with the count, then the rest in order.
#include <string>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

constexpr int kBulkEvents = 3000;
constexpr std::size_t kQueue = 10;

class EventsAsyncOverflow : public ::testing::Test {
  protected:
    void SetUp() override {
        out_ = dir_.file("stuck.out");
        gate_ = dir_.file("GO");
        // The shell holds the handler's socket without reading it until GO exists, then
        // becomes test_handler (same pid, same socket), which reads everything.
        std::string script = "while [ ! -e '" + gate_ + "' ]; do sleep 0.02; done; exec '" +
                             test_handler_path() + "' --out '" + out_ + "' async";
        Json command = {"/bin/sh", "-c", script};
        KvdOptions options;
        options.config =
            "[[handler]]\nname = \"stuck\"\nmode = \"async\"\nqueue = " + std::to_string(kQueue) +
            "\ncommand = " + command.dump() + "\n";
        kvd_ = std::make_unique<KvdProcess>(dir_, options);
        ASSERT_TRUE(kvd_->ready());
        client_ = std::make_unique<Client>(kvd_->socket_path());
        ASSERT_TRUE(client_->connected()) << client_->connect_error();
    }

    Json stuck_info() { return handler_info(*client_, "stuck"); }

    TempDir dir_;
    std::string out_, gate_;
    std::unique_ptr<KvdProcess> kvd_;
    std::unique_ptr<Client> client_;
};

TEST_F(EventsAsyncOverflow, StuckHandlerLosesTheOldestAndGetsOneDroppedEvent) {
    // 3000 events of about 1 KB: 3 MB, far more than the socket buffer (~200 KB) and the
    // bytes kvd lets wait in its own write buffer (256 KB) hold.
    const std::string payload(1000, 'x');
    constexpr int kBatch = 250;
    for (int sent = 0; sent < kBulkEvents; sent += kBatch) {
        for (int i = sent; i < sent + kBatch; ++i)
            ASSERT_TRUE(client_->send_json({{"id", i},
                                            {"op", "notify"},
                                            {"type", "bulk"},
                                            {"data", {{"i", i}, {"pad", payload}}}}));
        // Every notify is answered while the handler reads nothing: it never waits on it.
        for (int i = sent; i < sent + kBatch; ++i) {
            auto reply = client_->read_json(10s);
            ASSERT_TRUE(reply) << "no reply to notify " << i;
            ASSERT_EQ((*reply)["id"], i);
            ASSERT_TRUE(is_ok(*reply));
        }
    }

    // kvd stays responsive to everyone while the handler is stuck.
    Client other(kvd_->socket_path());
    EXPECT_TRUE(is_ok(other.call("ping", {}, 5s)));
    EXPECT_TRUE(is_ok(other.call("create", {{"bucket", "still-serving"}}, 5s)));
    EXPECT_TRUE(is_ok(other.call("stop", {{"bucket", "still-serving"}}, 5s)));
    const uint64_t last_seq = kBulkEvents + 2;  // the bulk, the create and the exit

    Json stuck = stuck_info();
    ASSERT_TRUE(stuck.contains("dropped")) << "no handler named stuck";
    EXPECT_GT(stuck["dropped"].get<uint64_t>(), 0u) << stuck.dump();
    EXPECT_LE(stuck["queued"].get<uint64_t>(), kQueue) << stuck.dump();
    const uint64_t dropped = stuck["dropped"];

    dir_.write_file("GO", "");
    ASSERT_TRUE(wait_until(
        [&] {
            auto lines = read_lines(out_);
            if (lines.empty()) return false;
            Json last = Json::parse(lines.back(), nullptr, false);
            return last.is_object() && last.value("seq", uint64_t{0}) == last_seq;
        },
        20s, "the handler to read up to the last event"));

    // What it got: 1..k written before it got stuck, one `dropped` standing for k+1..d (its seq
    // is d, the newest event it stands for), then d+1..last_seq: at most `queue` in all.
    auto lines = read_lines(out_);
    std::vector<Json> events;
    for (const auto& line : lines) {
        Json e = Json::parse(line, nullptr, false);
        ASSERT_TRUE(e.is_object()) << line;
        events.push_back(e);
    }
    std::size_t at = events.size();
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (events[i]["type"] == "dropped") {
            ASSERT_EQ(at, events.size()) << "more than one dropped event";
            at = i;
        }
    }
    ASSERT_LT(at, events.size()) << "no dropped event";
    const Json& d = events[at];
    EXPECT_EQ(d["count"], dropped) << d.dump();
    for (std::size_t i = 0; i < at; ++i)
        ASSERT_EQ(events[i]["seq"], i + 1) << "a gap before the dropped event: " << lines[i];
    EXPECT_EQ(d["seq"].get<uint64_t>(), at + dropped) << d.dump();
    std::size_t after = events.size() - at - 1;
    EXPECT_LE(at + after, kQueue);
    for (std::size_t i = at + 1; i < events.size(); ++i)
        ASSERT_EQ(events[i]["seq"], d["seq"].get<uint64_t>() + (i - at)) << lines[i];
    EXPECT_EQ(at + dropped + after, last_seq);

    // The counters agree, and the handler is caught up.
    ASSERT_TRUE(wait_until([&] { return stuck_info().value("queued", 1) == 0; }, 10s,
                           "the handler's queue to empty"));
    stuck = stuck_info();
    EXPECT_EQ(stuck["dropped"], dropped);
    EXPECT_EQ(stuck["delivered"].get<uint64_t>() + dropped, last_seq) << stuck.dump();

    // Caught up, it gets new events directly, without another dropped event.
    ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "after"}})));
    ASSERT_TRUE(wait_until([&] { return read_lines(out_).size() == events.size() + 1; }, 10s,
                           "the handler to get the next event"));
    Json next = Json::parse(read_lines(out_).back());
    EXPECT_EQ(next["type"], "after");
    EXPECT_EQ(next["seq"], last_seq + 1);
}

// The same for an async subscriber that does not read: kvd keeps its queue bounded (room for
// the whole history ring, at least 1000 events not yet read), the publisher never waits, and
// the subscriber later gets one `dropped` event in place of what it lost.
TEST(EventsAsyncOverflowSubscriber, SlowSubscriberGetsOneDroppedEvent) {
    TempDir dir;
    KvdOptions options;
    options.config = "[daemon]\nevent_history = 20\n";  // a subscriber's queue: 1000
    KvdProcess kvd(dir, options);
    ASSERT_TRUE(kvd.ready());
    Client sub(kvd.socket_path());
    ASSERT_TRUE(is_ok(sub.call("subscribe")));

    Client publisher(kvd.socket_path());
    const std::string payload(1000, 'y');
    constexpr int kBatch = 250;
    for (int sent = 0; sent < kBulkEvents; sent += kBatch) {
        std::string batch;
        for (int i = sent; i < sent + kBatch; ++i)
            batch += Json{{"id", i}, {"op", "notify"}, {"type", "bulk"}, {"data", payload}}.dump() +
                     "\n";
        ASSERT_TRUE(publisher.send_raw(batch));
        for (int i = sent; i < sent + kBatch; ++i) {
            auto reply = publisher.read_json(10s);
            ASSERT_TRUE(reply && is_ok(*reply)) << "notify " << i;
        }
    }
    EXPECT_TRUE(is_ok(publisher.call("ping", {}, 5s)));

    // Now read everything: 1..k, one dropped standing for k+1..d, then d+1..kBulkEvents.
    std::vector<Json> events;
    while (events.empty() || events.back().value("seq", uint64_t{0}) < uint64_t{kBulkEvents}) {
        auto e = sub.read_json(10s);
        ASSERT_TRUE(e) << "the stream stopped after " << events.size() << " events";
        events.push_back(*e);
    }
    std::size_t at = events.size();
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (events[i]["type"] == "dropped") {
            ASSERT_EQ(at, events.size()) << "more than one dropped event";
            at = i;
        }
    }
    ASSERT_LT(at, events.size()) << "no dropped event after " << kBulkEvents << " unread events";
    uint64_t count = events[at]["count"];
    EXPECT_GT(count, 0u);
    for (std::size_t i = 0; i < at; ++i) ASSERT_EQ(events[i]["seq"], i + 1);
    EXPECT_EQ(events[at]["seq"].get<uint64_t>(), at + count) << events[at].dump();
    for (std::size_t i = at + 1; i < events.size(); ++i)
        ASSERT_EQ(events[i]["seq"], events[at]["seq"].get<uint64_t>() + (i - at));
    EXPECT_EQ(events.size() - 1, 1000u) << "the subscriber's queue did not hold 1000 events";
}

}  // namespace
}  // namespace kvd::test
