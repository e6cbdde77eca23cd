// Subscriptions (GenEvent.add_mon_handler): a client connection that subscribed gets
// {"seq":LAST} and then only events; it is counted in `status` and removed the moment the
// connection closes. A type filter narrows what it gets; a sync subscription gets one event
// at a time and holds the operation that published it until it acks.
#include <poll.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

class EventsSubscribe : public ::testing::Test {
  protected:
    void SetUp() override {
        kvd_ = std::make_unique<KvdProcess>(dir_);
        ASSERT_TRUE(kvd_->ready());
        client_ = std::make_unique<Client>(kvd_->socket_path());
        ASSERT_TRUE(client_->connected()) << client_->connect_error();
    }

    // A new connection that subscribed with `args`; the subscribe reply goes to `reply`.
    std::unique_ptr<Client> subscribe(const Json& args, Json* reply = nullptr) {
        auto sub = std::make_unique<Client>(kvd_->socket_path());
        EXPECT_TRUE(sub->connected()) << sub->connect_error();
        Json r = sub->call("subscribe", args);
        EXPECT_TRUE(is_ok(r));
        if (reply) *reply = r;
        return sub;
    }

    int64_t subscriptions() {
        Json status = client_->call("status");
        if (!is_ok(status)) return -1;
        return status["result"]["subscriptions"].get<int64_t>();
    }

    TempDir dir_;
    std::unique_ptr<KvdProcess> kvd_;
    std::unique_ptr<Client> client_;
};

TEST_F(EventsSubscribe, GetsTheLastSeqThenEventsAndIsRemovedWhenItCloses) {
    ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "before"}})));
    EXPECT_EQ(subscriptions(), 0);

    Json reply;
    auto sub = subscribe(Json::object(), &reply);
    EXPECT_EQ(reply["result"]["seq"], 1) << reply.dump();
    EXPECT_EQ(reply["result"]["boot"], client_->call("status")["result"]["boot"]) << reply.dump();
    EXPECT_EQ(subscriptions(), 1);

    ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "hello"}, {"data", {{"world", true}}}})));
    pid_t pid = pid_in(client_->call("create", {{"bucket", "shopping"}}));
    ASSERT_GT(pid, 0);

    auto e1 = sub->read_json(10s);
    ASSERT_TRUE(e1);
    EXPECT_EQ((*e1)["seq"], 2);
    EXPECT_EQ((*e1)["type"], "hello");
    EXPECT_EQ((*e1)["data"], (Json{{"world", true}}));
    auto e2 = sub->read_json(10s);
    ASSERT_TRUE(e2);
    EXPECT_EQ((*e2)["seq"], 3);
    EXPECT_EQ((*e2)["type"], "create");
    EXPECT_EQ((*e2)["bucket"], "shopping");
    EXPECT_EQ((*e2)["pid"], pid);

    // A second subscriber counts too; each goes away with its connection.
    auto sub2 = subscribe(Json::object());
    EXPECT_EQ(subscriptions(), 2);
    sub->close();
    EXPECT_TRUE(wait_until([&] { return subscriptions() == 1; }, 10s,
                           "the closed subscription to be removed"));
    sub2->close();
    EXPECT_TRUE(wait_until([&] { return subscriptions() == 0; }, 10s,
                           "the second subscription to be removed"));
    // Publishing to nobody is fine.
    EXPECT_TRUE(is_ok(client_->call("notify", {{"type", "after"}, {"sync", true}})));
}

