#include "daemon/logs/ring.hpp"

#include <algorithm>

namespace kvd::logs {

void LogRing::set_limit(std::size_t max_bytes) {
    max_bytes_ = max_bytes;
    trim();
}

const LogEntry& LogRing::push(LogEntry entry) {
    bytes_ += cost(entry);
    if (!entries_) entries_ = std::make_unique<std::deque<LogEntry>>();
    entries_->push_back(std::move(entry));
    trim();
    return entries_->back();
}

void LogRing::trim() {
    // The newest line always stays, whatever its size.
    if (!entries_) return;
    while (bytes_ > max_bytes_ && entries_->size() > 1) {
        bytes_ -= cost(entries_->front());
        entries_->pop_front();
    }
}

std::vector<const LogEntry*> LogRing::tail(std::size_t n, std::optional<Stream> only) const {
    std::vector<const LogEntry*> out;
    if (!entries_) return out;
    for (auto it = entries_->rbegin(); it != entries_->rend() && out.size() < n; ++it)
        if (!only || it->stream == *only) out.push_back(&*it);
    std::reverse(out.begin(), out.end());
    return out;
}

}  // namespace kvd::logs
