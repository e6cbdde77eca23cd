#include "daemon/event_manager.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "common/wire.hpp"
#include "daemon/receiver.hpp"

namespace kvd {

namespace {
// A pid with as many digits as any (Linux pids are at most 2^22), to size a create event
// before its process exists.
constexpr pid_t kLongestPid = 4194304;
}  // namespace

EventManager::EventManager(EventBounds bounds) : bounds_(bounds) {}

EventPtr EventManager::make_event(Event& event, std::function<void()> delivered) {
    // The seq is taken only when the event is published (fan_out): a refused one uses none.
    event.seq = last_seq_ + 1;
    event.time = std::chrono::system_clock::now();
    auto e = std::make_shared<PublishedEvent>();
    e->seq = event.seq;
    e->type = event.type;
    e->line = event.to_line();
    e->delivered = std::move(delivered);
    return e;
}

uint64_t EventManager::publish(Event event, std::function<void()> delivered) {
    return fan_out(make_event(event, std::move(delivered)));
}

std::variant<uint64_t, Failure> EventManager::publish_custom(Event event,
                                                             std::function<void()> delivered) {
    EventPtr e = make_event(event, std::move(delivered));
    for (Receiver* r : receivers_) {
        if (!r->is_sync() || !r->wants(e->type) || e->seq < r->options().min_seq) continue;
        if (r->backlog_bytes() + e->line.size() <= r->backlog_limit()) continue;
        return Failure{wire::ErrorCode::limit,
                       fmt::format("event not published: {} has {} bytes of events it has not "
                                   "acknowledged, and this one ({} bytes) would pass its bound "
                                   "of {} bytes ({})",
                                   r->describe(), r->backlog_bytes(), e->line.size(),
                                   r->backlog_limit(), r->backlog_limit_key())};
    }
    return fan_out(std::move(e));
}

std::optional<Failure> EventManager::refuse_create(std::string_view bucket) const {
    std::size_t bytes = 0;  // its create event's line, at most
    for (const Receiver* r : receivers_) {
        if (!r->is_sync() || (!r->wants(wire::event::kCreate) && !r->wants(wire::event::kExit)))
            continue;
        if (bytes == 0) {
            Event ev;
            ev.seq = last_seq_ + 1;
            ev.type = wire::event::kCreate;
            ev.bucket = bucket;
            ev.pid = kLongestPid;
            ev.time = std::chrono::system_clock::now();
            bytes = ev.to_line().size();
        }
        if (r->backlog_bytes() + bytes <= r->backlog_limit()) continue;
        return Failure{wire::ErrorCode::limit,
                       fmt::format("cannot create '{}': {} has {} bytes of events it has not "
                                   "acknowledged, no room for another within its bound of {} "
                                   "bytes ({}); no bucket is created until it catches up",
                                   bucket, r->describe(), r->backlog_bytes(), r->backlog_limit(),
                                   r->backlog_limit_key())};
    }
    return std::nullopt;
}

uint64_t EventManager::fan_out(EventPtr e) {
    last_seq_ = e->seq;
    if (bounds_.history_events > 0) {
        history_bytes_ += e->line.size();
        history_.push_back(e);
        trim_history();
    }

    // A guard reference: receivers may release synchronously (one that is down, say) and
    // `delivered` must not run before every receiver had its turn.
    e->unreleased = 1;
    ++unreleased_events_;
    for (std::size_t i = 0; i < receivers_.size(); ++i) {
        Receiver* r = receivers_[i];
        if (!r->wants(e->type) || e->seq < r->options().min_seq) continue;
        if (r->is_sync()) ++e->unreleased;
        r->enqueue(e);
    }
    uint64_t seq = e->seq;
    release(*e);
    return seq;
}

void EventManager::trim_history() {
    while (!history_.empty() &&
           (history_.size() > bounds_.history_events || history_bytes_ > bounds_.history_bytes)) {
        history_bytes_ -= history_.front()->line.size();
        history_.pop_front();
    }
}

void EventManager::release(PublishedEvent& e) {
    if (e.unreleased == 0) return;
    if (--e.unreleased > 0) return;
    --unreleased_events_;
    if (auto fn = std::move(e.delivered)) {
        e.delivered = nullptr;
        fn();
    }
    if (unreleased_events_ == 0 && !idle_waiters_.empty()) {
        auto waiters = std::move(idle_waiters_);
        idle_waiters_.clear();
        for (auto& w : waiters) w();
    }
}

void EventManager::when_idle(std::function<void()> fn) {
    if (unreleased_events_ == 0)
        fn();
    else
        idle_waiters_.push_back(std::move(fn));
}

void EventManager::add(Receiver* r) {
    receivers_.push_back(r);
}

void EventManager::remove(Receiver* r) {
    receivers_.erase(std::remove(receivers_.begin(), receivers_.end(), r), receivers_.end());
}

std::optional<Failure> EventManager::replay(Receiver& r, uint64_t from_seq) {
    if (from_seq == 0) from_seq = 1;
    if (from_seq > last_seq_) return std::nullopt;  // nothing published from there yet
    uint64_t oldest = history_.empty() ? last_seq_ + 1 : history_.front()->seq;
    if (from_seq < oldest) {
        uint64_t lost = oldest - from_seq;
        return Failure{wire::ErrorCode::history_lost,
                       fmt::format("{} event(s) from seq {} to {} are gone from the history "
                                   "(it keeps at most {} events in {} bytes; the oldest kept "
                                   "is seq {})",
                                   lost, from_seq, oldest - 1, bounds_.history_events,
                                   bounds_.history_bytes, oldest)};
    }
    for (const EventPtr& e : history_) {
        if (e->seq < from_seq || !r.wants(e->type)) continue;
        // Replayed events are past: nobody is waiting on them any more.
        r.enqueue_replayed(e);
    }
    return std::nullopt;
}

void EventManager::set_bounds(EventBounds bounds) {
    bounds_ = bounds;
    trim_history();
}

std::size_t EventManager::handler_count() const {
    return static_cast<std::size_t>(std::count_if(receivers_.begin(), receivers_.end(),
                                                  [](Receiver* r) { return r->is_handler(); }));
}

std::size_t EventManager::subscription_count() const {
    return receivers_.size() - handler_count();
}

}  // namespace kvd
