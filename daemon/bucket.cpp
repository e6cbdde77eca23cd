#include "daemon/bucket.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <csignal>

#include "common/signals.hpp"
#include "daemon/proc/usage.hpp"

namespace kvd {

namespace {
// A reply line may be a little longer than the payload the bucket was allowed to send (the
// reply's own framing around a `keys` list at the bound).
constexpr std::size_t kReplyFramingBytes = 4096;
}  // namespace

std::string_view bucket_state_name(BucketState s) {
    switch (s) {
        case BucketState::starting:
            return "starting";
        case BucketState::running:
            return "running";
        case BucketState::stopping:
            return "stopping";
        case BucketState::backoff:
            return "backoff";
        case BucketState::failed:
            return "failed";
    }
    return "?";
}

Bucket::Bucket(uv_loop_t* loop, uv::WriteBatcher& batcher, proc::ProcessTable& processes,
               std::string name, const Limits& limits, std::shared_ptr<const KindConfig> kind)
    : loop_(loop),
      batcher_(batcher),
      name_(std::move(name)),
      child_(processes),
      limits_(limits),
      max_reply_bytes_(limits.max_reply_bytes),
      kind_(std::move(kind)) {}

Bucket::~Bucket() {
    if (stream_) stream_->close();
    if (request_timer_) request_timer_->close();
    if (sup.timer) sup.timer->close();
    fail_pending();
}

BucketInfo Bucket::info() const {
    BucketInfo out;
    out.state = bucket_state_name(state_);
    out.restarts = sup.restarts;
    out.last_exit = last_exit_;
    if (child_.running()) {
        out.started = child_.started();
        out.usage = proc::read_usage(child_.pid());
    }
    return out;
}

int Bucket::start(const proc::Command& command, proc::Child::ExitFn on_exit) {
    // A new process: nothing of the previous one's requests or stop carries over.
    stream_ended_ = false;
    stop_requested_ = false;
    kill_requested_ = false;
    kill_after_ = Millis(0);
    state_ = BucketState::starting;
    if (int rc = child_.start(command, std::move(on_exit)); rc != 0) return rc;
    int stdio = child_.take_stdio();
    if (stdio < 0) return 0;  // no data socket (a kind with data = false): nothing to serve
    stream_ = std::make_unique<uv::LineStream>(loop_, batcher_,
                                               limits_.max_reply_bytes + kReplyFramingBytes);
    if (int rc = stream_->open(stdio); rc != 0) {
        // Useless without its socket: ended, and reaped by the process table.
        child_.kill();
        return rc;
    }
    stream_->start(
        [this](std::string_view line) {
            if (pending_.empty()) {
                spdlog::warn("bucket {} (pid {}) sent an unrequested line; ignored", name_, pid());
                return;
            }
            ReplyFn fn = std::move(pending_.front().fn);
            pending_.pop_front();
            if (fn) {
                --live_requests_;
                fn(line);
            }
            // The timer stays armed for an older deadline while requests remain: it re-arms
            // itself when it fires (cheaper than moving it on every reply).
            if (live_requests_ == 0 && request_timer_) request_timer_->stop();
            send_term_if_idle();
        },
        [this](uv::StreamEnd why, int err) {
            // The process closed its end (kv-bucket does as it exits): nothing more will be
            // answered. Its exit comes from its Child, which this hints at.
            if (why == uv::StreamEnd::line_too_long)
                spdlog::error(
                    "bucket {} (pid {}) sent a reply longer than {} bytes; closing "
                    "its socket",
                    name_, pid(), max_reply_bytes_);
            else if (why == uv::StreamEnd::error)
                spdlog::warn("bucket {} (pid {}): socket error: {}", name_, pid(),
                             uv_strerror(err));
            stream_ended_ = true;
            stream_->close();
            fail_pending();
            child_.hint_exited();  // may reap this bucket (and destroy it): nothing after
        });
    return 0;
}

void Bucket::request(std::string_view line, ReplyFn fn) {
    if (stream_ended_ || !stream_ || !stream_->is_open() || stop_requested_) {
        fn(NoReply::gone);
        return;
    }
    // A process that stopped reading (frozen, or busy forever) must not make kvd hold every
    // request sent to it.
    if (stream_->queued_bytes() + line.size() > limits_.max_unsent_bytes) {
        fn(NoReply::backlogged);
        return;
    }
    pending_.push_back(
        {std::move(fn), uv_now(loop_) + static_cast<uint64_t>(limits_.request_timeout.count())});
    ++live_requests_;
    stream_->write(line);
    if (!request_timer_ || !request_timer_->active()) arm_request_timer();
}

// Requests all have the same timeout, so deadlines grow along the queue: one timer, armed
// for the oldest request still waiting for its answer (or an earlier one already answered,
// see start). After a reload that shortens the timeout, a newer request may be due before an
// older one; it ends when that one does, so no request waits longer than the old timeout.
void Bucket::arm_request_timer() {
    auto oldest = std::find_if(pending_.begin(), pending_.end(),
                               [](const Pending& p) { return static_cast<bool>(p.fn); });
    if (oldest == pending_.end()) {
        if (request_timer_) request_timer_->stop();
        return;
    }
    if (!request_timer_) request_timer_ = std::make_unique<uv::Timer>(loop_);
    uint64_t now = uv_now(loop_);
    uint64_t wait = oldest->deadline_ms > now ? oldest->deadline_ms - now : 0;
    request_timer_->start(Millis(wait), [this] { expire_requests(); });
}

void Bucket::expire_requests() {
    uint64_t now = uv_now(loop_);
    std::vector<ReplyFn> expired;
    for (auto& p : pending_) {
        if (p.deadline_ms > now) break;
        if (!p.fn) continue;
        expired.push_back(std::move(p.fn));
        p.fn = nullptr;
        --live_requests_;
    }
    if (!expired.empty())
        spdlog::warn("bucket {} (pid {}) did not answer {} request(s) within {}", name_, pid(),
                     expired.size(), format_duration(limits_.request_timeout));
    arm_request_timer();
    send_term_if_idle();
    // Last: an answer may end the connection that asked, but never this bucket.
    for (auto& fn : expired) fn(NoReply::timed_out);
}

void Bucket::fail_pending() {
    auto pending = std::move(pending_);
    pending_.clear();
    live_requests_ = 0;
    if (request_timer_) request_timer_->stop();
    for (auto& p : pending)
        if (p.fn) p.fn(NoReply::gone);
}

void Bucket::stop(Millis timeout, OutcomeFn done, bool now) {
    if (done) stop_waiters_.push_back(std::move(done));
    if (!stop_requested_) {
        stop_requested_ = true;
        kill_after_ = timeout;
    } else if (timeout < kill_after_) {
        kill_after_ = timeout;
    }
    // Once SIGTERM went, asking again may bring the SIGKILL forward (see Child::stop).
    if (now || child_.stopping())
        child_.stop(kind_->stop_signal, kill_after_);
    else
        send_term_if_idle();
}

// SIGTERM waits for the requests sent before the stop: the SIGKILL's timer runs from the
// SIGTERM, so time the bucket spent answering them is not counted against its exit.
void Bucket::send_term_if_idle() {
    if (!stop_requested_ || child_.stopping() || has_live_requests()) return;
    child_.stop(kind_->stop_signal, kill_after_);
}

int Bucket::signal(int signo) {
    int rc = child_.signal(signo);
    if (rc == 0 && ends_process_by_default(signo)) kill_requested_ = true;
    return rc;
}

std::vector<OutcomeFn> Bucket::on_exited(LastExit last) {
    stream_ended_ = true;
    if (stream_) stream_->close();
    fail_pending();
    last_exit_ = std::move(last);
    return std::move(stop_waiters_);
}

}  // namespace kvd
