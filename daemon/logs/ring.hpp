// The lines kept in memory for one bucket, bounded in bytes ([bucket] log_buffer): the
// newest lines that fit, counting each line's text plus kEntryOverhead for its bookkeeping.
// Older lines make room for newer ones; that is retention, not loss. Pure.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "daemon/logs/log_line.hpp"

namespace kvd::logs {

class LogRing {
  public:
    // What one line costs beside its text (the entry, the string's header, the deque slot).
    static constexpr std::size_t kEntryOverhead = 64;

    explicit LogRing(std::size_t max_bytes) : max_bytes_(max_bytes) {}

    // A smaller bound drops the oldest lines at once.
    void set_limit(std::size_t max_bytes);
    // Keeps `entry` as the newest line, dropping the oldest to stay within the bound.
    const LogEntry& push(LogEntry entry);
    // The newest `n` lines (of stream `only`, if given), oldest first.
    std::vector<const LogEntry*> tail(std::size_t n, std::optional<Stream> only) const;

    std::size_t size() const { return entries_ ? entries_->size() : 0; }
    std::size_t bytes() const { return bytes_; }

  private:
    static std::size_t cost(const LogEntry& e) { return e.text.size() + kEntryOverhead; }
    void trim();

    std::size_t max_bytes_;
    std::size_t bytes_ = 0;
    // Made at the first line: an empty std::deque costs about 600 bytes, and most buckets
    // of 10,000 never write a line.
    std::unique_ptr<std::deque<LogEntry>> entries_;
};

}  // namespace kvd::logs
