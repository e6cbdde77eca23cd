// A bucket process that dies while requests to it are in flight: each of them is answered
// `unavailable` (in order, one reply per request), the `exit` event says `killed`, the
// registry forgets the bucket, kvd keeps serving, and nothing of the bucket stays in kvd.
#include <signal.h>

#include <string>
#include <vector>

#include "tests/e2e/audited_kvd.hpp"

namespace kvd::test {
namespace {

class BucketFault : public AuditedKvdTest {
  protected:
    // The handler saw create then exit for `bucket` (pid `pid`), exit with `reason`, and all
    // of its events in seq order 1..N.
    void expect_create_then_exit(const std::string& bucket, pid_t pid, const std::string& reason) {
        ASSERT_TRUE(wait_until(
            [&] {
                for (const Json& e : events())
                    if (e.value("type", "") == "exit" && e.value("bucket", "") == bucket)
                        return true;
                return false;
            },
            10s, "the exit event of " + bucket));
        std::vector<Json> seen = events();
        for (std::size_t i = 0; i < seen.size(); ++i)
            EXPECT_EQ(seen[i]["seq"], i + 1) << read_file(out_);
        std::vector<std::string> kinds;
        for (const Json& e : seen) {
            if (e.value("bucket", "") != bucket) continue;
            kinds.push_back(e["type"]);
            EXPECT_EQ(e["pid"], pid) << e.dump();
            if (e["type"] == "exit") {
                EXPECT_EQ(e["reason"], reason) << e.dump();
                if (reason == "killed") {
                    EXPECT_EQ(e["signal"], "SIGKILL") << e.dump();
                }
            }
        }
        EXPECT_EQ(kinds, (std::vector<std::string>{"create", "exit"}));
    }
};

// The bucket is frozen so that every request is certainly in flight when it dies.
TEST_F(BucketFault, EveryRequestInFlightIsUnavailableWhenTheBucketDies) {
    Json created = client_->call("create", {{"bucket", "b"}});
    ASSERT_TRUE(is_ok(created));
    pid_t pid = pid_in(created);
    ASSERT_TRUE(is_ok(client_->call("put", {{"bucket", "b"}, {"key", "k"}, {"value", "v"}})));
    ASSERT_TRUE(freeze(pid));

    constexpr int kInFlight = 200;
    std::string burst;
    for (int i = 0; i < kInFlight; ++i) {
        const char* op = i % 3 == 0 ? "get" : i % 3 == 1 ? "put" : "keys";
        burst += Json{{"id", i}, {"op", op}, {"bucket", "b"}, {"key", "k"}, {"value", "w"}}.dump() +
                 "\n";
    }
    ASSERT_TRUE(client_->send_raw(burst));
    // A second client is served meanwhile.
    EXPECT_TRUE(is_ok(Client(kvd_->socket_path()).call("ping")));
    EXPECT_EQ(client_->read_line(100ms), std::nullopt) << "a frozen bucket cannot have answered";
    ASSERT_EQ(::kill(pid, SIGKILL), 0);

    for (int i = 0; i < kInFlight; ++i) {
        auto reply = client_->read_json(10s);
        ASSERT_TRUE(reply.has_value()) << "no reply for request " << i;
        EXPECT_EQ((*reply)["id"], i);
        EXPECT_TRUE(is_error(*reply, "unavailable")) << "request " << i;
        if (i == 0) {
            EXPECT_EQ((*reply)["error"]["message"], "bucket 'b' exited before answering");
        }
    }
    expect_create_then_exit("b", pid, "killed");
    EXPECT_TRUE(is_error(client_->call("lookup", {{"bucket", "b"}}), "not_found"));
    EXPECT_TRUE(is_error(client_->call("get", {{"bucket", "b"}, {"key", "k"}}), "not_found"));
    EXPECT_TRUE(is_ok(client_->call("ping")));
    EXPECT_TRUE(wait_footprint_back(kvd_->pid(), before_));
}

// Not frozen: the bucket dies somewhere in the middle of a pipelined stream of requests.
// Every request still gets exactly one reply, in order: answered while the bucket lived,
// `unavailable` for those caught in flight, `not_found` once it was gone.
TEST_F(BucketFault, DyingInTheMiddleOfAStreamOfRequests) {
    pid_t pid = pid_in(client_->call("create", {{"bucket", "b"}}));
    ASSERT_GT(pid, 0);
    ASSERT_TRUE(is_ok(client_->call("put", {{"bucket", "b"}, {"key", "k"}, {"value", "v"}})));
    constexpr int kRequests = 3000;
    std::string burst;
    for (int i = 0; i < kRequests; ++i)
        burst += Json{{"id", i}, {"op", "get"}, {"bucket", "b"}, {"key", "k"}}.dump() + "\n";
    ASSERT_TRUE(client_->send_raw(burst));
    // Kill it as soon as the first answers come back: the rest are on their way.
    auto first = client_->read_json(10s);
    ASSERT_TRUE(first.has_value());
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    EXPECT_EQ((*first)["id"], 0);
    EXPECT_TRUE(is_ok(*first));

    // Phases: 0 answered, 1 in flight when it died (unavailable), 2 gone (not_found).
    constexpr int answered = 0, in_flight = 1, gone = 2;
    int phase = answered;
    int counts[3] = {1, 0, 0};
    for (int i = 1; i < kRequests; ++i) {
        auto reply = client_->read_json(10s);
        ASSERT_TRUE(reply.has_value()) << "no reply for request " << i;
        ASSERT_EQ((*reply)["id"], i);
        // The phases only move forward: a dead bucket never answers again.
        int now = is_ok(*reply)                     ? answered
                  : is_error(*reply, "unavailable") ? in_flight
                  : is_error(*reply, "not_found")   ? gone
                                                    : -1;
        ASSERT_NE(now, -1) << reply->dump();
        ASSERT_GE(now, phase) << "request " << i << ": " << reply->dump();
        phase = now;
        ++counts[now];
    }
    EXPECT_EQ((*first)["result"]["value"], "v");
    RecordProperty("answered", counts[answered]);
    RecordProperty("unavailable", counts[in_flight]);
    RecordProperty("not_found", counts[gone]);
    expect_create_then_exit("b", pid, "killed");
    EXPECT_TRUE(is_ok(client_->call("ping")));
    EXPECT_TRUE(wait_footprint_back(kvd_->pid(), before_));
}

// A `stop` waiting for a bucket that is then killed from outside: the stop is answered with
// the exit, the exit is published once, and the reason is the truth as kvd knows it (it asked
// the bucket to stop).
TEST_F(BucketFault, KilledWhileAStopWaitsOnIt) {
    pid_t pid = pid_in(client_->call("create", {{"bucket", "b"}}));
    ASSERT_GT(pid, 0);
    // Once it answers, it handles SIGTERM itself: frozen, the SIGTERM then stays pending.
    ASSERT_TRUE(is_ok(client_->call("keys", {{"bucket", "b"}})));
    ASSERT_TRUE(freeze(pid));
    ASSERT_TRUE(client_->send_json(
        {{"id", "stop"}, {"op", "stop"}, {"bucket", "b"}, {"timeout_ms", 60000}}));
    EXPECT_EQ(client_->read_line(100ms), std::nullopt) << "stop replied before the exit";
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    auto reply = client_->read_json(10s);
    ASSERT_TRUE(reply.has_value()) << "stop was never answered";
    EXPECT_EQ((*reply)["id"], "stop");
    ASSERT_TRUE(is_ok(*reply));
    EXPECT_EQ((*reply)["result"]["signal"], "SIGKILL") << reply->dump();
    expect_create_then_exit("b", pid, "stopped");
    EXPECT_TRUE(is_ok(client_->call("ping")));
    EXPECT_TRUE(wait_footprint_back(kvd_->pid(), before_));
}

}  // namespace
}  // namespace kvd::test
