// Sync handlers are backpressure (GenEvent.sync_notify): an operation that publishes an event
// replies only after every sync handler acknowledged it. The tests check the order of things
// (the handler already wrote the event down when the reply arrives) and a lower bound on
// the time a slow handler costs, never an upper bound.
#include <chrono>
#include <string>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

using Clock = std::chrono::steady_clock;

// Lines of `path` that are events of `type` (and of `bucket`, if given).
std::size_t count_events(const std::string& path, const std::string& type,
                         const std::string& bucket = "") {
    std::size_t n = 0;
    for (const auto& line : read_lines(path)) {
        Json e = Json::parse(line, nullptr, false);
        if (!e.is_object() || e.value("type", "") != type) continue;
        if (!bucket.empty() && e.value("bucket", "") != bucket) continue;
        ++n;
    }
    return n;
}

class EventsBackpressure : public ::testing::Test {
  protected:
    void SetUp() override {
        slow_out_ = dir_.file("slow.out");
        // `slow 300` writes each event to its file, then waits 300 ms before acking it.
        Json slow = {test_handler_path(), "--out", slow_out_, "slow", "300"};
        std::string config =
            "[[handler]]\nname = \"slow\"\nmode = \"sync\"\ncommand = " + slow.dump() + "\n";
        KvdOptions options;
        options.config = config;
        kvd_ = std::make_unique<KvdProcess>(dir_, options);
        ASSERT_TRUE(kvd_->ready());
        client_ = std::make_unique<Client>(kvd_->socket_path());
        ASSERT_TRUE(client_->connected()) << client_->connect_error();
    }

    TempDir dir_;
    std::string slow_out_;
    std::unique_ptr<KvdProcess> kvd_;
    std::unique_ptr<Client> client_;
};

TEST_F(EventsBackpressure, CreateRepliesOnlyAfterTheSyncHandlerAcked) {
    auto start = Clock::now();
    Json reply = client_->call("create", {{"bucket", "a"}});
    auto took = Clock::now() - start;
    ASSERT_TRUE(is_ok(reply));
    // Read at once, without waiting: the handler wrote the line before it acked, and kvd
    // replied only after the ack.
    EXPECT_EQ(count_events(slow_out_, "create", "a"), 1u) << read_file(slow_out_);
    EXPECT_GE(took, 300ms) << "the reply did not wait for the slow handler's ack";
}

TEST_F(EventsBackpressure, StopAndSyncNotifyWaitToo) {
    ASSERT_TRUE(is_ok(client_->call("create", {{"bucket", "a"}})));

    auto start = Clock::now();
    ASSERT_TRUE(is_ok(client_->call("stop", {{"bucket", "a"}})));
    EXPECT_GE(Clock::now() - start, 300ms);
    EXPECT_EQ(count_events(slow_out_, "exit", "a"), 1u) << read_file(slow_out_);

    start = Clock::now();
    ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "t"}, {"sync", true}})));
    EXPECT_GE(Clock::now() - start, 300ms);
    EXPECT_EQ(count_events(slow_out_, "t"), 1u) << read_file(slow_out_);
}

// Pipelined creates: each reply is released by its own ack, in order, so when the reply for
// bucket i arrives the handler has written down the creates of buckets 0..i.
TEST_F(EventsBackpressure, PipelinedCreatesAreReleasedOneAckAtATime) {
    constexpr int kBuckets = 4;
    Client& c = *client_;
    for (int i = 0; i < kBuckets; ++i)
        ASSERT_TRUE(
            c.send_json({{"id", i}, {"op", "create"}, {"bucket", "p" + std::to_string(i)}}));
    for (int i = 0; i < kBuckets; ++i) {
        auto reply = c.read_json(10s);
        ASSERT_TRUE(reply) << "no reply for create p" << i;
        EXPECT_EQ((*reply)["id"], i);
        EXPECT_TRUE(is_ok(*reply));
        for (int j = 0; j <= i; ++j)
            EXPECT_EQ(count_events(slow_out_, "create", "p" + std::to_string(j)), 1u)
                << "reply " << i << " arrived before the handler got create p" << j << "\n"
                << read_file(slow_out_);
    }
}

