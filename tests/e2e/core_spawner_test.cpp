// Buckets are started by kvd's spawner (daemon/proc/spawner.hpp): a small helper process that
// holds none of kvd's descriptors, yet every bucket is kvd's own child. It is replaced if it
// dies, and it never outlives kvd.
#include <signal.h>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

using Spawner = KvdTest;

TEST_F(Spawner, IsSmallAndBucketsAreKvdsChildren) {
    // kvd answers only once its loop runs, and the spawner is forked before that (the
    // socket accepts connections a little earlier).
    ASSERT_TRUE(is_ok(call("ping")));
    pid_t spawner = spawner_of(kvd().pid());
    ASSERT_GT(spawner, 0) << "kvd has no kvd-spawner child";
    std::vector<pid_t> buckets;
    for (int i = 0; i < 50; ++i) {
        pid_t pid = create("b" + std::to_string(i));
        ASSERT_GT(pid, 0);
        buckets.push_back(pid);
    }
    std::sort(buckets.begin(), buckets.end());
    EXPECT_EQ(children_of(kvd().pid()), buckets) << "every bucket is a child of kvd itself";
    EXPECT_EQ(spawner_of(kvd().pid()), spawner) << "one spawner serves every create";
    // 0, 1, 2 and its socket: 50 buckets (50 sockets in kvd) are not in its table.
    EXPECT_LE(count_open_fds(spawner), 4);
    EXPECT_GE(count_open_fds(kvd().pid()), 50);
}

// kvd never waits on its spawner without a bound: a stopped spawner is replaced, and the
// create that found it so still starts its bucket.
TEST_F(Spawner, StoppedSpawnerDoesNotFreezeKvd) {
    ASSERT_GT(create("before"), 0);
    pid_t stopped = spawner_of(kvd().pid());
    ASSERT_GT(stopped, 0);
    ASSERT_TRUE(freeze(stopped));
    auto pinger = connect();
    pid_t pid = create("during");
    EXPECT_GT(pid, 0) << "create with a stopped spawner";
    EXPECT_TRUE(is_ok(pinger->call("ping")));
    EXPECT_TRUE(is_ok(call("put", {{"bucket", "during"}, {"key", "k"}, {"value", "v"}})));
    pid_t replacement = spawner_of(kvd().pid());
    EXPECT_GT(replacement, 0);
    EXPECT_NE(replacement, stopped);
    EXPECT_TRUE(wait_until([&] { return !file_exists("/proc/" + std::to_string(stopped)); }, 5s,
                           "the stopped spawner to be killed and reaped"));
    EXPECT_GT(create("after"), 0);
    EXPECT_NE(kvd().log().find("did not answer"), std::string::npos) << kvd().log();
}

TEST_F(Spawner, KilledSpawnerIsReplacedAndReaped) {
    ASSERT_GT(create("before"), 0);
    pid_t old = spawner_of(kvd().pid());
    ASSERT_GT(old, 0);
    ASSERT_EQ(::kill(old, SIGKILL), 0);
    ASSERT_TRUE(wait_until([&] { return !process_alive(old); }, 5s, "the spawner to die"));

    pid_t pid = create("after");
    ASSERT_GT(pid, 0) << "create works with the spawner gone";
    EXPECT_TRUE(is_ok(call("put", {{"bucket", "after"}, {"key", "k"}, {"value", "v"}})));
    pid_t replacement = spawner_of(kvd().pid());
    EXPECT_GT(replacement, 0);
    EXPECT_NE(replacement, old);
    // The dead one is reaped, not left a zombie under kvd.
    EXPECT_TRUE(wait_until([&] { return !file_exists("/proc/" + std::to_string(old)); }, 5s,
                           "the old spawner to be reaped"));
    EXPECT_NE(kvd().log().find("spawner"), std::string::npos) << "the replacement is logged";
}

TEST_F(Spawner, EndsWithKvd) {
    ASSERT_GT(create("b"), 0);
    pid_t spawner = spawner_of(kvd().pid());
    ASSERT_GT(spawner, 0);
    auto status = kvd().terminate();
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(status->success()) << status->describe();
    EXPECT_TRUE(wait_until([&] { return !process_alive(spawner); }, 5s, "the spawner to exit"));
}

TEST_F(Spawner, EndsWhenKvdIsKilled) {
    ASSERT_GT(create("b"), 0);
    pid_t spawner = spawner_of(kvd().pid());
    ASSERT_GT(spawner, 0);
    kvd().kill9();
    // PR_SET_PDEATHSIG: no orphaned spawner, as no orphaned bucket.
    EXPECT_TRUE(wait_until([&] { return !process_alive(spawner); }, 5s, "the spawner to die"));
}

TEST_F(Spawner, BucketsDoNotInheritItsSignalMask) {
    pid_t pid = create("b");
    ASSERT_GT(pid, 0);
    std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
    auto at = status.find("SigBlk:");
    ASSERT_NE(at, std::string::npos);
    EXPECT_EQ(status.substr(at, status.find('\n', at) - at), "SigBlk:\t0000000000000000");
    // And a stop is a clean SIGTERM exit, as kv-bucket handles it.
    Json reply = call("stop", {{"bucket", "b"}});
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(reply["result"]["reason"], "stopped");
}

}  // namespace
}  // namespace kvd::test
