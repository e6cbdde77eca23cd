#include "daemon/event_manager.hpp"

#include <chrono>

namespace kvd {

EventManager::EventManager(std::size_t history_capacity) : history_capacity_(history_capacity) {}

void EventManager::publish(Event event, std::function<void()> delivered) {
    event.seq = ++last_seq_;
    event.time = std::chrono::system_clock::now();
    history_.push_back(std::move(event));
    while (history_.size() > history_capacity_) history_.pop_front();
    delivered();
}

}  // namespace kvd
