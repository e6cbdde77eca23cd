// Pipelining: a client may send many requests without waiting; replies come in request
// order and echo each request's id, even when later requests finish first (README "The control
// protocol").
#include <thread>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

using Pipelining = KvdTest;

TEST_F(Pipelining, ThousandRequestsInOneWriteAreAnsweredInOrder) {
    ASSERT_GT(create("p"), 0);
    // put k_i, then get k_i, then ping, with ids of mixed types; all in one write.
    std::string batch;
    std::vector<Json> ids;
    std::vector<std::string> expected_values;
    for (int i = 0; ids.size() < 1000; ++i) {
        std::string key = "k" + std::to_string(i);
        std::string value = "value " + std::to_string(i) + " \"quoted\"\n";
        Json put_id = i;
        Json get_id = "get-" + std::to_string(i);
        Json ping_id = Json{{"n", i}};
        batch +=
            Json{{"id", put_id}, {"op", "put"}, {"bucket", "p"}, {"key", key}, {"value", value}}
                .dump() +
            "\n";
        batch += Json{{"id", get_id}, {"op", "get"}, {"bucket", "p"}, {"key", key}}.dump() + "\n";
        batch += Json{{"id", ping_id}, {"op", "ping"}}.dump() + "\n";
        ids.insert(ids.end(), {put_id, get_id, ping_id});
        expected_values.insert(expected_values.end(), {"", value, ""});
    }
    Client& c = client();
    ASSERT_TRUE(c.send_raw(batch));
    for (std::size_t n = 0; n < ids.size(); ++n) {
        auto reply = c.read_json(30s);
        ASSERT_TRUE(reply.has_value()) << "reply " << n << " of " << ids.size() << " missing";
        ASSERT_EQ((*reply)["id"], ids[n]) << "reply " << n << " out of order: " << reply->dump();
        ASSERT_TRUE(is_ok(*reply)) << "reply " << n;
        if (n % 3 == 1) {
            EXPECT_EQ((*reply)["result"]["value"], expected_values[n]);
        }
    }
    EXPECT_EQ(c.read_line(50ms), std::nullopt) << "more replies than requests";
}

TEST_F(Pipelining, SlowRequestsDoNotLetFastOnesOvertake) {
    // create and stop complete later (a process must start or end); ping, lookup and
    // errors are answered at once. Order must still be request order. The stopped buckets
    // get no data requests: see DataRequestsPipelinedBeforeStopAreAnswered.
    Client& c = client();
    std::string batch;
    int id = 0;
    constexpr int kPerRound = 10;
    for (int round = 0; round < 20; ++round) {
        std::string name = "slow" + std::to_string(round);
        std::string idle = "idle" + std::to_string(round);
        for (Json req :
             {Json{{"op", "create"}, {"bucket", name}}, Json{{"op", "ping"}},
              Json{{"op", "create"}, {"bucket", idle}},
              Json{{"op", "lookup"}, {"bucket", "never-there"}},
              Json{{"op", "put"}, {"bucket", name}, {"key", "k"}, {"value", name}},
              Json{{"op", "nonsense"}}, Json{{"op", "get"}, {"bucket", name}, {"key", "k"}},
              Json{{"op", "stop"}, {"bucket", idle}}, Json{{"op", "lookup"}, {"bucket", name}},
              Json{{"op", "list"}}}) {
            req["id"] = ++id;
            batch += req.dump() + "\n";
        }
    }
    ASSERT_TRUE(c.send_raw(batch));
    for (int expected = 1; expected <= id; ++expected) {
        auto reply = c.read_json(30s);
        ASSERT_TRUE(reply.has_value()) << "reply " << expected << " missing";
        ASSERT_EQ((*reply)["id"], expected) << reply->dump();
        std::string name = "slow" + std::to_string((expected - 1) / kPerRound);
        switch ((expected - 1) % kPerRound) {
            case 3:
                EXPECT_TRUE(is_error(*reply, "not_found"));
                break;
            case 5:
                EXPECT_TRUE(is_error(*reply, "bad_request"));
                break;
            case 6:
                EXPECT_EQ((*reply)["result"]["value"], name) << reply->dump();
                break;
            default:
                EXPECT_TRUE(is_ok(*reply));
                break;
        }
    }
    Json list = call("list");
    ASSERT_TRUE(is_ok(list));
    EXPECT_EQ(list["result"]["buckets"].size(), 20u) << "the idle buckets should all be stopped";
}

// A put sent before a stop on one connection takes effect, as a message to an OTP agent
// before its stop does: kvd sends SIGTERM only once the bucket answered what it was sent.
TEST_F(Pipelining, DataRequestsPipelinedBeforeStopAreAnswered) {
    ASSERT_GT(create("b"), 0);
    Client& c = client();
    ASSERT_TRUE(c.send_raw(R"({"id":1,"op":"put","bucket":"b","key":"k","value":"v"})"
                           "\n"
                           R"({"id":2,"op":"get","bucket":"b","key":"k"})"
                           "\n"
                           R"({"id":3,"op":"stop","bucket":"b"})"
                           "\n"));
    for (int id = 1; id <= 3; ++id) {
        auto reply = c.read_json();
        ASSERT_TRUE(reply.has_value());
        EXPECT_EQ((*reply)["id"], id);
        EXPECT_TRUE(is_ok(*reply)) << "request " << id;
    }
}

TEST_F(Pipelining, AClientThatReadsLateStillGetsEveryReply) {
    // 20 000 requests written without reading a single reply: kvd may stop reading from
    // this client for a while, but must neither drop replies nor block other clients.
    constexpr int kRequests = 20'000;
    Client& c = client();
    std::string batch;
    for (int i = 1; i <= kRequests; ++i)
        batch += R"({"op":"ping","id":)" + std::to_string(i) + "}\n";
    bool sent = false;
    std::thread writer([&] { sent = c.send_raw(batch, 60s); });

    // Meanwhile, another client is served.
    auto other = connect();
    EXPECT_TRUE(is_ok(other->call("ping")));

    int received = 0;
    for (int i = 1; i <= kRequests; ++i) {
        auto reply = c.read_json(30s);
        if (!reply) break;
        if ((*reply)["id"] != i) {
            ADD_FAILURE() << "expected id " << i << ", got " << reply->dump();
            break;
        }
        ++received;
    }
    writer.join();
    EXPECT_TRUE(sent);
    EXPECT_EQ(received, kRequests);
}

TEST_F(Pipelining, ManyConnectionsAtOnce) {
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 100; ++i) {
        clients.push_back(connect());
        ASSERT_TRUE(clients.back()->connected()) << clients.back()->connect_error();
    }
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(clients[i]->send_json({{"id", i}, {"op", "ping"}}));
    for (int i = 99; i >= 0; --i) {
        auto reply = clients[i]->read_json();
        ASSERT_TRUE(reply.has_value()) << "client " << i;
        EXPECT_EQ((*reply)["id"], i);
    }
}

}  // namespace
}  // namespace kvd::test
