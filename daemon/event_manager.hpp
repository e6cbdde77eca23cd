// The event manager (GenEvent): numbers every event with the global seq, keeps the history
// ring, and fans events out to handlers and subscriptions.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>

#include "common/event.hpp"

namespace kvd {

class EventManager {
public:
    explicit EventManager(std::size_t history_capacity);
    EventManager(const EventManager&) = delete;
    EventManager& operator=(const EventManager&) = delete;

    // Numbers and publishes `event`; `delivered` runs once every sync receiver acknowledged
    // it (at once when there is none).
    void publish(Event event, std::function<void()> delivered);

    uint64_t last_seq() const { return last_seq_; }
    std::size_t handler_count() const { return 0; }
    std::size_t subscription_count() const { return 0; }

private:
    std::size_t history_capacity_;
    uint64_t last_seq_ = 0;
    std::deque<Event> history_;
};

}  // namespace kvd
