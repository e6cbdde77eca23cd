// daemon/receiver in async mode: events written as fast as the peer's stream takes them,
// counted until the peer reads them; at the `queue` or byte bound the oldest not yet written
// are dropped, and the peer gets one `dropped` event for them once it reads again. The peer is
// a fake that reads only when told; the receiver's poll for a reader runs on the test's loop.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/protocol.hpp"
#include "tests/unit/daemon/event_test_support.hpp"

namespace kvd::testing {
namespace {

using Seqs = std::vector<uint64_t>;
using Types = std::vector<std::string>;

// Big enough that three of these fill a stream's output past the point where an async
// receiver stops writing (256 KiB) and keeps the rest in its own queue.
constexpr std::size_t kBigEvent = 100 * 1024;

class AsyncReceiverTest : public EventLoopTest {
  protected:
    void publish(std::size_t count, std::size_t padding = 0) {
        for (std::size_t i = 0; i < count; ++i)
            events_.publish_custom(custom_event("e", padding), nullptr);
    }

    // The `dropped` line the peer got, parsed; fails the test unless there is exactly one.
    static Json the_dropped_event(const FakePeer& peer) {
        Json found;
        int n = 0;
        for (const auto& line : peer.lines) {
            Json j = Json::parse(line);
            if (j.at("type") == "dropped") {
                found = j;
                ++n;
            }
        }
        EXPECT_EQ(n, 1) << "dropped events written";
        return found;
    }

