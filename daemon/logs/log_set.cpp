#include "daemon/logs/log_set.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

namespace kvd::logs {

LogSettings log_settings(const BucketSection& bucket) {
    LogSettings s;
    s.file.dir = bucket.log_dir.value_or("");
    s.file.max_size = bucket.log_max_size;
    s.file.keep = static_cast<unsigned>(bucket.log_keep);
    s.buffer = bucket.log_buffer;
    s.journal = bucket.log_journal;
    return s;
}

LogSet::LogSet(uv_loop_t* loop) : loop_(loop) {}

void LogSet::configure(const BucketSection& bucket) {
    settings_ = log_settings(bucket);
    for (auto& [name, slot] : logs_) slot.log->configure(settings_);
    // Without journald's socket, sd_journal_send() drops each line and reports success.
    constexpr const char* kJournalSocket = "/run/systemd/journal/socket";
    if (settings_.journal && access(kJournalSocket, F_OK) != 0)
        spdlog::warn(
            "[bucket] log_journal = true, but no journal runs here ({} is absent): buckets' "
            "lines are kept for `logs`{} only",
            kJournalSocket, settings_.file.dir.empty() ? "" : " and in log_dir");
}

BucketLog& LogSet::open(const std::string& name) {
    Slot& slot = logs_[name];
    if (!slot.log) {
        slot.log = std::make_unique<BucketLog>(name, settings_);
    } else if (!slot.log->live()) {
        --gone_count_;
    }
    slot.log->set_live(true);
    return *slot.log;
}

void LogSet::attach(const std::string& name, Stream stream, int fd) {
    BucketLog& log = open(name);
    log.set_uncaptured(stream, fd < 0);
    if (fd < 0) return;
    auto capture = std::make_unique<Capture>(loop_, log, stream, total_);
    if (int rc = capture->start(fd); rc != 0) {
        spdlog::error("bucket {}: cannot read its {}: {}", name, stream_name(stream),
                      uv_strerror(rc));
        return;
    }
    log.add_capture(std::move(capture));
}

void LogSet::bucket_gone(const std::string& name) {
    auto it = logs_.find(name);
    if (it == logs_.end() || !it->second.log->live()) return;
    it->second.gone_serial = next_gone_serial_++;
    gone_.push_back({name, uv_now(loop_), it->second.gone_serial});
    ++gone_count_;
    it->second.log->set_live(false);  // its followers end once its pipes are drained
    prune();
}

BucketLog* LogSet::find(std::string_view name) {
    prune();
    auto it = logs_.find(std::string(name));
    return it == logs_.end() ? nullptr : it->second.log.get();
}

std::size_t LogSet::uncaptured(Stream stream) const {
    std::size_t n = 0;
    for (const auto& [name, slot] : logs_)
        if (slot.log->live() && slot.log->uncaptured(stream)) ++n;
    return n;
}

void LogSet::reopen_files() {
    for (auto& [name, slot] : logs_) slot.log->reopen_file();
}

void LogSet::prune() {
    const uint64_t now = uv_now(loop_);
    while (!gone_.empty()) {
        const Gone& oldest = gone_.front();
        auto it = logs_.find(oldest.name);
        bool stale =
            it == logs_.end() || it->second.log->live() || it->second.gone_serial != oldest.serial;
        if (!stale) {
            if (now - oldest.at_ms < kGoneLingerMs && gone_count_ <= kMaxGoneLogs) break;
            logs_.erase(it);
            --gone_count_;
        }
        gone_.pop_front();
    }
}

}  // namespace kvd::logs
