// One destination of events: a handler process or a subscribed client. It owns the queue of
// events not yet written (async) or not yet acknowledged (sync) and talks to the peer over a
// PeerStream that may come and go (a handler restarts; a client leaves).
//
// sync:  one event in flight; the next is written only after its ack (`ok` / {"ack":SEQ}).
//        An event stays queued until acked, so a restarted handler gets it again (at least
//        once, in order). The operation waiting on it is released on ack, on ack_timeout, or
//        at once while the peer is down, so no caller waits on a dead handler. Nothing is
//        ever dropped: the event manager refuses new work while the backlog is at its bound
//        (backlog_limit(); see event_manager.hpp).
// async: events are written as fast as the peer's socket takes them, and the receiver keeps
//        count of those the peer has not read yet (PeerStream::unread_by_peer). Events not
//        yet read, written or not, are at most `queue` and at most backlog_limit() bytes: on
//        overflow the oldest not yet written is dropped, and once the peer has read one of
//        those written before, it first gets one `dropped` event with the count (its seq is
//        that of the last event it stands for).
#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/duration.hpp"
#include "common/lifetime.hpp"
#include "daemon/config.hpp"
#include "daemon/event_manager.hpp"
#include "daemon/peer_stream.hpp"
#include "daemon/uv/timer.hpp"

namespace kvd {

struct ReceiverOptions {
    std::string name;
    bool is_handler = false;
    HandlerMode mode = HandlerMode::async;
    std::optional<std::vector<std::string>> types;  // nullopt: every type
    std::size_t queue_limit = 1000;                 // async
    Millis ack_timeout{5000};                       // sync
    uint64_t min_seq = 0;                           // events below this are not wanted
    // An async subscriber's backlog may hold a replay of the whole history ring (subscribe
    // from_seq): its bound is the larger of backlog_bytes and event_history_bytes.
    bool backlog_holds_history = false;
};

struct ReceiverCounters {
    uint64_t delivered = 0;  // events written to the peer
    uint64_t acked = 0;
    uint64_t dropped = 0;
    uint64_t ack_timeouts = 0;
};

class Receiver {
  public:
    Receiver(EventManager& events, uv_loop_t* loop, ReceiverOptions options);
    ~Receiver();
    Receiver(const Receiver&) = delete;
    Receiver& operator=(const Receiver&) = delete;

    bool wants(std::string_view type) const;
    bool is_sync() const { return options_.mode == HandlerMode::sync; }
    bool is_handler() const { return options_.is_handler; }
    const ReceiverOptions& options() const { return options_; }
    const ReceiverCounters& counters() const { return counters_; }
    // Events not yet acknowledged (sync), or not yet read by the peer (async).
    std::size_t queued() const;
    // The bytes of the events this receiver holds for its peer: the queued ones, and for an
    // async one those written that the peer may not have read yet.
    std::size_t backlog_bytes() const { return queue_bytes_ + written_bytes_; }
    // [daemon] backlog_bytes, or with backlog_holds_history the larger of it and
    // event_history_bytes.
    std::size_t backlog_limit() const;
    // The config key backlog_limit() comes from, for messages.
    std::string_view backlog_limit_key() const;
    // "handler 'NAME'" or "sync subscriber (client N)", for messages.
    std::string describe() const;

    // From the EventManager: a live event (sync ones count toward its `delivered`).
    void enqueue(const EventPtr& e);
    // A replayed event: nobody waits on it.
    void enqueue_replayed(const EventPtr& e);

    // The peer is reachable through `stream` (not owned; it must stay valid until detach(),
    // close(), take_backlog() or the receiver's end) from now on.
    void attach(PeerStream* stream);
    // The peer is gone for now (a handler exited): queued sync events stay for redelivery,
    // but nobody waits on them any more.
    void detach();
    // The peer is gone for good (a handler that will not run again): leaves the event
    // manager and lets go of what is queued, so that nothing piles up for nobody.
    void close();
    // A line the peer wrote (acks in sync mode).
    void on_line(std::string_view line);

    // Events this receiver holds for its peer, oldest first: the one in flight and the
    // queued ones. A receiver that is replaced (a handler whose config changed on reload)
    // hands them to its successor, so nothing that was owed to the peer is lost.
    struct Backlog {
        std::deque<std::pair<EventPtr, bool>> events;  // event, released
        uint64_t dropped = 0;                          // async: drops not yet reported
        uint64_t dropped_last_seq = 0;
    };
    // Leaves the event manager and gives up the backlog; nothing is released.
    Backlog take_backlog();
    // Takes a predecessor's backlog ahead of anything this receiver was given: events it
    // does not want, or that nobody may wait on here (async, or no peer yet), are released.
    void adopt(Backlog backlog);

    // What the owner does when an ack does not come in time (restart a handler, drop a
    // client). The event stays queued and is released.
    std::function<void()> on_ack_timeout;
    // A line that is not an ack from a sync peer, or any line from an async one.
    std::function<void(std::string_view)> on_unexpected_line;

  private:
    struct Entry {
        EventPtr event;
        bool released;  // true once nobody waits on this receiver for it
    };
    // async: a line written to the peer that it may not have read yet.
    struct Written {
        std::size_t bytes;
        bool event;  // false for a `dropped` line
    };

    void push(Entry e);
    Entry pop_front();
    // async: takes `e` in, dropping the oldest unwritten events (or `e` itself) to stay
    // within `queue` and the byte bound.
    void admit_async(const EventPtr& e);
    bool fits_async(std::size_t events, std::size_t bytes) const;
    void drop_front();
    void count_drop(uint64_t seq);
    // async: the oldest written lines the peer has certainly read by now, whole.
    struct ReadPrefix {
        std::size_t lines = 0, bytes = 0, events = 0;
    };
    ReadPrefix read_prefix() const;
    // async: forgets them.
    void forget_read();
    std::size_t unread_written_events() const;
    void write_line(std::string_view line, bool event);
    void pump();
    void wait_for_reader();
    void release(Entry& e);
    void release_all();
    void start_ack_timer();

    EventManager& events_;
    uv_loop_t* loop_;
    ReceiverOptions options_;
    ReceiverCounters counters_;
    std::deque<Entry> queue_;
    std::size_t queue_bytes_ = 0;  // the lines of the events in queue_
    std::deque<Written> written_;  // async, oldest first
    std::size_t written_bytes_ = 0;
    std::size_t written_events_ = 0;
    PeerStream* stream_ = nullptr;
    bool in_flight_ = false;  // sync: the head was written and awaits its ack
    uint64_t dropped_pending_ = 0;
    uint64_t dropped_last_seq_ = 0;
    bool waiting_for_drain_ = false;
    std::unique_ptr<uv::Timer> ack_timer_;
    // async: polls for the peer to read while a `dropped` event waits for room (a socket
    // says when it can take more bytes, not when the peer has read some).
    std::unique_ptr<uv::Timer> reader_timer_;
    Lifetime lifetime_;  // see common/lifetime.hpp
};

}  // namespace kvd
