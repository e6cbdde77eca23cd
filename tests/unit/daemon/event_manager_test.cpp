// daemon/event_manager: seq numbering, the history ring and its bounds, replay from a seq,
// fan-out by type, the sync `delivered` callback, and refusal at a sync receiver's backlog
// bound. Receivers talk to fake peers; their timers run on a real loop.
#include "daemon/event_manager.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "common/wire.hpp"
#include "tests/unit/daemon/event_test_support.hpp"

namespace kvd::testing {
namespace {

using Seqs = std::vector<uint64_t>;
using Types = std::vector<std::string>;

class EventManagerTest : public EventLoopTest {
  protected:
    // A receiver attached to its own fake peer.
    struct Attached {
        FakePeer peer;
        std::unique_ptr<Receiver> receiver;
    };

    std::unique_ptr<Attached> attach(EventManager& events, ReceiverOptions options) {
        auto a = std::make_unique<Attached>();
        a->receiver = std::make_unique<Receiver>(events, &loop_, std::move(options));
        a->receiver->attach(&a->peer);
        return a;
    }

    // The failure of a custom event that was refused; fails the test if it was published.
    static Failure refused(std::variant<uint64_t, Failure> outcome) {
        EXPECT_TRUE(std::holds_alternative<Failure>(outcome)) << "the event was published";
        if (auto* f = std::get_if<Failure>(&outcome)) return *f;
        return Failure{wire::ErrorCode::internal, ""};
    }
};

TEST_F(EventManagerTest, SeqStartsAtOneAndIncreasesByOnePerEvent) {
    EventManager events(EventBounds{});
    EXPECT_EQ(events.last_seq(), 0u);
    int delivered = 0;
    EXPECT_EQ(events.publish(create_event("a"), [&] { ++delivered; }), 1u);
    EXPECT_EQ(events.publish(exit_event("a"), [&] { ++delivered; }), 2u);
    auto third = events.publish_custom(custom_event("hello"), [&] { ++delivered; });
    ASSERT_TRUE(std::holds_alternative<uint64_t>(third));
    EXPECT_EQ(std::get<uint64_t>(third), 3u);
    EXPECT_EQ(events.last_seq(), 3u);
    EXPECT_EQ(delivered, 3) << "with no sync receiver, delivered runs at once";
    EXPECT_EQ(events.unreleased_events(), 0u);
}

TEST_F(EventManagerTest, EachReceiverGetsTheTypesItWantsInSeqOrder) {
    EventManager events(EventBounds{});
    auto all = attach(events, async_options());
    ReceiverOptions buckets = async_options();
    buckets.types = std::vector<std::string>{"create", "exit"};
    auto bucket_events = attach(events, buckets);
    ReceiverOptions hello = sync_options();
    hello.types = std::vector<std::string>{"hello"};
    auto hellos = attach(events, hello);

    events.publish(create_event("a"), nullptr);
    events.publish_custom(custom_event("hello"), nullptr);
    events.publish_custom(custom_event("other"), nullptr);
    events.publish(exit_event("a"), nullptr);

    EXPECT_EQ(all->peer.seqs(), (Seqs{1, 2, 3, 4}));
    EXPECT_EQ(all->peer.types(), (Types{"create", "hello", "other", "exit"}));
    EXPECT_EQ(bucket_events->peer.seqs(), (Seqs{1, 4}));
    EXPECT_EQ(hellos->peer.seqs(), (Seqs{2}));
    EXPECT_EQ(events.handler_count(), 0u);
    EXPECT_EQ(events.subscription_count(), 3u);
}

TEST_F(EventManagerTest, AReceiverNoLongerRegisteredGetsNothing) {
    EventManager events(EventBounds{});
    auto kept = attach(events, async_options());
    auto gone = attach(events, async_options());
    events.publish_custom(custom_event("one"), nullptr);
    gone->receiver.reset();
    events.publish_custom(custom_event("two"), nullptr);
    EXPECT_EQ(kept->peer.seqs(), (Seqs{1, 2}));
    EXPECT_EQ(gone->peer.seqs(), (Seqs{1}));
    EXPECT_EQ(events.subscription_count(), 1u);
}

TEST_F(EventManagerTest, DeliveredRunsOnlyOnceEverySyncReceiverAcked) {
    EventManager events(EventBounds{});
    auto first = attach(events, sync_options("first"));
    auto second = attach(events, sync_options("second"));
    auto async = attach(events, async_options());
    int delivered = 0;
    int idle = 0;
    events.publish(create_event("a"), [&] { ++delivered; });
    events.when_idle([&] { ++idle; });

    EXPECT_EQ(delivered, 0);
    EXPECT_EQ(events.unreleased_events(), 1u);
    EXPECT_EQ(async->peer.seqs(), (Seqs{1})) << "async receivers do not hold it back";
    first->receiver->on_line("ok");
    EXPECT_EQ(delivered, 0) << "the second sync receiver has not acked yet";
    EXPECT_EQ(idle, 0);
    second->receiver->on_line(R"({"ack":1})");
    EXPECT_EQ(delivered, 1);
    EXPECT_EQ(idle, 1);
    EXPECT_EQ(events.unreleased_events(), 0u);
}

TEST_F(EventManagerTest, ASyncReceiverHoldsBackOnlyTheTypesItWants) {
    EventManager events(EventBounds{});
    ReceiverOptions creates = sync_options();
    creates.types = std::vector<std::string>{"create"};
    auto sync = attach(events, creates);
    int delivered = 0;
    events.publish_custom(custom_event("hello"), [&] { ++delivered; });
    EXPECT_EQ(delivered, 1);
    events.publish(create_event("a"), [&] { ++delivered; });
    EXPECT_EQ(delivered, 1);
    sync->receiver->on_line("ok");
    EXPECT_EQ(delivered, 2);
}

TEST_F(EventManagerTest, ASyncReceiverWithNoPeerDoesNotHoldAnyoneBack) {
    EventManager events(EventBounds{});
    Receiver down(events, &loop_, sync_options());  // a handler between two runs
    int delivered = 0;
    events.publish(create_event("a"), [&] { ++delivered; });
    EXPECT_EQ(delivered, 1);
    EXPECT_EQ(down.queued(), 1u) << "kept for the next run";
}

TEST_F(EventManagerTest, HistoryKeepsAtMostEventHistoryEvents) {
    EventManager events(EventBounds{.history_events = 3});
    for (int i = 0; i < 5; ++i) events.publish_custom(custom_event("e"), nullptr);

    Receiver replayed(events, &loop_, async_options());
    FakePeer peer;
    replayed.attach(&peer);
    EXPECT_EQ(events.replay(replayed, 3), std::nullopt);
    EXPECT_EQ(peer.seqs(), (Seqs{3, 4, 5}));

    auto lost = events.replay(replayed, 1);
    ASSERT_TRUE(lost);
    EXPECT_EQ(lost->code, wire::ErrorCode::history_lost);
    EXPECT_NE(lost->message.find("2 event(s) from seq 1 to 2"), std::string::npos) << lost->message;
    EXPECT_EQ(peer.seqs(), (Seqs{3, 4, 5})) << "a refused replay sends nothing";
}

TEST_F(EventManagerTest, HistoryKeepsAtMostEventHistoryBytes) {
    EventManager events(EventBounds{});
    auto recorder = attach(events, async_options());
    for (int i = 0; i < 5; ++i) events.publish_custom(custom_event("e", 100 * (i + 1)), nullptr);
    const auto& lines = recorder->peer.lines;
    ASSERT_EQ(lines.size(), 5u);

    // Room for the last two events and one byte short of the third from last.
    EventBounds bounds;
    bounds.history_bytes = lines[2].size() + lines[3].size() + lines[4].size() - 1;
    events.set_bounds(bounds);

    Receiver replayed(events, &loop_, async_options());
    FakePeer peer;
    replayed.attach(&peer);
    auto lost = events.replay(replayed, 3);
    ASSERT_TRUE(lost);
    EXPECT_EQ(lost->code, wire::ErrorCode::history_lost);
    EXPECT_NE(lost->message.find("1 event(s) from seq 3 to 3"), std::string::npos) << lost->message;
    EXPECT_EQ(events.replay(replayed, 4), std::nullopt);
    EXPECT_EQ(peer.lines, (std::vector<std::string>{lines[3], lines[4]}))
        << "the history keeps each line as it was published";

    // Published events keep within the bound too: this one is longer than seq 3's.
    events.publish_custom(custom_event("e", 600), nullptr);
    EXPECT_TRUE(events.replay(replayed, 4));
    EXPECT_EQ(events.replay(replayed, 5), std::nullopt);
}

TEST_F(EventManagerTest, ReplayGivesTheWantedHistoryThenTheLiveStreamWithNoGapOrRepeat) {
    EventManager events(EventBounds{});
    events.publish(create_event("a"), nullptr);
    events.publish_custom(custom_event("hello"), nullptr);
    events.publish(exit_event("a"), nullptr);

    // As `subscribe from_seq=2 types=[create,exit]` sets it up.
    ReceiverOptions options = async_options();
    options.types = std::vector<std::string>{"create", "exit"};
    options.min_seq = 2;
    Receiver r(events, &loop_, options);
    EXPECT_EQ(events.replay(r, 2), std::nullopt);
    FakePeer peer;
    r.attach(&peer);
    events.publish(create_event("b"), nullptr);
    events.publish_custom(custom_event("hello"), nullptr);
    EXPECT_EQ(peer.seqs(), (Seqs{3, 4}));
    EXPECT_EQ(peer.types(), (Types{"exit", "create"}));
}

TEST_F(EventManagerTest, ReplayFromBeyondTheLastSeqSendsNothing) {
    EventManager events(EventBounds{});
    events.publish_custom(custom_event("e"), nullptr);
    auto r = attach(events, async_options());
    EXPECT_EQ(events.replay(*r->receiver, 2), std::nullopt);
    EXPECT_EQ(events.replay(*r->receiver, 1000), std::nullopt);
    EXPECT_TRUE(r->peer.lines.empty());
}

TEST_F(EventManagerTest, ReplayedEventsHoldNobodyBack) {
    EventManager events(EventBounds{});
    events.publish_custom(custom_event("e"), nullptr);
    events.publish_custom(custom_event("e"), nullptr);
    auto sync = attach(events, sync_options());
    EXPECT_EQ(events.replay(*sync->receiver, 1), std::nullopt);
    EXPECT_EQ(sync->peer.seqs(), (Seqs{1})) << "one in flight, also when replayed";
    EXPECT_EQ(events.unreleased_events(), 0u);
    sync->receiver->on_line("ok");
    EXPECT_EQ(sync->peer.seqs(), (Seqs{1, 2}));
}

TEST_F(EventManagerTest, ACustomEventPastASyncBacklogIsRefusedWithLimitAndTakesNoSeq) {
    EventManager events(EventBounds{});
    auto probe = attach(events, async_options());
    events.publish_custom(custom_event("e", 200), nullptr);
    const std::size_t line = probe->peer.lines.at(0).size();
    probe->receiver.reset();

    EventBounds bounds;
    bounds.backlog_bytes = 3 * line;
    events.set_bounds(bounds);
    auto sync = attach(events, sync_options("slow"));
    auto async = attach(events, async_options());
    for (int i = 0; i < 3; ++i)
        ASSERT_TRUE(std::holds_alternative<uint64_t>(
            events.publish_custom(custom_event("e", 200), nullptr)));
    EXPECT_EQ(sync->receiver->backlog_bytes(), 3 * line);

    Failure f = refused(events.publish_custom(custom_event("e", 200), nullptr));
    EXPECT_EQ(f.code, wire::ErrorCode::limit);
    EXPECT_NE(f.message.find("sync subscriber (slow)"), std::string::npos) << f.message;
    EXPECT_NE(f.message.find("backlog_bytes"), std::string::npos) << f.message;
    EXPECT_EQ(events.last_seq(), 4u);
    EXPECT_EQ(async->peer.seqs(), (Seqs{2, 3, 4})) << "nobody saw the refused event";

    sync->receiver->on_line("ok");
    auto next = events.publish_custom(custom_event("e", 200), nullptr);
    ASSERT_TRUE(std::holds_alternative<uint64_t>(next)) << "an ack made room";
    EXPECT_EQ(std::get<uint64_t>(next), 5u);
}

TEST_F(EventManagerTest, BucketEventsAreRefusedAtCreateNeverAtExit) {
    EventManager events(EventBounds{});
    auto probe = attach(events, async_options());
    events.publish(create_event("bucket"), nullptr);
    const std::size_t line = probe->peer.lines.at(0).size();
    probe->receiver.reset();

    EventBounds bounds;
    bounds.backlog_bytes = 2 * line;
    events.set_bounds(bounds);
    ReceiverOptions exits = sync_options("exits");
    exits.types = std::vector<std::string>{"exit"};
    auto sync = attach(events, exits);
    ReceiverOptions hellos = sync_options("hellos");
    hellos.types = std::vector<std::string>{"hello"};
    auto unconcerned = attach(events, hellos);

    EXPECT_EQ(events.refuse_create("bucket"), std::nullopt);
    for (int i = 0; i < 3; ++i) events.publish(exit_event("bucket"), nullptr);
    EXPECT_GT(sync->receiver->backlog_bytes(), bounds.backlog_bytes)
        << "exit events are taken past the bound";
    EXPECT_EQ(sync->receiver->queued(), 3u);

    auto f = events.refuse_create("bucket");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->code, wire::ErrorCode::limit);
    EXPECT_NE(f->message.find("cannot create 'bucket'"), std::string::npos) << f->message;
    EXPECT_NE(f->message.find("sync subscriber (exits)"), std::string::npos) << f->message;
    EXPECT_EQ(events.last_seq(), 4u);

    for (int i = 0; i < 3; ++i) sync->receiver->on_line("ok");
    EXPECT_EQ(sync->receiver->backlog_bytes(), 0u);
    EXPECT_EQ(events.refuse_create("bucket"), std::nullopt);
    EXPECT_TRUE(unconcerned->peer.lines.empty());
}

}  // namespace
}  // namespace kvd::testing
