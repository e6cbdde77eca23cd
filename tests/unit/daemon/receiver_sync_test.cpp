// daemon/receiver in sync mode: one event in flight, the next only after its ack, the ack
// timeout, a peer that goes away and comes back, and the backlog handed to a successor on
// reload. The peer is a fake; the ack timer is a real timer on the test's loop.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/unit/daemon/event_test_support.hpp"

namespace kvd::testing {
namespace {

using Seqs = std::vector<uint64_t>;
using std::chrono::milliseconds;

class SyncReceiverTest : public EventLoopTest {
  protected:
    // Publishes a custom event whose `delivered` marks it in `delivered_`.
    uint64_t publish(std::string type = "e") {
        uint64_t seq = events_.last_seq() + 1;
        events_.publish(custom_event(std::move(type)), [this, seq] { delivered_.push_back(seq); });
        return seq;
    }

    EventManager events_{EventBounds{}};
    Seqs delivered_;  // the seqs whose `delivered` ran, in that order
};

TEST_F(SyncReceiverTest, OneEventInFlightAndTheNextOnlyAfterItsAck) {
    Receiver r(events_, &loop_, sync_options());
    FakePeer peer;
    r.attach(&peer);
    publish();
    publish();
    publish();
    EXPECT_EQ(peer.seqs(), (Seqs{1}));
    EXPECT_EQ(r.queued(), 3u);

    r.on_line("ok");
    EXPECT_EQ(peer.seqs(), (Seqs{1, 2}));
    EXPECT_EQ(delivered_, (Seqs{1}));
    r.on_line(R"({"ack":2})");
    EXPECT_EQ(peer.seqs(), (Seqs{1, 2, 3}));
    EXPECT_EQ(delivered_, (Seqs{1, 2}));
    r.on_line("  ok\r");
    EXPECT_EQ(delivered_, (Seqs{1, 2, 3}));

    EXPECT_EQ(r.queued(), 0u);
    EXPECT_EQ(r.counters().delivered, 3u);
    EXPECT_EQ(r.counters().acked, 3u);
    EXPECT_EQ(r.backlog_bytes(), 0u);
}

TEST_F(SyncReceiverTest, LinesThatDoNotAckTheEventInFlightAreUnexpected) {
    Receiver r(events_, &loop_, sync_options());
    std::vector<std::string> unexpected;
    r.on_unexpected_line = [&](std::string_view line) { unexpected.emplace_back(line); };
    FakePeer peer;
    r.attach(&peer);

    r.on_line("ok");  // nothing in flight
    publish();
    r.on_line(R"({"ack":7})");  // another seq
    r.on_line("hello");
    r.on_line(R"({"ack":-1})");
    EXPECT_EQ(unexpected,
              (std::vector<std::string>{"ok", R"({"ack":7})", "hello", R"({"ack":-1})"}));
    EXPECT_TRUE(delivered_.empty());
    EXPECT_EQ(r.counters().acked, 0u);
    r.on_line(R"({"ack":1})");
    EXPECT_EQ(delivered_, (Seqs{1}));
}

TEST_F(SyncReceiverTest, AnAckTimeoutReleasesTheEventAndKeepsItForTheNextPeer) {
    ReceiverOptions options = sync_options();
    options.ack_timeout = milliseconds(5);
    Receiver r(events_, &loop_, options);
    int timeouts = 0;
    r.on_ack_timeout = [&] { ++timeouts; };
    FakePeer peer;
    r.attach(&peer);
    publish();
    publish();

    ASSERT_TRUE(run_until([&] { return timeouts > 0; }));
    EXPECT_EQ(timeouts, 1);
    EXPECT_EQ(delivered_, (Seqs{1})) << "whoever waited on seq 1 goes on; seq 2 still waits";
    EXPECT_EQ(r.counters().ack_timeouts, 1u);
    EXPECT_EQ(peer.seqs(), (Seqs{1})) << "nothing more is written to a peer that timed out";
    EXPECT_EQ(r.queued(), 2u);

    // The owner replaces the peer (a handler restarts): seq 1 is written again.
    r.detach();
    EXPECT_EQ(delivered_, (Seqs{1, 2}));
    FakePeer next;
    r.attach(&next);
    EXPECT_EQ(next.seqs(), (Seqs{1}));
    r.on_line("ok");
    r.on_line("ok");
    EXPECT_EQ(next.seqs(), (Seqs{1, 2}));
    EXPECT_EQ(r.queued(), 0u);
    EXPECT_EQ(timeouts, 1) << "the acks came in time";
}

TEST_F(SyncReceiverTest, AnAckStopsTheAckTimer) {
    ReceiverOptions options = sync_options();
    options.ack_timeout = milliseconds(20);
    Receiver r(events_, &loop_, options);
    int timeouts = 0;
    r.on_ack_timeout = [&] { ++timeouts; };
    FakePeer peer;
    r.attach(&peer);
    publish();
    r.on_line("ok");
    // The loop has nothing left to run once the timer is stopped: it returns at once.
    EXPECT_EQ(uv_run(&loop_, UV_RUN_DEFAULT), 0);
    EXPECT_EQ(timeouts, 0);
}

TEST_F(SyncReceiverTest, DetachReleasesWaitersButKeepsEventsForRedeliveryInOrder) {
    Receiver r(events_, &loop_, sync_options());
    FakePeer peer;
    r.attach(&peer);
    publish();
    publish();
    r.on_line("ok");
    publish();
    EXPECT_EQ(delivered_, (Seqs{1}));

    r.detach();  // the handler exited with seq 2 in flight
    EXPECT_EQ(delivered_, (Seqs{1, 2, 3}));
    publish();  // while it is down, nobody waits on it
    EXPECT_EQ(delivered_, (Seqs{1, 2, 3, 4}));
    EXPECT_EQ(r.queued(), 3u);
    EXPECT_EQ(events_.unreleased_events(), 0u);

    FakePeer restarted;
    r.attach(&restarted);
    for (int i = 0; i < 3; ++i) r.on_line("ok");
    EXPECT_EQ(restarted.seqs(), (Seqs{2, 3, 4}));
    EXPECT_EQ(r.queued(), 0u);
}

TEST_F(SyncReceiverTest, ClosedReceiverLetsGoOfEverything) {
    Receiver r(events_, &loop_, sync_options());
    FakePeer peer;
    r.attach(&peer);
    publish();
    publish();
    r.close();
    EXPECT_EQ(delivered_, (Seqs{1, 2}));
    EXPECT_EQ(r.queued(), 0u);
    publish();
    EXPECT_EQ(r.queued(), 0u) << "it left the event manager";
    EXPECT_EQ(events_.handler_count() + events_.subscription_count(), 0u);
}

TEST_F(SyncReceiverTest, TheBacklogIsHandedOverInOrderAheadOfNewerEvents) {
    ReceiverOptions options = sync_options("audit");
    options.is_handler = true;
    auto old = std::make_unique<Receiver>(events_, &loop_, options);
    FakePeer old_peer;
    old->attach(&old_peer);
    publish();
    publish();
    publish();
    old->on_line("ok");
    EXPECT_EQ(old_peer.seqs(), (Seqs{1, 2}));

    // As HandlerSet::reload replaces a handler: take, then adopt before the new one runs.
    Receiver::Backlog backlog = old->take_backlog();
    EXPECT_EQ(backlog.events.size(), 2u);
    publish();  // only the new receiver, once registered, can hold it
    EXPECT_EQ(delivered_, (Seqs{1, 4}));
    auto successor = std::make_unique<Receiver>(events_, &loop_, options);
    publish();
    successor->adopt(std::move(backlog));
    EXPECT_EQ(delivered_, (Seqs{1, 4, 5, 2, 3})) << "nobody waits on a receiver with no peer";
    old.reset();
    EXPECT_EQ(events_.handler_count(), 1u);

    FakePeer new_peer;
    successor->attach(&new_peer);
    for (int i = 0; i < 3; ++i) successor->on_line("ok");
    EXPECT_EQ(new_peer.seqs(), (Seqs{2, 3, 5}));
    EXPECT_EQ(successor->queued(), 0u);
}

TEST_F(SyncReceiverTest, AnAttachedSuccessorHoldsTheAdoptedEventsUntilAcked) {
    auto old = std::make_unique<Receiver>(events_, &loop_, sync_options());
    FakePeer old_peer;
    old->attach(&old_peer);
    publish();
    publish("other");
    Receiver::Backlog backlog = old->take_backlog();
    old.reset();

    ReceiverOptions options = sync_options();
    options.types = std::vector<std::string>{"e"};
    Receiver successor(events_, &loop_, options);
    FakePeer peer;
    successor.attach(&peer);
    successor.adopt(std::move(backlog));
    EXPECT_EQ(delivered_, (Seqs{2})) << "an event the successor does not want is released";
    EXPECT_EQ(peer.seqs(), (Seqs{1}));
    successor.on_line("ok");
    EXPECT_EQ(delivered_, (Seqs{2, 1}));
}

// The owner's callbacks may destroy the receiver (a client dropped on ack timeout, an
// operation completed by an ack that closes the connection): nothing may touch it after.
TEST_F(SyncReceiverTest, ACallbackMayDestroyTheReceiver) {
    ReceiverOptions options = sync_options();
    options.ack_timeout = milliseconds(1);
    auto r = std::make_unique<Receiver>(events_, &loop_, options);
    r->on_ack_timeout = [&] { r.reset(); };
    FakePeer peer;
    r->attach(&peer);
    publish();
    publish();
    ASSERT_TRUE(run_until([&] { return r == nullptr; }));
    EXPECT_EQ(delivered_, (Seqs{1, 2}));

    r = std::make_unique<Receiver>(events_, &loop_, sync_options());
    r->attach(&peer);
    events_.publish(custom_event("e"), [&] { r.reset(); });
    publish();
    r->on_line("ok");
    EXPECT_EQ(r, nullptr);
    EXPECT_EQ(delivered_, (Seqs{1, 2, 4}));
}

}  // namespace
}  // namespace kvd::testing
