// The event manager (GenEvent): numbers every event with the global seq, serialises it once,
// keeps the history ring for `subscribe from_seq`, and fans it out to every Receiver (handler
// processes and subscribed clients) whose filter wants it.
//
// Sync semantics (sync_notify): publish() takes a `delivered` callback that runs once every
// sync receiver released the event: acked it, timed out on it, or went away. The caller (a
// `create` reply, a `stop` reply, `notify --sync`) waits for that: backpressure.
//
// Bounds ([daemon] event_history, event_history_bytes, backlog_bytes): the history ring keeps
// at most so many events in so many bytes, evicting the oldest. A sync receiver never loses
// an event, so its backlog is bounded by refusing new work instead: a custom event that would
// take a sync receiver that wants it past its bound is not published (`limit`), nor is a
// bucket created whose create event would (checked against every sync receiver that wants
// create or exit events: the bucket's exit will be owed to it too). Exit events are never
// refused; each live bucket has at most one to come, so a sync receiver's backlog is at most
// its bound plus one exit event per live bucket. Async receivers drop instead (receiver.hpp).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/event.hpp"
#include "daemon/outcome.hpp"

namespace kvd {

class Receiver;

// One published event, shared by every receiver's queue and the history ring.
struct PublishedEvent {
    uint64_t seq = 0;
    std::string type;
    std::string line;  // the JSON line, '\n'-terminated
    // Sync receivers that still hold it back; `delivered` runs when this reaches zero.
    std::size_t unreleased = 0;
    std::function<void()> delivered;
};
using EventPtr = std::shared_ptr<PublishedEvent>;

// The byte and count bounds of the config's [daemon] section that the event manager applies.
struct EventBounds {
    std::size_t history_events = 10000;
    std::size_t history_bytes = 32 * 1024 * 1024;
    std::size_t backlog_bytes = 16 * 1024 * 1024;
};

class EventManager {
  public:
    explicit EventManager(EventBounds bounds);
    EventManager(const EventManager&) = delete;
    EventManager& operator=(const EventManager&) = delete;

    // Numbers and publishes `event`; `delivered` runs once every sync receiver released it
    // (at once when there is none). Returns the event's seq.
    uint64_t publish(Event event, std::function<void()> delivered);
    // The same for a custom event, unless a sync receiver that wants it has no room for it
    // (its backlog would pass its bound): then nothing is published and the failure
    // (`limit`) names that receiver and the bound.
    std::variant<uint64_t, Failure> publish_custom(Event event, std::function<void()> delivered);
    // Why a bucket named `bucket` cannot be created now (its create event would take a sync
    // receiver that wants create or exit events past its bound), or nullopt when it can.
    std::optional<Failure> refuse_create(std::string_view bucket) const;

    // Receivers register for their lifetime.
    void add(Receiver* r);
    void remove(Receiver* r);

    // Gives `r` every event in the history with seq >= from_seq (that it wants), in order,
    // before any live event. Failure `history_lost` when some of them are gone already.
    std::optional<Failure> replay(Receiver& r, uint64_t from_seq);

    // Called by a receiver when it lets go of a sync event.
    void release(PublishedEvent& e);

    // Runs `fn` once no sync event is waiting for a receiver (at once if none is).
    void when_idle(std::function<void()> fn);

    // Applies (re)loaded bounds; the history sheds its oldest events if it is over them.
    void set_bounds(EventBounds bounds);
    const EventBounds& bounds() const { return bounds_; }
    uint64_t last_seq() const { return last_seq_; }
    // The history ring's events and the bytes of their lines.
    std::size_t history_size() const { return history_.size(); }
    std::size_t history_bytes() const { return history_bytes_; }
    std::size_t handler_count() const;
    std::size_t subscription_count() const;
    std::size_t unreleased_events() const { return unreleased_events_; }

  private:
    EventPtr make_event(Event& event, std::function<void()> delivered);
    uint64_t fan_out(EventPtr e);
    void trim_history();

    EventBounds bounds_;
    uint64_t last_seq_ = 0;
    std::deque<EventPtr> history_;
    std::size_t history_bytes_ = 0;  // the lines of the events in history_
    std::vector<Receiver*> receivers_;
    std::size_t unreleased_events_ = 0;
    std::vector<std::function<void()>> idle_waiters_;
};

}  // namespace kvd
