// Clients that go away at the worst moment: while their request waits (a `create` held by a
// slow sync handler, a `stop` waiting for the exit, a `get` waiting on a frozen bucket), in the
// middle of a sync subscription with an event unacknowledged, and with a thousand pipelined
// requests unanswered. The work still happens (or not) consistently, handlers see every event
// in order, other clients are served throughout, and kvd keeps nothing of the dead connection.
#include <signal.h>
#include <sys/socket.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/e2e/audited_kvd.hpp"

namespace kvd::test {
namespace {

class ClientFault : public AuditedKvdTest {
  protected:
    // Waits until the handler has acknowledged everything published so far, then checks that
    // it saw seq 1..last exactly once each, in order; returns its events.
    std::vector<Json> handler_caught_up() {
        uint64_t last = 0;
        EXPECT_TRUE(wait_until(
            [&] {
                Json status = client_->call("status");
                Json handlers = client_->call("handlers");
                if (!is_ok(status) || !is_ok(handlers)) return false;
                last = status["result"]["last_seq"];
                const Json& audit = handlers["result"]["handlers"][0];
                return audit["acked"] == last && audit["queued"] == 0 && events().size() == last;
            },
            20s, "the handler to acknowledge every event"));
        std::vector<Json> seen = events();
        for (std::size_t i = 0; i < seen.size(); ++i)
            EXPECT_EQ(seen[i]["seq"], i + 1) << read_file(out_);
        return seen;
    }

    // Stops every bucket still registered, then expects kvd back to its starting footprint.
    void stop_all_and_expect_no_leak() {
        Json list = client_->call("list");
        ASSERT_TRUE(is_ok(list));
        for (const Json& b : list["result"]["buckets"])
            EXPECT_TRUE(is_ok(client_->call("stop", {{"bucket", b["bucket"]}}))) << b.dump();
        EXPECT_TRUE(wait_footprint_back(kvd_->pid(), before_));
        EXPECT_TRUE(is_ok(client_->call("ping")));
    }
};

class ClientFaultSlowHandler : public ClientFault {
  protected:
    std::vector<std::string> audit_mode() const override { return {"slow", "300"}; }
};

// The create is held by the handler's slow ack when its client leaves: the bucket is still
// created (its event was published and is delivered), and nothing waits for the gone client.
TEST_F(ClientFaultSlowHandler, ClientLeavesWhileItsCreateIsHeld) {
    {
        Client leaving(kvd_->socket_path());
        ASSERT_TRUE(leaving.send_json({{"id", 1}, {"op", "create"}, {"bucket", "held"}}));
        ASSERT_TRUE(wait_until([&] { return !events().empty(); }, 10s,
                               "the handler to receive the create event"));
        EXPECT_EQ(leaving.read_line(10ms), std::nullopt) << "create replied before the ack";
    }  // closed here, with the reply still to come
    EXPECT_TRUE(is_ok(client_->call("ping"))) << "kvd is not serving while a create is held";

    ASSERT_TRUE(wait_until(
        [&] {
            return is_ok(client_->call("lookup", {{"bucket", "held"}}));
        },
        10s, "the bucket to be registered"));
    pid_t pid = pid_in(client_->call("lookup", {{"bucket", "held"}}));
    EXPECT_TRUE(process_alive(pid));
    ASSERT_TRUE(is_ok(client_->call("put", {{"bucket", "held"}, {"key", "k"}, {"value", "v"}})));
    std::vector<Json> seen = handler_caught_up();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0]["type"], "create");
    EXPECT_EQ(seen[0]["pid"], pid);
    stop_all_and_expect_no_leak();
}

// The stop waits for a frozen bucket (SIGTERM stays pending) when its client leaves: the
// bucket still goes (SIGKILL at the stop's timeout), with one exit event saying `stopped`.
TEST_F(ClientFault, ClientLeavesWhileItsStopWaits) {
    pid_t pid = pid_in(client_->call("create", {{"bucket", "b"}}));
    ASSERT_GT(pid, 0);
    // Once it answers, it handles SIGTERM itself (until then SIGTERM would end it at once).
    ASSERT_TRUE(is_ok(client_->call("keys", {{"bucket", "b"}})));
    ASSERT_TRUE(freeze(pid));
    {
        Client leaving(kvd_->socket_path());
        ASSERT_TRUE(
            leaving.send_json({{"id", 1}, {"op", "stop"}, {"bucket", "b"}, {"timeout_ms", 300}}));
        ASSERT_TRUE(is_ok(client_->call("ping")));  // the stop was read before this ping
    }
    ASSERT_TRUE(wait_until(
        [&] {
            return is_error(client_->call("lookup", {{"bucket", "b"}}), "not_found");
        },
        10s, "the bucket to be gone"));
    EXPECT_FALSE(process_alive(pid));
    std::vector<Json> seen = handler_caught_up();
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[1]["type"], "exit");
    EXPECT_EQ(seen[1]["reason"], "stopped");
    EXPECT_EQ(seen[1]["signal"], "SIGKILL");
    stop_all_and_expect_no_leak();
}