// A handler that reads nothing until the file GO exists: what kvd does meanwhile cannot
// depend on the handler's acks, whatever the timing.
class EventsGatedSyncHandler : public ::testing::Test {
  protected:
    void SetUp() override {
        out_ = dir_.file("gated.out");
        gate_ = dir_.file("GO");
        std::string script = "while [ ! -e '" + gate_ + "' ]; do sleep 0.02; done; exec '" +
                             test_handler_path() + "' --out '" + out_ + "' ack";
        Json command = {"/bin/sh", "-c", script};
        KvdOptions options;
        options.config = "[[handler]]\nname = \"gated\"\nmode = \"sync\"\nack_timeout = \"60s\"\n" +
                         events_line() + "command = " + command.dump() + "\n";
        kvd_ = std::make_unique<KvdProcess>(dir_, options);
        ASSERT_TRUE(kvd_->ready());
        client_ = std::make_unique<Client>(kvd_->socket_path());
        ASSERT_TRUE(client_->connected()) << client_->connect_error();
    }

    // The handler's `events` filter, as a config line ("" for every type).
    virtual std::string events_line() { return ""; }
    void open_gate() { dir_.write_file("GO", ""); }

    TempDir dir_;
    std::string out_, gate_;
    std::unique_ptr<KvdProcess> kvd_;
    std::unique_ptr<Client> client_;
};

TEST_F(EventsGatedSyncHandler, PlainNotifyRepliesWithoutTheAckButCreateWaitsForIt) {
    Client& c = *client_;
    // Not sync: replies although the handler has not even read the event.
    ASSERT_TRUE(is_ok(c.call("notify", {{"type", "plain"}})));
    EXPECT_TRUE(read_lines(out_).empty());

    // A create waits for the ack of the notify before it (one event in flight per sync
    // handler), then for its own.
    ASSERT_TRUE(c.send_json({{"id", "c"}, {"op", "create"}, {"bucket", "a"}}));
    EXPECT_FALSE(c.read_line(200ms)) << "create replied before the sync handler acked";
    EXPECT_FALSE(c.eof());

    // Meanwhile kvd serves others, and the bucket is registered already: the create event
    // is published once `lookup` can find it.
    Client other(kvd_->socket_path());
    EXPECT_TRUE(is_ok(other.call("ping")));
    Json found = other.call("lookup", {{"bucket", "a"}});
    EXPECT_TRUE(is_ok(found));

    open_gate();
    auto reply = c.read_json(10s);
    ASSERT_TRUE(reply) << "no create reply after the handler started reading";
    EXPECT_TRUE(is_ok(*reply));
    EXPECT_EQ(pid_in(*reply), pid_in(found));
    EXPECT_EQ(count_events(out_, "plain"), 1u) << read_file(out_);
    EXPECT_EQ(count_events(out_, "create", "a"), 1u) << read_file(out_);
}

// A sync handler holds back only the events it subscribed to.
class EventsGatedExitOnlyHandler : public EventsGatedSyncHandler {
  protected:
    std::string events_line() override { return "events = [\"exit\"]\n"; }
};

TEST_F(EventsGatedExitOnlyHandler, CreateDoesNotWaitForAHandlerThatOnlyWantsExits) {
    Client& c = *client_;
    Json created = c.call("create", {{"bucket", "a"}});
    ASSERT_TRUE(is_ok(created)) << "create waited on a handler that does not want creates";
    ASSERT_TRUE(is_ok(c.call("notify", {{"type", "t"}, {"sync", true}})));

    // Its exit is another matter: stop replies only after the handler read and acked it.
    ASSERT_TRUE(c.send_json({{"id", "s"}, {"op", "stop"}, {"bucket", "a"}}));
    EXPECT_FALSE(c.read_line(200ms)) << "stop replied before the handler acked the exit";
    open_gate();
    auto stopped = c.read_json(10s);
    ASSERT_TRUE(stopped);
    EXPECT_TRUE(is_ok(*stopped));
    auto lines = read_lines(out_);
    ASSERT_EQ(lines.size(), 1u) << read_file(out_);
    Json e = Json::parse(lines[0]);
    EXPECT_EQ(e["type"], "exit");
    EXPECT_EQ(e["pid"], pid_in(created));
    EXPECT_EQ(e["seq"], 3);
}

}  // namespace
}  // namespace kvd::test
