// A request to a bucket that does not answer ends with `timeout` after [bucket]
// request_timeout; kvd keeps serving everyone else, and the bucket's late reply is not taken
// for the answer to a later request.
#include <csignal>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

class RequestTimeout : public KvdTest {
  protected:
    KvdOptions options() override {
        KvdOptions o;
        o.config = "[bucket]\nrequest_timeout = \"300ms\"\n";
        return o;
    }
};

TEST_F(RequestTimeout, AFrozenBucketsRequestEndsWithTimeout) {
    pid_t pid = create("b");
    ASSERT_GT(pid, 0);
    ASSERT_TRUE(is_ok(call("put", {{"bucket", "b"}, {"key", "k"}, {"value", "first"}})));
    ASSERT_TRUE(freeze(pid));
    Json get = call("get", {{"bucket", "b"}, {"key", "k"}}, 30s);
    EXPECT_TRUE(is_error(get, "timeout")) << get.dump();
    EXPECT_NE(get["error"]["message"].get<std::string>().find("'b'"), std::string::npos);
    // kvd itself goes on.
    EXPECT_TRUE(is_ok(call("ping")));
    EXPECT_TRUE(is_ok(call("create", {{"bucket", "other"}})));
    ASSERT_EQ(::kill(pid, SIGCONT), 0);
    // The late reply to the timed-out get ("first") is discarded: this put and get get
    // their own answers.
    ASSERT_TRUE(is_ok(call("put", {{"bucket", "b"}, {"key", "k"}, {"value", "second"}})));
    Json again = call("get", {{"bucket", "b"}, {"key", "k"}});
    ASSERT_TRUE(is_ok(again));
    EXPECT_EQ(again["result"]["value"], "second");
    EXPECT_EQ(lookup_pid("b"), pid);
}

// A reload's request_timeout applies to buckets already running.
TEST_F(RequestTimeout, AReloadAppliesToRunningBuckets) {
    dir_.write_file("kvd.toml", "[bucket]\nrequest_timeout = \"1h\"\n");
    ASSERT_TRUE(is_ok(call("reload")));
    pid_t pid = create("b");
    ASSERT_GT(pid, 0);
    dir_.write_file("kvd.toml", "[bucket]\nrequest_timeout = \"200ms\"\n");
    ASSERT_TRUE(is_ok(call("reload")));
    ASSERT_TRUE(freeze(pid));
    Json get = call("get", {{"bucket", "b"}, {"key", "k"}}, 30s);
    EXPECT_TRUE(is_error(get, "timeout")) << get.dump();
    EXPECT_NE(get["error"]["message"].get<std::string>().find("within 200ms ([bucket] "
                                                              "request_timeout)"),
              std::string::npos)
        << get.dump();
    ASSERT_EQ(::kill(pid, SIGCONT), 0);
}

TEST_F(RequestTimeout, KvctlExitsOneWithTheTimeout) {
    if (!kvctl_built()) GTEST_SKIP() << "kvctl is not built";
    pid_t pid = create("b");
    ASSERT_GT(pid, 0);
    ASSERT_TRUE(freeze(pid));
    RunResult r = run_kvctl({"--socket", kvd().socket_path(), "get", "b", "k"}, {}, 30s);
    ::kill(pid, SIGCONT);
    EXPECT_EQ(r.exit_code, 1) << r;
    EXPECT_NE(r.err.find("timeout"), std::string::npos) << r;
}

}  // namespace
}  // namespace kvd::test