    EventManager events_{EventBounds{}};
};

TEST_F(AsyncReceiverTest, EventsAreWrittenAtOnceAndQueuedUntilThePeerReadsThem) {
    Receiver r(events_, &loop_, async_options(10));
    FakePeer peer;
    r.attach(&peer);
    int delivered = 0;
    events_.publish_custom(custom_event("e"), [&] { ++delivered; });
    publish(2);
    EXPECT_EQ(delivered, 1) << "nobody waits on an async receiver";
    EXPECT_EQ(peer.seqs(), (Seqs{1, 2, 3}));
    EXPECT_EQ(r.queued(), 3u);
    EXPECT_EQ(r.counters().delivered, 3u);
    EXPECT_GT(r.backlog_bytes(), 0u);

    peer.read_all();
    EXPECT_EQ(r.queued(), 0u);
}

TEST_F(AsyncReceiverTest, EventsWaitWithNoPeerAndAreWrittenOnAttach) {
    Receiver r(events_, &loop_, async_options(10));
    publish(2);
    EXPECT_EQ(r.queued(), 2u);
    FakePeer peer;
    r.attach(&peer);
    EXPECT_EQ(peer.seqs(), (Seqs{1, 2}));
}

TEST_F(AsyncReceiverTest, AtTheQueueLimitTheOldestUnwrittenAreDroppedAndReportedOnce) {
    Receiver r(events_, &loop_, async_options(5));
    FakePeer peer;
    r.attach(&peer);
    peer.stall();  // the peer reads nothing and its socket is full
    publish(3, kBigEvent);
    EXPECT_EQ(peer.seqs(), (Seqs{1, 2, 3}));
    publish(4, kBigEvent);  // 4 and 5 wait in the queue; 6 and 7 push them out
    EXPECT_EQ(peer.seqs(), (Seqs{1, 2, 3})) << "the stream holds enough already";
    EXPECT_EQ(r.queued(), 5u);
    EXPECT_EQ(r.counters().dropped, 2u);

    // The peer reads: the socket takes what waited and the receiver writes the rest, the
    // dropped event first.
    peer.unstall();
    peer.read_all();
    ASSERT_TRUE(run_until([&] { return peer.lines.size() == 6; }));
    EXPECT_EQ(peer.types(), (Types{"e", "e", "e", "dropped", "e", "e"}));
    EXPECT_EQ(peer.seqs(), (Seqs{1, 2, 3, 5, 6, 7})) << "dropped carries the last lost seq";
    EXPECT_EQ(the_dropped_event(peer).at("count"), 2);
    EXPECT_EQ(r.counters().delivered, 5u);
    EXPECT_EQ(r.counters().dropped, 2u);
}

TEST_F(AsyncReceiverTest, ThePeerGetsTheDroppedEventOnlyOnceItReadsAgain) {
    Receiver r(events_, &loop_, async_options(3));
    FakePeer peer;
    r.attach(&peer);
    publish(3);
    publish(4);  // all of the first three were written: each new one is the oldest unwritten
    EXPECT_EQ(peer.seqs(), (Seqs{1, 2, 3}));
    EXPECT_EQ(r.queued(), 3u);
    EXPECT_EQ(r.counters().dropped, 4u);

    // Reading makes room; the receiver notices by polling, as no event comes to wake it.
    peer.read_all();
    ASSERT_TRUE(run_until([&] { return peer.lines.size() == 4; }));
    Json dropped = the_dropped_event(peer);
    EXPECT_EQ(dropped.at("count"), 4);
    EXPECT_EQ(dropped.at("seq"), 7);
    EXPECT_EQ(r.queued(), 0u) << "the dropped line is not an event of the queue";

    publish(1);
    EXPECT_EQ(peer.seqs(), (Seqs{1, 2, 3, 7, 8}));
    EXPECT_EQ(r.counters().dropped, 4u);
}

TEST_F(AsyncReceiverTest, TheByteBoundDropsLikeTheQueueLimit) {
    // One event's line, to set the bound at three of them.
    std::size_t line = 0;
    {
        Receiver probe(events_, &loop_, async_options());
        FakePeer peer;
        probe.attach(&peer);
        publish(1, 500);
        line = peer.lines.at(0).size();
    }
    EventBounds bounds;
    bounds.backlog_bytes = 3 * line;  // no room for a dropped line until the peer reads
    events_.set_bounds(bounds);
    Receiver r(events_, &loop_, async_options(1000));
    FakePeer peer;
    r.attach(&peer);
    publish(5, 500);
    EXPECT_EQ(peer.seqs(), (Seqs{2, 3, 4}));
    EXPECT_EQ(r.counters().dropped, 2u);
    EXPECT_LE(r.backlog_bytes(), bounds.backlog_bytes);

    peer.read_all();
    publish(1, 500);
    EXPECT_EQ(peer.types(), (Types{"e", "e", "e", "dropped", "e"}));
    EXPECT_EQ(peer.seqs(), (Seqs{2, 3, 4, 6, 7}));
}

TEST_F(AsyncReceiverTest, ASubscriberMayHoldAReplayOfTheWholeHistory) {
    EventBounds bounds;
    bounds.backlog_bytes = 1000;
    bounds.history_bytes = 100000;
    events_.set_bounds(bounds);
    publish(20, 100);

    ReceiverOptions options = async_options(1000);
    options.backlog_holds_history = true;
    Receiver r(events_, &loop_, options);
    EXPECT_EQ(r.backlog_limit(), 100000u);
    EXPECT_EQ(events_.replay(r, 1), std::nullopt);
    FakePeer peer;
    r.attach(&peer);
    EXPECT_EQ(peer.lines.size(), 20u);
    EXPECT_EQ(r.counters().dropped, 0u);
}

TEST_F(AsyncReceiverTest, TheBacklogAndPendingDropsAreHandedOver) {
    auto old = std::make_unique<Receiver>(events_, &loop_, async_options(2));
    publish(4);  // no peer: 1 and 2 are dropped for 3 and 4
    EXPECT_EQ(old->counters().dropped, 2u);
    Receiver::Backlog backlog = old->take_backlog();
    old.reset();
    EXPECT_EQ(backlog.dropped, 2u);
    EXPECT_EQ(backlog.dropped_last_seq, 2u);

    Receiver successor(events_, &loop_, async_options(10));
    publish(1);
    successor.adopt(std::move(backlog));
    FakePeer peer;
    successor.attach(&peer);
    EXPECT_EQ(peer.types(), (Types{"dropped", "e", "e", "e"}));
    EXPECT_EQ(peer.seqs(), (Seqs{2, 3, 4, 5}));
}

}  // namespace
}  // namespace kvd::testing
