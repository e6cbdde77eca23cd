// A burst of pipelined creates must not make kvd blame its sync handler. Each create blocks
// the loop while the child is spawned (uv_spawn waits for the exec), so handling a burst of
// them in one go used to keep kvd from reading the handler's acks for longer than
// ack_timeout: the ack timers then fired first, and a handler that had answered at once was
// counted as failed and restarted (and a stop's SIGKILL timer could likewise fire before the
// bucket had been given its pipelined requests).
#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

TEST(EventsBurst, PipelinedCreatesDoNotTimeOutAPromptSyncHandler) {
    constexpr int kBuckets = 1000;
    TempDir dir;
    Json command = {test_handler_path(), "ack"};
    KvdOptions options;
    // Far longer than the handler needs to ack one event, far shorter than spawning 1000
    // buckets takes.
    options.config = "[[handler]]\nname = \"h\"\nmode = \"sync\"\nack_timeout = \"" +
                     std::to_string(scaled(milliseconds(1000)).count()) + "ms\"\ncommand = " +
                     command.dump() + "\n";
    KvdProcess kvd(dir, options);
    ASSERT_TRUE(kvd.ready());
    Client c(kvd.socket_path());
    ASSERT_TRUE(c.connected()) << c.connect_error();
    std::string batch;
    for (int i = 0; i < kBuckets; ++i)
        batch += Json{{"id", i}, {"op", "create"}, {"bucket", "b" + std::to_string(i)}}.dump() + "\n";
    ASSERT_TRUE(c.send_raw(batch));
    for (int i = 0; i < kBuckets; ++i) {
        auto reply = c.read_json(60s);
        ASSERT_TRUE(reply.has_value()) << "no reply to create #" << i;
        ASSERT_TRUE(is_ok(*reply)) << "create #" << i;
    }
    Json handlers = c.call("handlers");
    ASSERT_TRUE(is_ok(handlers));
    const Json& h = handlers["result"]["handlers"][0];
    EXPECT_EQ(h["restarts"], 0) << h.dump();
    EXPECT_EQ(h["acked"], kBuckets) << h.dump();
    EXPECT_EQ(kvd.log().find("did not acknowledge"), std::string::npos) << kvd.log();
}

}  // namespace
}  // namespace kvd::test