// A get waits on a frozen bucket when its client leaves. Once the bucket runs again its late
// answer goes nowhere, and it must not be taken for the answer to someone else's request.
TEST_F(ClientFault, ClientLeavesWhileItsGetWaitsOnAFrozenBucket) {
    pid_t pid = pid_in(client_->call("create", {{"bucket", "b"}}));
    ASSERT_GT(pid, 0);
    ASSERT_TRUE(is_ok(client_->call("put", {{"bucket", "b"}, {"key", "k"}, {"value", "old"}})));
    ASSERT_TRUE(freeze(pid));
    {
        Client leaving(kvd_->socket_path());
        std::string burst;
        for (int i = 0; i < 50; ++i)
            burst += Json{{"id", i}, {"op", "get"}, {"bucket", "b"}, {"key", "k"}}.dump() + "\n";
        ASSERT_TRUE(leaving.send_raw(burst));
        ASSERT_TRUE(is_ok(Client(kvd_->socket_path()).call("ping")));
    }
    ASSERT_EQ(::kill(pid, SIGCONT), 0);
    ASSERT_TRUE(is_ok(client_->call("put", {{"bucket", "b"}, {"key", "k"}, {"value", "new"}})));
    Json got = client_->call("get", {{"bucket", "b"}, {"key", "k"}});
    ASSERT_TRUE(is_ok(got));
    EXPECT_EQ(got["result"]["value"], "new");
    Json keys = client_->call("keys", {{"bucket", "b"}});
    ASSERT_TRUE(is_ok(keys));
    EXPECT_EQ(keys["result"]["keys"], Json::array({"k"}));
    EXPECT_EQ(pid_in(client_->call("lookup", {{"bucket", "b"}})), pid);
    stop_all_and_expect_no_leak();
}

// A sync subscriber holding an unacknowledged event hangs up in the middle of a stream of sync
// notifies: every notify completes, the handler sees all of them in order, and the
// subscription is gone.
TEST_F(ClientFault, SyncSubscriberLeavesWithAnEventUnacknowledged) {
    auto sub = std::make_unique<Client>(kvd_->socket_path());
    Json subscribed = sub->call("subscribe", {{"mode", "sync"}});
    ASSERT_TRUE(is_ok(subscribed));

    constexpr int kNotifies = 50;
    std::string burst;
    for (int i = 0; i < kNotifies; ++i)
        burst +=
            Json{{"id", i}, {"op", "notify"}, {"type", "t"}, {"data", i}, {"sync", true}}.dump() +
            "\n";
    ASSERT_TRUE(client_->send_raw(burst));
    // The subscriber acks a few, then leaves holding the next one.
    for (int i = 0; i < 3; ++i) {
        auto event = sub->read_json(10s);
        ASSERT_TRUE(event.has_value());
        EXPECT_EQ((*event)["seq"], i + 1);
        ASSERT_TRUE(sub->send_line("ok"));
    }
    ASSERT_TRUE(sub->read_json(10s).has_value());
    sub->close();

    for (int i = 0; i < kNotifies; ++i) {
        auto reply = client_->read_json(10s);
        ASSERT_TRUE(reply.has_value()) << "notify " << i << " is still waiting";
        if (i < 3) continue;  // may have been read above
        EXPECT_TRUE(is_ok(*reply));
    }
    std::vector<Json> seen = handler_caught_up();
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(kNotifies));
    Json status = client_->call("status");
    EXPECT_EQ(status["result"]["subscriptions"], 0) << status.dump();
    stop_all_and_expect_no_leak();
}

// A thousand pipelined requests (creates, data, sync notifies, stops) and the client closes
// without reading a single reply. Whatever part of it kvd did before it noticed, the result is
// consistent: each registered bucket is a live process whose create the handler saw with the
// same pid and no exit after it; each bucket that is not registered has its exit after its
// create; the handler saw every event once, in order.
TEST_F(ClientFault, ClientAbandonsAThousandPipelinedRequests) {
    std::string burst;
    for (int i = 0; i < 1000; ++i) {
        std::string bucket = "p" + std::to_string(i % 20);
        Json req;
        switch (i % 5) {
            case 0:
                req = {{"op", "create"}, {"bucket", bucket}};
                break;
            case 1:
                req = {{"op", "put"}, {"bucket", bucket}, {"key", "k"}, {"value", "v"}};
                break;
            case 2:
                req = {{"op", "get"}, {"bucket", bucket}, {"key", "k"}};
                break;
            case 3:
                req = {{"op", "notify"}, {"type", "t"}, {"data", i}, {"sync", true}};
                break;
            case 4:
                req = i % 10 == 4 ? Json{{"op", "stop"}, {"bucket", bucket}}
                                  : Json{{"op", "keys"}, {"bucket", bucket}};
                break;
        }
        req["id"] = i;
        burst += req.dump() + "\n";
    }
    {
        Client leaving(kvd_->socket_path());
        ASSERT_TRUE(leaving.send_raw(burst));
        // Gone at once, replies unread.
    }
    EXPECT_TRUE(is_ok(client_->call("ping")));
    std::vector<Json> seen = handler_caught_up();

    std::map<std::string, pid_t> alive_by_events;  // bucket -> pid of a create with no exit
    for (const Json& e : seen) {
        std::string bucket = e.value("bucket", "");
        if (e["type"] == "create") {
            EXPECT_FALSE(alive_by_events.count(bucket)) << "two creates without an exit";
            alive_by_events[bucket] = e["pid"].get<pid_t>();
        } else if (e["type"] == "exit") {
            ASSERT_TRUE(alive_by_events.count(bucket)) << "exit before create: " << e.dump();
            EXPECT_EQ(alive_by_events[bucket], e["pid"].get<pid_t>());
            alive_by_events.erase(bucket);
        }
    }
    Json list = client_->call("list");
    ASSERT_TRUE(is_ok(list));
    std::map<std::string, pid_t> registered;
    for (const Json& b : list["result"]["buckets"]) {
        registered[b["bucket"].get<std::string>()] = b["pid"].get<pid_t>();
        EXPECT_TRUE(process_alive(b["pid"].get<pid_t>())) << b.dump();
    }
    EXPECT_EQ(registered, alive_by_events);
    EXPECT_TRUE(is_ok(client_->call("ping")));
    stop_all_and_expect_no_leak();
}

}  // namespace
}  // namespace kvd::test