TEST_F(EventsSubscribe, TypeFilterOnlyGetsThoseTypes) {
    auto exits = subscribe({{"types", {"exit"}}});
    auto customs = subscribe({{"types", {"mine", "yours"}}});

    pid_t a = pid_in(client_->call("create", {{"bucket", "a"}}));
    ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "mine"}})));
    ASSERT_TRUE(is_ok(client_->call("stop", {{"bucket", "a"}})));
    ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "other"}})));
    pid_t b = pid_in(client_->call("create", {{"bucket", "b"}}));
    ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "yours"}})));
    ASSERT_TRUE(is_ok(client_->call("kill", {{"bucket", "b"}})));
    ASSERT_GT(a, 0);
    ASSERT_GT(b, 0);

    // Two exits, and nothing else in between or before.
    auto x1 = exits->read_json(10s);
    auto x2 = exits->read_json(10s);
    ASSERT_TRUE(x1 && x2);
    EXPECT_EQ((*x1)["type"], "exit");
    EXPECT_EQ((*x1)["bucket"], "a");
    EXPECT_EQ((*x1)["pid"], a);
    EXPECT_EQ((*x1)["seq"], 3);
    EXPECT_EQ((*x2)["type"], "exit");
    EXPECT_EQ((*x2)["bucket"], "b");
    EXPECT_EQ((*x2)["pid"], b);

    auto c1 = customs->read_json(10s);
    auto c2 = customs->read_json(10s);
    ASSERT_TRUE(c1 && c2);
    EXPECT_EQ((*c1)["type"], "mine");
    EXPECT_EQ((*c1)["seq"], 2);
    EXPECT_EQ((*c2)["type"], "yours");
    EXPECT_EQ((*c2)["seq"], 6);

    // One more of each kind, to show nothing else was queued in front of it.
    ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "other"}, {"sync", true}})));
    ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "yours"}, {"data", "last"}})));
    ASSERT_TRUE(is_ok(client_->call("create", {{"bucket", "c"}})));
    ASSERT_TRUE(is_ok(client_->call("stop", {{"bucket", "c"}})));
    auto x3 = exits->read_json(10s);
    ASSERT_TRUE(x3);
    EXPECT_EQ((*x3)["bucket"], "c");
    auto c3 = customs->read_json(10s);
    ASSERT_TRUE(c3);
    EXPECT_EQ((*c3)["data"], "last");
}

TEST_F(EventsSubscribe, BadSubscribeArgumentsAreRejected) {
    Client c(kvd_->socket_path());
    EXPECT_TRUE(is_error(c.call("subscribe", {{"mode", "sometimes"}}), "bad_request"));
    EXPECT_TRUE(is_error(c.call("subscribe", {{"types", "exit"}}), "bad_request"));
    EXPECT_TRUE(is_error(c.call("subscribe", {{"types", {1, 2}}}), "bad_request"));
    EXPECT_TRUE(is_error(c.call("subscribe", {{"from_seq", -1}}), "bad_request"));
    // None of these subscribed: the connection is still an ordinary one.
    EXPECT_TRUE(is_ok(c.call("ping")));
    EXPECT_EQ(subscriptions(), 0);
}

