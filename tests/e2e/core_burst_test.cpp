// Bursts of pipelined creates must not make kvd blame others for its own slowness. Each
// create blocks the loop while the child is spawned (uv_spawn waits for the exec), so handling
// a burst of them in one go used to keep kvd from reading anything else for longer than its
// timers ran: a sync handler that had acked at once was timed out and restarted, and a stop's
// SIGKILL timer ran out before the bucket had answered the requests pipelined before the stop.
#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

// Sanitized kv-bucket processes cost many times more CPU to start and to end (LeakSanitizer
// runs at every exit): a thousand of them kept a 2-core machine at a load of 65 for minutes.
// Sanitizer builds burst with a fifth, which still drives every code path here; the plain
// build is the one whose burst outlasts the timers, and so catches a regression.
int burst_size(int plain) {
    return time_scale() > 1 ? plain / 5 : plain;
}

TEST(Burst, PipelinedCreatesDoNotTimeOutAPromptSyncHandler) {
    const int kBuckets = burst_size(1000);
    TempDir dir;
    Json command = {test_handler_path(), "ack"};
    KvdOptions options;
    // Far longer than the handler needs to ack one event, far shorter than spawning 1000
    // buckets takes.
    options.config = "[[handler]]\nname = \"h\"\nmode = \"sync\"\nack_timeout = \"" +
                     std::to_string(scaled(milliseconds(1000)).count()) +
                     "ms\"\ncommand = " + command.dump() + "\n";
    KvdProcess kvd(dir, options);
    ASSERT_TRUE(kvd.ready());
    Client c(kvd.socket_path());
    ASSERT_TRUE(c.connected()) << c.connect_error();
    std::string batch;
    for (int i = 0; i < kBuckets; ++i)
        batch +=
            Json{{"id", i}, {"op", "create"}, {"bucket", "b" + std::to_string(i)}}.dump() + "\n";
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

// Several clients at once, each pipelining creates, puts and then stops. A stop's SIGKILL
// timer runs from its SIGTERM, which goes only once the bucket answered what was sent before
// the stop (core_stop_timer_test shows that deterministically); here, under a real burst,
// every put is answered and every bucket ends by its SIGTERM. The timeout is what a bucket
// may take to exit after SIGTERM, with room for a loaded machine: it must not matter how
// long the burst keeps kvd and the buckets busy before that.
TEST(Burst, ConcurrentBurstsDoNotRunOutStopTimers) {
    constexpr int kClients = 4;
    const int kPerClient = burst_size(150);
    TempDir dir;
    // A put may wait behind a long burst of creates on a loaded machine: this test is about
    // stop timers, so no request may end with `timeout` first.
    KvdOptions options;
    options.config = "[bucket]\nrequest_timeout = \"" +
                     std::to_string(scaled(milliseconds(60000)).count()) + "ms\"\n";
    KvdProcess kvd(dir, options);
    ASSERT_TRUE(kvd.ready());
    const auto stop_timeout = scaled(milliseconds(20000)).count();
    std::vector<std::unique_ptr<Client>> clients;
    for (int c = 0; c < kClients; ++c) {
        clients.push_back(std::make_unique<Client>(kvd.socket_path()));
        ASSERT_TRUE(clients.back()->connected()) << clients.back()->connect_error();
    }
    for (int c = 0; c < kClients; ++c) {
        std::string batch;
        int id = 0;
        for (int i = 0; i < kPerClient; ++i) {
            std::string name = "c" + std::to_string(c) + "-" + std::to_string(i);
            batch += Json{{"id", id++}, {"op", "create"}, {"bucket", name}}.dump() + "\n";
            batch +=
                Json{{"id", id++}, {"op", "put"}, {"bucket", name}, {"key", "k"}, {"value", "v"}}
                    .dump() +
                "\n";
        }
        for (int i = 0; i < kPerClient; ++i) {
            std::string name = "c" + std::to_string(c) + "-" + std::to_string(i);
            batch +=
                Json{{"id", id++}, {"op", "stop"}, {"bucket", name}, {"timeout_ms", stop_timeout}}
                    .dump() +
                "\n";
        }
        ASSERT_TRUE(clients[c]->send_raw(batch));
    }
    int killed = 0;
    for (int c = 0; c < kClients; ++c) {
        for (int r = 0; r < 3 * kPerClient; ++r) {
            auto reply = clients[c]->read_json(60s);
            ASSERT_TRUE(reply.has_value()) << "client " << c << ": no reply #" << r;
            ASSERT_TRUE(is_ok(*reply)) << "client " << c << ", reply #" << r;
            if (r >= 2 * kPerClient && (*reply)["result"]["signal"] == "SIGKILL") ++killed;
        }
    }
    EXPECT_EQ(killed, 0) << "buckets SIGKILLed by their stop timer before they could answer";
}

}  // namespace
}  // namespace kvd::test
