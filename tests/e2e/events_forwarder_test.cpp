// The OTP tutorial's own registry test, with real processes: a Forwarder handler (a sync
// test_handler that appends every event to a file) sees `create` for a bucket with exactly
// the pid `lookup` gives, and `exit` for it with the reason that matches how it ended.
#include <signal.h>

#include <string>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

// The events in a handler's --out file so far (each line parsed; a line that is not JSON
// becomes a discarded value, which no event comparison matches).
std::vector<Json> read_events(const std::string& path) {
    std::vector<Json> events;
    for (const auto& line : read_lines(path)) events.push_back(Json::parse(line, nullptr, false));
    return events;
}

// The first event in `path` of `type` for `bucket`, or null.
Json find_event(const std::string& path, const std::string& type, const std::string& bucket) {
    for (const auto& e : read_events(path))
        if (e.is_object() && e.value("type", "") == type && e.value("bucket", "") == bucket)
            return e;
    return nullptr;
}

class EventsForwarder : public ::testing::Test {
  protected:
    void SetUp() override {
        out_ = dir_.file("forwarder.out");
        Json command = {test_handler_path(), "--out", out_, "ack"};
        std::string config =
            "[[handler]]\nname = \"forwarder\"\nmode = \"sync\"\ncommand = " + command.dump() +
            "\n";
        KvdOptions options;
        options.config = config;
        kvd_ = std::make_unique<KvdProcess>(dir_, options);
        ASSERT_TRUE(kvd_->ready());
        client_ = std::make_unique<Client>(kvd_->socket_path());
        ASSERT_TRUE(client_->connected()) << client_->connect_error();
    }

    // Creates `bucket`, checks that `lookup` agrees on its pid, and returns it (-1 on failure).
    pid_t create(const std::string& bucket) {
        Json reply = client_->call("create", {{"bucket", bucket}});
        EXPECT_TRUE(is_ok(reply));
        pid_t pid = pid_in(reply);
        EXPECT_GT(pid, 0) << reply.dump();
        Json found = client_->call("lookup", {{"bucket", bucket}});
        EXPECT_TRUE(is_ok(found));
        EXPECT_EQ(pid_in(found), pid) << "create and lookup disagree on the pid";
        return pid;
    }

    // One request answered by the bucket: it is past its start-up and has its SIGTERM handler
    // installed (a SIGTERM before that would end it by the signal).
    void wait_serving(const std::string& bucket) {
        ASSERT_TRUE(
            is_ok(client_->call("put", {{"bucket", bucket}, {"key", "k"}, {"value", "v"}})));
    }

    // Waits for the exit event of `bucket` in the forwarder's file and returns it.
    Json wait_exit_event(const std::string& bucket) {
        Json ev;
        EXPECT_TRUE(wait_until(
            [&] {
                ev = find_event(out_, "exit", bucket);
                return !ev.is_null();
            },
            10s, "the forwarder to receive the exit of " + bucket));
        return ev;
    }

    TempDir dir_;
    std::string out_;
    std::unique_ptr<KvdProcess> kvd_;
    std::unique_ptr<Client> client_;
};

TEST_F(EventsForwarder, CreateThenExitWhenKilledFromOutside) {
    pid_t pid = create("shopping");
    ASSERT_GT(pid, 0);

    // `create` replies only after every sync handler acked the event, so it is there already.
    Json created = find_event(out_, "create", "shopping");
    ASSERT_TRUE(created.is_object()) << read_file(out_);
    EXPECT_EQ(created["pid"], pid);

    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    Json exited = wait_exit_event("shopping");
    ASSERT_TRUE(exited.is_object()) << read_file(out_);
    EXPECT_EQ(exited["pid"], pid);
    EXPECT_TRUE(exited["code"].is_null()) << exited.dump();
    EXPECT_EQ(exited["signal"], "SIGKILL");
    EXPECT_EQ(exited["reason"], "killed");
    EXPECT_LT(created["seq"].get<uint64_t>(), exited["seq"].get<uint64_t>());

    // The exit event is published after the bucket left the registry.
    EXPECT_TRUE(is_error(client_->call("lookup", {{"bucket", "shopping"}}), "not_found"));
}

