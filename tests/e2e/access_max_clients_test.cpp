// [daemon] max_clients: kvd keeps that many client connections; the one over it gets one
// `limit` error line and is closed, and a place frees up when a client leaves.
#include <functional>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

class MaxClients : public KvdTest {
  protected:
    KvdOptions options() override {
        KvdOptions o;
        o.config = "[daemon]\nmax_clients = 2\n";
        return o;
    }
};

// A connection that kvd serves (a ping answered), once there is room for one: the harness's
// own readiness probe may still hold a place for a moment.
std::unique_ptr<Client> served(const std::function<std::unique_ptr<Client>()>& connect) {
    std::unique_ptr<Client> c;
    wait_until(
        [&] {
            c = connect();
            if (!c->send_json({{"id", 1}, {"op", "ping"}})) return false;
            auto reply = c->read_json(2s);
            return reply && (*reply)["ok"] == true;
        },
        10s, "a client to be served");
    return c;
}

TEST_F(MaxClients, TheOneOverTheLimitGetsALimitErrorThenClose) {
    auto opener = [this] { return connect(); };
    auto first = served(opener);
    auto second = served(opener);
    ASSERT_TRUE(is_ok(first->call("ping")));
    ASSERT_TRUE(is_ok(second->call("ping")));
    auto third = connect();
    ASSERT_TRUE(third->connected());
    auto line = third->read_json(10s);
    ASSERT_TRUE(line.has_value());
    EXPECT_TRUE(is_error(*line, "limit")) << line->dump();
    EXPECT_NE((*line)["error"]["message"].get<std::string>().find("max_clients"),
              std::string::npos);
    EXPECT_TRUE(third->wait_eof(10s));
    EXPECT_TRUE(is_ok(first->call("ping")));
    // One leaves: the next one is served.
    second->close();
    auto fourth = served(opener);
    EXPECT_TRUE(is_ok(fourth->call("ping")));
}

}  // namespace
}  // namespace kvd::test
