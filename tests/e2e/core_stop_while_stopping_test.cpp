// `create` of a name whose bucket is stopping waits for that stop to finish, then starts a
// new bucket: it never answers with the old pid of a bucket about to vanish.
#include <csignal>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

class CreateWhileStopping : public KvdTest {};

TEST_F(CreateWhileStopping, StartsANewBucketOnceTheOldOneIsGone) {
    pid_t old_pid = create("b");
    ASSERT_GT(old_pid, 0);
    // An answer proves kv-bucket's SIGTERM handler is in place (before that, a SIGTERM would
    // end even a stopped process).
    ASSERT_TRUE(is_ok(call("keys", {{"bucket", "b"}})));
    // Frozen, the bucket cannot act on its SIGTERM: the stop lasts until the SIGKILL.
    ASSERT_TRUE(freeze(old_pid));
    auto c = connect();
    ASSERT_TRUE(c->send_json({{"id", 1}, {"op", "stop"}, {"bucket", "b"}, {"timeout_ms", 300}}));
    ASSERT_TRUE(c->send_json({{"id", 2}, {"op", "create"}, {"bucket", "b"}}));
    auto stop = c->read_json(30s);
    ASSERT_TRUE(stop.has_value());
    ASSERT_TRUE(is_ok(*stop));
    EXPECT_EQ((*stop)["result"]["signal"], "SIGKILL");
    auto created = c->read_json(30s);
    ASSERT_TRUE(created.has_value());
    ASSERT_TRUE(is_ok(*created));
    EXPECT_EQ((*created)["result"]["created"], true) << created->dump();
    pid_t new_pid = pid_in(*created);
    EXPECT_NE(new_pid, old_pid);
    EXPECT_EQ(lookup_pid("b"), new_pid);
    EXPECT_TRUE(is_ok(call("put", {{"bucket", "b"}, {"key", "k"}, {"value", "v"}})));
}

}  // namespace
}  // namespace kvd::test