TEST_F(EventsForwarder, StopGivesReasonStopped) {
    pid_t pid = create("shopping");
    ASSERT_GT(pid, 0);
    ASSERT_NO_FATAL_FAILURE(wait_serving("shopping"));

    Json reply = client_->call("stop", {{"bucket", "shopping"}});
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(reply["result"]["reason"], "stopped") << reply.dump();
    EXPECT_EQ(pid_in(reply), pid);

    // Like `create`, `stop` replies after the sync handler acked the exit event.
    Json exited = find_event(out_, "exit", "shopping");
    ASSERT_TRUE(exited.is_object()) << read_file(out_);
    EXPECT_EQ(exited["pid"], pid);
    EXPECT_EQ(exited["reason"], "stopped");
    // kv-bucket was serving (see wait_serving), so it ended by itself on SIGTERM.
    EXPECT_EQ(exited["code"], 0) << exited.dump();
    EXPECT_TRUE(exited["signal"].is_null()) << exited.dump();
    EXPECT_FALSE(process_alive(pid));
}

// `kill` with SIGTERM: the bucket handles the signal and exits 0, but the signal came from a
// `kill` op, not from the bucket itself: reason `killed`, with the code it exited with.
TEST_F(EventsForwarder, BucketEndedByAKillOpSignalItHandlesGivesReasonKilled) {
    pid_t pid = create("shopping");
    ASSERT_GT(pid, 0);
    ASSERT_NO_FATAL_FAILURE(wait_serving("shopping"));

    ASSERT_TRUE(is_ok(client_->call("kill", {{"bucket", "shopping"}, {"signal", "SIGTERM"}})));
    Json exited = wait_exit_event("shopping");
    ASSERT_TRUE(exited.is_object()) << read_file(out_);
    EXPECT_EQ(exited["pid"], pid);
    EXPECT_EQ(exited["code"], 0) << exited.dump();
    EXPECT_TRUE(exited["signal"].is_null()) << exited.dump();
    EXPECT_EQ(exited["reason"], "killed");
}

// `kill` with the default signal (SIGKILL) is a signal the bucket did not ask for.
TEST_F(EventsForwarder, KillOpWithSigkillGivesReasonKilled) {
    pid_t pid = create("shopping");
    ASSERT_GT(pid, 0);

    ASSERT_TRUE(is_ok(client_->call("kill", {{"bucket", "shopping"}})));
    Json exited = wait_exit_event("shopping");
    ASSERT_TRUE(exited.is_object()) << read_file(out_);
    EXPECT_EQ(exited["pid"], pid);
    EXPECT_TRUE(exited["code"].is_null()) << exited.dump();
    EXPECT_EQ(exited["signal"], "SIGKILL");
    EXPECT_EQ(exited["reason"], "killed");
}

// The same name can be created again after an exit, and the new incarnation's events carry
// its own pid, in order: create(old) < exit(old) < create(new).
TEST_F(EventsForwarder, RecreatedBucketGetsFreshEvents) {
    pid_t first = create("shopping");
    ASSERT_GT(first, 0);
    ASSERT_TRUE(is_ok(client_->call("stop", {{"bucket", "shopping"}})));
    pid_t second = create("shopping");
    ASSERT_GT(second, 0);
    EXPECT_NE(first, second);

    std::vector<std::pair<std::string, Json>> seen;
    for (const auto& e : read_events(out_)) seen.emplace_back(e.value("type", ""), e["pid"]);
    ASSERT_EQ(seen.size(), 3u) << read_file(out_);
    EXPECT_EQ(seen[0], (std::pair<std::string, Json>{"create", first}));
    EXPECT_EQ(seen[1], (std::pair<std::string, Json>{"exit", first}));
    EXPECT_EQ(seen[2], (std::pair<std::string, Json>{"create", second}));
}

}  // namespace
}  // namespace kvd::test
