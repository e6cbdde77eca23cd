#include "daemon/bucket_process.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>

namespace kvd {

namespace {
// A bucket's reply can be large (`keys` of a big bucket); the limit only stops runaway input.
constexpr std::size_t kMaxBucketReplyBytes = 256 * 1024 * 1024;
}  // namespace

Bucket::Bucket(uv_loop_t* loop, uv::WriteBatcher& batcher, std::string name, pid_t pid)
    : loop_(loop),
      name_(std::move(name)),
      pid_(pid),
      started_(std::chrono::system_clock::now()),
      stream_(loop, batcher, kMaxBucketReplyBytes) {}

Bucket::~Bucket() {
    stream_.close();
    fail_pending();
}

int Bucket::attach(int socket_fd, std::function<void()> on_hangup) {
    int rc = stream_.open(socket_fd);
    if (rc != 0) return rc;
    stream_.start(
        [this](std::string_view line) {
            if (pending_.empty()) {
                spdlog::warn("bucket {} (pid {}) sent an unrequested line; ignored", name_, pid_);
                return;
            }
            ReplyFn fn = std::move(pending_.front());
            pending_.pop_front();
            fn(line);
            send_term_if_idle();
        },
        [this, on_hangup = std::move(on_hangup)](uv::StreamEnd, int) {
            // The process closed its end: it is exiting. Nothing more will be answered.
            stream_ended_ = true;
            stream_.close();
            fail_pending();
            on_hangup();  // may reap this bucket (and destroy it): nothing after this
        });
    return 0;
}

void Bucket::request(std::string_view line, ReplyFn fn) {
    if (stream_ended_ || !stream_.is_open() || stop_requested_) {
        fn(std::nullopt);
        return;
    }
    pending_.push_back(std::move(fn));
    stream_.write(line);
}

void Bucket::fail_pending() {
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& fn : pending) fn(std::nullopt);
}

void Bucket::stop(Millis timeout, OutcomeFn done) {
    stop_waiters_.push_back(std::move(done));
    if (stop_requested_) return;
    stop_requested_ = true;
    send_term_if_idle();
    kill_timer_ = std::make_unique<uv::Timer>(loop_);
    kill_timer_->start(timeout, [this, timeout] {
        spdlog::warn("bucket {} (pid {}) still running {} after SIGTERM; sending SIGKILL", name_,
                     pid_, format_duration(timeout));
        uv_kill(pid_, SIGKILL);
    });
}

void Bucket::send_term_if_idle() {
    if (!stop_requested_ || term_sent_ || !pending_.empty()) return;
    term_sent_ = true;
    uv_kill(pid_, SIGTERM);
}

int Bucket::signal(int signo) { return uv_kill(pid_, signo); }

std::vector<OutcomeFn> Bucket::on_exited() {
    if (kill_timer_) kill_timer_->close();
    stream_ended_ = true;
    stream_.close();
    fail_pending();
    return std::move(stop_waiters_);
}

}  // namespace kvd
