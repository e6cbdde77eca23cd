#include "daemon/logs/bucket_log.hpp"

#include <spdlog/spdlog.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include <algorithm>
#include <cstring>

#include "daemon/logs/capture.hpp"

namespace kvd::logs {

BucketLog::BucketLog(std::string name, const LogSettings& settings)
    : name_(std::move(name)), settings_(settings), ring_(settings.buffer), file_(name_) {
    file_.configure(settings.file);
}

BucketLog::~BucketLog() {
    captures_.clear();
    // Whoever still follows hears that nothing more comes.
    std::vector<LogListener*> left;
    left.swap(listeners_);
    for (LogListener* l : left)
        if (l) l->on_log_end();
}

void BucketLog::configure(const LogSettings& settings) {
    settings_ = settings;
    ring_.set_limit(settings.buffer);
    file_.configure(settings.file);
}

void BucketLog::append(Stream stream, std::string_view raw, std::size_t cut_bytes, WallTime time) {
    if (cut_bytes > 0) ++cut_;
    const LogEntry& entry = ring_.push(LogEntry{stream, time, line_text(raw, cut_bytes)});
    if (file_.enabled()) file_.add(file_line(entry));
    if (settings_.journal) send_to_journal(entry);
    if (listeners_.empty()) return;
    const std::string json = follow_line(entry);
    // A listener may leave (its client gone) while lines are handed out: its slot is
    // emptied, and the list swept once every listener had this line.
    bool outer = !notifying_;
    notifying_ = true;
    for (std::size_t i = 0; i < listeners_.size(); ++i)
        if (LogListener* l = listeners_[i]) l->on_log_line(entry, json);
    if (outer) {
        notifying_ = false;
        listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), nullptr),
                         listeners_.end());
    }
}

void BucketLog::send_to_journal(const LogEntry& entry) {
    std::string message = "MESSAGE=" + entry.text;
    const char* priority = entry.stream == Stream::out ? "PRIORITY=6" : "PRIORITY=4";
    std::string bucket = "KVD_BUCKET=" + name_;
    std::string stream = "KVD_STREAM=" + std::string(stream_name(entry.stream));
    std::string identifier = "SYSLOG_IDENTIFIER=" + name_;
    iovec iov[] = {
        {message.data(), message.size()},
        {const_cast<char*>(priority), std::strlen(priority)},
        {bucket.data(), bucket.size()},
        {stream.data(), stream.size()},
        {identifier.data(), identifier.size()},
    };
    int rc = sd_journal_sendv(iov, static_cast<int>(std::size(iov)));
    if (rc < 0) {
        ++journal_dropped_;
        if (!journal_failing_)
            spdlog::error(
                "log of bucket {}: the journal refused a line: {}; counting lines "
                "dropped until it takes them again",
                name_, std::strerror(-rc));
        journal_failing_ = true;
    } else if (journal_failing_) {
        journal_failing_ = false;
        spdlog::info("log of bucket {}: the journal takes lines again", name_);
    }
}

void BucketLog::set_live(bool live) {
    live_ = live;
    end_listeners_if_ended();
}

void BucketLog::add_capture(std::unique_ptr<Capture> capture) {
    captures_.push_back(std::move(capture));
}

void BucketLog::capture_ended(Capture* capture) {
    auto it = std::find_if(captures_.begin(), captures_.end(),
                           [&](const auto& c) { return c.get() == capture; });
    if (it == captures_.end()) return;
    std::unique_ptr<Capture> done = std::move(*it);
    captures_.erase(it);
    done.reset();
    end_listeners_if_ended();
}

void BucketLog::end_listeners_if_ended() {
    if (!ended()) return;
    file_.reopen();  // a gone bucket's log holds no descriptor while it is kept
    if (listeners_.empty()) return;
    std::vector<LogListener*> left;
    left.swap(listeners_);
    for (LogListener* l : left)
        if (l) l->on_log_end();
}

void BucketLog::add_listener(LogListener* listener) {
    listeners_.push_back(listener);
}

void BucketLog::remove_listener(LogListener* listener) {
    auto it = std::find(listeners_.begin(), listeners_.end(), listener);
    if (it == listeners_.end()) return;
    if (notifying_)
        *it = nullptr;
    else
        listeners_.erase(it);
}

std::size_t BucketLog::listener_count() const {
    return static_cast<std::size_t>(
        std::count_if(listeners_.begin(), listeners_.end(), [](auto* l) { return l != nullptr; }));
}

}  // namespace kvd::logs
