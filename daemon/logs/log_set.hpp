// Every bucket's log, by bucket name: what the registry keeps of its buckets' output.
//
// A log is made when a bucket of that name first starts and continues across its restarts.
// When the bucket leaves the registry its followers are told the end (once its pipes are
// drained) and the log is kept for kGoneLinger, so `logs NAME` still shows why a bucket
// died; at most kMaxGoneLogs logs of gone buckets are kept, the oldest dropped first.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "daemon/config.hpp"
#include "daemon/logs/bucket_log.hpp"
#include "daemon/logs/capture.hpp"

namespace kvd::logs {

inline constexpr uint64_t kGoneLingerMs = 5 * 60 * 1000;
inline constexpr std::size_t kMaxGoneLogs = 100;

// The log settings of a [bucket] table.
LogSettings log_settings(const BucketSection& bucket);

class LogSet {
  public:
    explicit LogSet(uv_loop_t* loop);
    LogSet(const LogSet&) = delete;
    LogSet& operator=(const LogSet&) = delete;

    // New [bucket] log_* settings, for every log (a new log_dir applies from the next line).
    void configure(const BucketSection& bucket);

    // Captures `fd` (the read end of a bucket's pipe, taken over) as `stream` of bucket
    // `name`, whose log is made or continued and counts as live. -1: that stream of this
    // process is not captured (it goes to /dev/null), and the log says so.
    void attach(const std::string& name, Stream stream, int fd);
    // The bucket `name` left the registry.
    void bucket_gone(const std::string& name);
    // The log of a live bucket or of one gone less than kGoneLingerMs ago; null otherwise.
    BucketLog* find(std::string_view name);
    // Closes every log file; each is opened again at its next line (SIGHUP).
    void reopen_files();

    std::size_t size() const { return logs_.size(); }
    // Live buckets whose `stream` is not captured.
    std::size_t uncaptured(Stream stream) const;

  private:
    BucketLog& open(const std::string& name);
    void prune();

    uv_loop_t* loop_;
    LogSettings settings_;
    TokenBucket total_{kTotalRateBytesPerSec, kTotalRateBytesPerSec};
    struct Slot {
        std::unique_ptr<BucketLog> log;
        uint64_t gone_serial = 0;  // of its latest entry in gone_
    };
    std::unordered_map<std::string, Slot> logs_;
    struct Gone {
        std::string name;
        uint64_t at_ms;
        uint64_t serial;
    };
    // Oldest first. An entry is stale once its log was dropped, is live again, or went
    // again later (a newer entry stands for it).
    std::deque<Gone> gone_;
    uint64_t next_gone_serial_ = 1;
    std::size_t gone_count_ = 0;  // logs kept that are not live
};

}  // namespace kvd::logs