TEST_F(EventsSubscribe, SyncSubscriptionGetsOneEventAtATimeAndHoldsThePublisher) {
    Json reply;
    auto sub = subscribe({{"mode", "sync"}}, &reply);
    EXPECT_EQ(reply["result"]["seq"], 0);
    EXPECT_EQ(subscriptions(), 1);

    // Two events published without waiting; only the first reaches the subscriber.
    ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "one"}})));
    ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "two"}})));
    auto one = sub->read_json(10s);
    ASSERT_TRUE(one);
    EXPECT_EQ((*one)["type"], "one");
    EXPECT_FALSE(sub->read_line(200ms)) << "the second event came before the first was acked";

    ASSERT_TRUE(sub->send_line("ok"));
    auto two = sub->read_json(10s);
    ASSERT_TRUE(two);
    EXPECT_EQ((*two)["type"], "two");
    EXPECT_EQ((*two)["seq"], 2);

    // A sync notify (and a create) completes only after the subscriber acked it; the
    // {"ack":SEQ} form works as well as "ok".
    ASSERT_TRUE(sub->send_line("{\"ack\":2}"));
    ASSERT_TRUE(
        client_->send_json({{"id", "n"}, {"op", "notify"}, {"type", "three"}, {"sync", true}}));
    auto three = sub->read_json(10s);
    ASSERT_TRUE(three);
    EXPECT_EQ((*three)["seq"], 3);
    EXPECT_FALSE(client_->read_line(200ms)) << "sync notify replied before the subscriber acked";
    ASSERT_TRUE(sub->send_line("{\"ack\":3}"));
    auto notified = client_->read_json(10s);
    ASSERT_TRUE(notified);
    EXPECT_EQ((*notified)["id"], "n");
    EXPECT_TRUE(is_ok(*notified));

    ASSERT_TRUE(client_->send_json({{"id", "c"}, {"op", "create"}, {"bucket", "a"}}));
    auto created = sub->read_json(10s);
    ASSERT_TRUE(created);
    EXPECT_EQ((*created)["type"], "create");
    EXPECT_FALSE(client_->read_line(200ms)) << "create replied before the subscriber acked";
    ASSERT_TRUE(sub->send_line("ok"));
    auto create_reply = client_->read_json(10s);
    ASSERT_TRUE(create_reply);
    EXPECT_EQ((*create_reply)["id"], "c");
    EXPECT_TRUE(is_ok(*create_reply));
}

// A subscriber that hangs up with events still unread in its socket: kvd then sees the
// connection reset rather than a clean end of file, and must remove the subscription all the
// same (GenEvent.add_mon_handler: removed the moment the client is gone).
TEST_F(EventsSubscribe, SubscriberThatLeavesWithUnreadEventsIsRemoved) {
    auto sub = subscribe(Json::object());
    EXPECT_EQ(subscriptions(), 1);
    ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "unread"}})));
    // Wait until the event sits in the subscriber's socket, and leave it there.
    pollfd p{sub->fd(), POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, static_cast<int>(scaled(10s).count())), 1) << "the event never came";
    sub->close();
    EXPECT_TRUE(wait_until([&] { return subscriptions() == 0; }, 10s,
                           "the subscription to be removed after a reset"));
    // kvd is fine and publishes to nobody.
    EXPECT_TRUE(is_ok(client_->call("notify", {{"type", "after"}, {"sync", true}})));
}

// A subscriber that shuts down its reading side: kvd's next write to it fails (EPIPE) while
// no end of file ever arrives; the failed write alone must remove the subscription.
TEST_F(EventsSubscribe, SubscriberThatCannotBeWrittenToIsRemoved) {
    auto sub = subscribe(Json::object());
    EXPECT_EQ(subscriptions(), 1);
    ASSERT_EQ(::shutdown(sub->fd(), SHUT_RD), 0);
    ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "undeliverable"}})));
    EXPECT_TRUE(wait_until([&] { return subscriptions() == 0; }, 10s,
                           "the subscription to be removed after a failed write"));
    EXPECT_TRUE(is_ok(client_->call("notify", {{"type", "after"}, {"sync", true}})));
}

// A sync subscriber that leaves without acking releases whoever waited on it at once.
TEST_F(EventsSubscribe, SyncSubscriberThatLeavesReleasesThePublisher) {
    auto sub = subscribe({{"mode", "sync"}});
    ASSERT_TRUE(client_->send_json({{"id", "n"}, {"op", "notify"}, {"type", "t"}, {"sync", true}}));
    auto event = sub->read_json(10s);
    ASSERT_TRUE(event);
    EXPECT_FALSE(client_->read_line(200ms)) << "sync notify replied before the subscriber acked";
    sub->close();
    auto reply = client_->read_json(10s);
    ASSERT_TRUE(reply) << "sync notify still waits on a subscriber that is gone";
    EXPECT_TRUE(is_ok(*reply));
    EXPECT_TRUE(
        wait_until([&] { return subscriptions() == 0; }, 10s, "the subscription to be removed"));
}

}  // namespace
}  // namespace kvd::test
