#include "daemon/logs/follower.hpp"

namespace kvd::logs {

Follower::Follower(BucketLog& log, Connection& connection, std::optional<Stream> only,
                   std::size_t bound)
    : log_(&log), connection_(connection), only_(only), bound_(bound) {
    if (log.ended()) {
        log_ = nullptr;
        ended_ = true;
    } else {
        log.add_listener(this);
    }
}

Follower::~Follower() {
    if (log_) log_->remove_listener(this);
}

void Follower::go_live() {
    live_ = true;
    if (!before_live_.empty()) connection_.stream().write(before_live_);
    before_live_ = std::string();
    if (dropped_pending_ > 0) write_dropped_when_drained();
    if (ended_) connection_.finish();  // may destroy this object: nothing after
}

void Follower::on_log_line(const LogEntry& entry, const std::string& json_line) {
    if (only_ && entry.stream != *only_) return;
    uv::LineStream& stream = connection_.stream();
    std::size_t held = live_ ? stream.queued_bytes() : before_live_.size();
    // Once one line was dropped, the rest wait for the client too: {"dropped":N} marks the
    // gap where it is.
    if (dropped_pending_ > 0 || held + json_line.size() > bound_) {
        ++dropped_pending_;
        ++dropped_total_;
        if (live_) write_dropped_when_drained();
        return;
    }
    if (live_)
        stream.write(json_line);
    else
        before_live_.append(json_line);
}

void Follower::write_dropped_when_drained() {
    if (waiting_for_drain_) return;
    waiting_for_drain_ = true;
    Lifetime::Watch alive = lifetime_.watch();
    connection_.stream().when_drained([this, alive] {
        if (alive.ended()) return;
        waiting_for_drain_ = false;
        if (dropped_pending_ == 0) return;
        connection_.stream().write(R"({"dropped":)" + std::to_string(dropped_pending_) + "}\n");
        dropped_pending_ = 0;
    });
}

void Follower::on_log_end() {
    log_ = nullptr;
    ended_ = true;
    // Before the reply went out, go_live() finishes; after, the connection closes once the
    // lines queued for it are written.
    if (live_) connection_.finish();  // may destroy this object: nothing after
}

}  // namespace kvd::logs
