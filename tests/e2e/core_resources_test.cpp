// kvd gives back what it takes: file descriptors of closed connections and stopped buckets,
// and the exit status of every child (no zombies).
#include <signal.h>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

using Resources = KvdTest;

TEST_F(Resources, ConnectionsAndBucketsDoNotLeakDescriptors) {
    // The baseline is taken with the main client connected; it stays connected throughout.
    // (wait_ready's probe connection may not be closed on kvd's side yet at this point, so
    // the baseline can be one too high, never too low: the check below is "at most".)
    ASSERT_TRUE(is_ok(call("ping")));
    int baseline = count_open_fds(kvd().pid());
    ASSERT_GT(baseline, 0);

    for (int i = 0; i < 200; ++i) {
        Client c(kvd().socket_path());
        ASSERT_TRUE(c.connected());
        if (i % 2) {
            ASSERT_TRUE(is_ok(c.call("ping")));
        }
        if (i % 3 == 0) c.send_raw("half a line");
    }
    for (int i = 0; i < 30; ++i) {
        Client c(kvd().socket_path());
        std::string name = "cycle" + std::to_string(i % 3);
        ASSERT_TRUE(is_ok(c.call("create", {{"bucket", name}})));
        ASSERT_TRUE(is_ok(c.call("put", {{"bucket", name}, {"key", "k"}, {"value", "v"}})));
        if (i % 2) {
            ASSERT_TRUE(is_ok(c.call("stop", {{"bucket", name}})));
        } else {
            ASSERT_TRUE(is_ok(c.call("kill", {{"bucket", name}})));
            ASSERT_TRUE(wait_until(
                [&] {
                    return is_error(c.call("lookup", {{"bucket", name}}), "not_found");
                },
                5s, "the killed bucket to go"));
        }
    }
    int now = -1;
    EXPECT_TRUE(wait_until([&] { return (now = count_open_fds(kvd().pid())) <= baseline; }, 5s,
                           "kvd's descriptors to return to the baseline"))
        << "baseline " << baseline << ", now " << now;
    EXPECT_TRUE(is_ok(call("ping")));
    EXPECT_EQ(children_of(kvd().pid()), std::vector<pid_t>{}) << "stopped buckets left zombies";
}

TEST_F(Resources, BucketHoldsOnlyItsStdio) {
    pid_t pid = create("b");
    ASSERT_GT(pid, 0);
    ASSERT_TRUE(is_ok(call("keys", {{"bucket", "b"}})));  // it is running its loop
    // stdin, stdout (one socket) and stderr: nothing of kvd's (listening socket, clients,
    // other buckets) may leak into a child.
    ASSERT_GT(create("c"), 0);
    EXPECT_LE(count_open_fds(pid), 3) << "kv-bucket inherited kvd's descriptors";
}

}  // namespace
}  // namespace kvd::test
