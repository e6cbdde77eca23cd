#include "daemon/event_manager.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "daemon/receiver.hpp"

namespace kvd {

EventManager::EventManager(EventBounds bounds) : bounds_(bounds) {}

uint64_t EventManager::publish(Event event, std::function<void()> delivered) {
    event.seq = ++last_seq_;
    event.time = std::chrono::system_clock::now();
    auto e = std::make_shared<PublishedEvent>();
    e->seq = event.seq;
    e->type = event.type;
    e->line = event.to_line();
    e->delivered = std::move(delivered);

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
    if (unreleased_events_ == 0) fn();
    else idle_waiters_.push_back(std::move(fn));
}

void EventManager::add(Receiver* r) { receivers_.push_back(r); }

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
