// An async receiver keeps at most `queue` events its peer has not read, counting those kvd
// already wrote into the socket, and at most backlog_bytes of them (16 MiB by default; an
// async subscriber's bound is at least event_history_bytes, 32 MiB, so that a replay of the
// whole history fits). Past either bound the oldest not yet written is dropped, and once the peer
// reads again it gets one `dropped` event in place of them.
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

constexpr std::size_t kAsyncPayload = 1'000'000;

// The events of an async receiver's stream: where the one `dropped` event is, and checks on
// the seqs around it.
struct Stream {
    std::vector<Json> events;
    std::size_t dropped_at = 0;  // index of the `dropped` event
};

::testing::AssertionResult one_dropped_event(const std::vector<Json>& events, Stream& out) {
    out.events = events;
    out.dropped_at = events.size();
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (events[i].value("type", "") != "dropped") continue;
        if (out.dropped_at != events.size())
            return ::testing::AssertionFailure() << "more than one dropped event";
        out.dropped_at = i;
    }
    if (out.dropped_at == events.size()) return ::testing::AssertionFailure() << "no dropped event";
    // Before it: 1..k; it stands for k+1..d (its seq is d); after it: d+1, d+2, …
    for (std::size_t i = 0; i < out.dropped_at; ++i)
        if (events[i]["seq"] != i + 1)
            return ::testing::AssertionFailure()
                   << "a gap before the dropped event: " << events[i]["seq"];
    const Json& d = events[out.dropped_at];
    if (d["seq"] != out.dropped_at + d["count"].get<uint64_t>())
        return ::testing::AssertionFailure()
               << "dropped event " << d.dump() << " after " << out.dropped_at << " events";
    for (std::size_t i = out.dropped_at + 1; i < events.size(); ++i)
        if (events[i]["seq"] != d["seq"].get<uint64_t>() + (i - out.dropped_at))
            return ::testing::AssertionFailure()
                   << "a gap after the dropped event: " << events[i]["seq"];
    return ::testing::AssertionSuccess();
}

class BoundsAsyncHandler : public ::testing::Test {
  protected:
    // An async handler that reads nothing until HOLD is removed.
    void start(const std::string& extra) {
        out_ = dir_.file("held.out");
        hold_ = dir_.write_file("HOLD", "");
        Json command = {test_handler_path(), "--out", out_, "--hold", hold_, "async"};
        KvdOptions options;
        options.config = "[[handler]]\nname = \"held\"\nmode = \"async\"\n" + extra +
                         "command = " + command.dump() + "\n";
        kvd_ = std::make_unique<KvdProcess>(dir_, options);
        ASSERT_TRUE(kvd_->ready());
        client_ = std::make_unique<Client>(kvd_->socket_path());
        ASSERT_TRUE(client_->connected()) << client_->connect_error();
    }

    Json held() { return handler_info(*client_, "held"); }

    // Lets the handler read, and returns its stream once it has read up to `last_seq`.
    std::vector<Json> release_and_read(uint64_t last_seq) {
        EXPECT_EQ(::unlink(hold_.c_str()), 0);
        std::vector<Json> events;
        EXPECT_TRUE(wait_until(
            [&] {
                auto lines = read_lines(out_);
                if (lines.empty()) return false;
                Json last = Json::parse(lines.back(), nullptr, false);
                if (!last.is_object() || last.value("seq", uint64_t{0}) != last_seq) return false;
                events.clear();
                for (const auto& line : lines) events.push_back(Json::parse(line));
                return true;
            },
            30s, "the handler to read up to seq " + std::to_string(last_seq)));
        return events;
    }

    TempDir dir_;
    std::string out_, hold_;
    std::unique_ptr<KvdProcess> kvd_;
    std::unique_ptr<Client> client_;
};

// queue = 3 means 3 events not yet read, wherever they wait: not 3 in kvd plus as many as the
// socket buffer holds (hundreds of small ones).
TEST_F(BoundsAsyncHandler, QueueCountsEventsWrittenButNotRead) {
    ASSERT_NO_FATAL_FAILURE(start("queue = 3\n"));
    constexpr int kEvents = 20;
    for (int i = 1; i <= kEvents; ++i)
        ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "small"}, {"data", i}})));
    Json row = held();
    EXPECT_EQ(row["queued"], 3) << row.dump();
    EXPECT_EQ(row["dropped"], kEvents - 3) << row.dump();

    std::vector<Json> events = release_and_read(kEvents);
    Stream s;
    ASSERT_TRUE(one_dropped_event(events, s));
    EXPECT_EQ(events.size(), 4u) << "3 events and one dropped event";
    EXPECT_EQ(s.dropped_at, 3u);
    EXPECT_EQ(events[s.dropped_at]["count"], kEvents - 3);
    ASSERT_TRUE(wait_until([&] { return held().value("queued", 1) == 0; }, 10s,
                           "the handler's queue to be empty once it read everything"));
    EXPECT_EQ(held()["dropped"], kEvents - 3);
}

// 1 MB events: the handler's 1000-event queue would hold 1 GB; backlog_bytes keeps 16 of them.
TEST_F(BoundsAsyncHandler, BacklogBytesBoundTheQueue) {
    ASSERT_NO_FATAL_FAILURE(start(""));
    constexpr int kEvents = 40;
    for (int i = 1; i <= kEvents; ++i)
        ASSERT_TRUE(is_ok(
            client_->call("notify", {{"type", "big"}, {"data", std::string(kAsyncPayload, 'b')}})))
            << "notify " << i;
    Json row = held();
    ASSERT_TRUE(row.contains("queued")) << row.dump();
    const uint64_t queued = row["queued"], dropped = row["dropped"];
    EXPECT_LE(queued * kAsyncPayload, 16u * 1024 * 1024) << row.dump();
    EXPECT_GE(queued, 10u) << row.dump();
    EXPECT_EQ(queued + dropped, static_cast<uint64_t>(kEvents)) << row.dump();

    std::vector<Json> events = release_and_read(kEvents);
    Stream s;
    ASSERT_TRUE(one_dropped_event(events, s));
    EXPECT_EQ(events[s.dropped_at]["count"], dropped);
    EXPECT_EQ(events.size() - 1, queued);
}

// A subscriber that does not read: its queue holds 10,000 events by count, but only 32 MiB
// (event_history_bytes, more than backlog_bytes) of 1 MB ones.
TEST(BoundsAsyncSubscriber, BacklogBytesBoundTheQueue) {
    TempDir dir;
    KvdProcess kvd(dir);
    ASSERT_TRUE(kvd.ready());
    Client sub(kvd.socket_path());
    ASSERT_TRUE(is_ok(sub.call("subscribe")));
    Client publisher(kvd.socket_path());
    constexpr int kEvents = 48;
    for (int i = 1; i <= kEvents; ++i)
        ASSERT_TRUE(is_ok(
            publisher.call("notify", {{"type", "big"}, {"data", std::string(kAsyncPayload, 's')}})))
            << "notify " << i;

    std::vector<Json> events;
    while (events.empty() || events.back().value("seq", 0) < kEvents) {
        auto e = sub.read_json(20s);
        ASSERT_TRUE(e.has_value()) << "the stream stopped after " << events.size() << " events";
        events.push_back(*e);
    }
    Stream s;
    ASSERT_TRUE(one_dropped_event(events, s));
    const std::size_t kept = events.size() - 1;
    EXPECT_LE(kept * kAsyncPayload, 32u * 1024 * 1024) << kept << " events kept";
    EXPECT_GE(kept, 30u);
}

}  // namespace
}  // namespace kvd::test
