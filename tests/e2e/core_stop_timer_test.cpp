// A stop's SIGKILL timer runs from the SIGTERM, not from the `stop` request: a bucket still
// answering requests sent before the stop is not killed for the time that takes. Each
// bucket here is frozen with SIGSTOP, so what kvd does does not depend on how loaded the
// machine is.
#include <csignal>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

class StopTimer : public KvdTest {
  protected:
    KvdOptions options() override {
        KvdOptions o;
        // Long enough that the requests below never time out by themselves.
        o.config = "[bucket]\nrequest_timeout = \"120s\"\n";
        return o;
    }
};

TEST_F(StopTimer, RunsFromTheSigtermNotFromTheStop) {
    pid_t pid = create("b");
    ASSERT_GT(pid, 0);
    ASSERT_TRUE(is_ok(call("keys", {{"bucket", "b"}})));
    auto c = connect();
    ASSERT_TRUE(c->connected());
    ASSERT_TRUE(freeze(pid));
    // A put the frozen bucket cannot answer yet, then a stop whose SIGKILL timeout is short
    // against the freeze below, yet long enough for a bucket to exit after its SIGTERM (a
    // sanitized one checks for leaks as it exits).
    const auto kill_after = scaled(1000ms);
    ASSERT_TRUE(
        c->send_json({{"id", 1}, {"op", "put"}, {"bucket", "b"}, {"key", "k"}, {"value", "v"}}));
    ASSERT_TRUE(c->send_json(
        {{"id", 2}, {"op", "stop"}, {"bucket", "b"}, {"timeout_ms", kill_after.count()}}));
    // Three times the stop's timeout (read_json scales its wait as scaled() does): were the
    // timer running, the bucket would be SIGKILLed by now and both replies would be here. It
    // waits for its put to be answered instead.
    EXPECT_FALSE(c->read_json(3000ms).has_value()) << "kvd answered while the bucket is frozen";
    EXPECT_TRUE(process_alive(pid));
    ASSERT_EQ(::kill(pid, SIGCONT), 0);
    auto put = c->read_json(30s);
    ASSERT_TRUE(put.has_value());
    EXPECT_TRUE(is_ok(*put));
    auto stop = c->read_json(30s);
    ASSERT_TRUE(stop.has_value());
    ASSERT_TRUE(is_ok(*stop));
    EXPECT_EQ((*stop)["result"]["reason"], "stopped");
    EXPECT_NE((*stop)["result"]["signal"], "SIGKILL") << stop->dump();
}

TEST_F(StopTimer, StopOfABucketThatNeverAnswersStillEnds) {
    TempDir dir;
    KvdOptions o;
    o.config = "[bucket]\nrequest_timeout = \"300ms\"\n";
    KvdProcess kvd(dir, o);
    ASSERT_TRUE(kvd.ready());
    Client c(kvd.socket_path());
    Json created = c.call("create", {{"bucket", "b"}});
    ASSERT_TRUE(is_ok(created));
    pid_t pid = pid_in(created);
    // An answer proves kv-bucket's SIGTERM handler is in place (before that, a SIGTERM would
    // end even a stopped process).
    ASSERT_TRUE(is_ok(c.call("keys", {{"bucket", "b"}})));
    ASSERT_TRUE(freeze(pid));
    ASSERT_TRUE(c.send_json({{"id", 1}, {"op", "get"}, {"bucket", "b"}, {"key", "k"}}));
    ASSERT_TRUE(c.send_json({{"id", 2}, {"op", "stop"}, {"bucket", "b"}, {"timeout_ms", 100}}));
    // The get times out; then SIGTERM (the frozen bucket cannot act on it), SIGKILL.
    auto get = c.read_json(30s);
    ASSERT_TRUE(get.has_value());
    EXPECT_TRUE(is_error(*get, "timeout"));
    auto stop = c.read_json(30s);
    ASSERT_TRUE(stop.has_value());
    ASSERT_TRUE(is_ok(*stop));
    EXPECT_EQ((*stop)["result"]["reason"], "stopped");
    EXPECT_EQ((*stop)["result"]["signal"], "SIGKILL");
    EXPECT_FALSE(process_alive(pid));
}

}  // namespace
}  // namespace kvd::test
