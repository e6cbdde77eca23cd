#include "daemon/proc/child.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <csignal>

#include "common/signals.hpp"
#include "daemon/proc/process_table.hpp"
#include "daemon/uv/timer.hpp"

namespace kvd::proc {

Child::Child(ProcessTable& table) : table_(table) {}

Child::~Child() {
    if (kill_timer_) kill_timer_->close();
    close_fds();
    if (running_) table_.abandon(pid_);
}

int Child::start(const Command& command, ExitFn on_exit) {
    if (running_) return UV_EBUSY;
    close_fds();
    pid_t pid = 0;
    int rc = table_.start(*this, command, pid, stdio_fd_, stderr_fd_);
    if (rc != 0) return rc;
    label_ = command.label;
    pid_ = pid;
    running_ = true;
    started_ = std::chrono::system_clock::now();
    on_exit_ = std::move(on_exit);
    stopping_ = false;
    stop_asked_.clear();
    return 0;
}

int Child::take_stdio() {
    return std::exchange(stdio_fd_, -1);
}
int Child::take_stderr() {
    return std::exchange(stderr_fd_, -1);
}

void Child::close_fds() {
    if (stdio_fd_ >= 0) ::close(std::exchange(stdio_fd_, -1));
    if (stderr_fd_ >= 0) ::close(std::exchange(stderr_fd_, -1));
}

int Child::signal(int signo) {
    // Never a signal to a pid that was reaped: it may name another process by now.
    if (!running_) return UV_ESRCH;
    return uv_kill(pid_, signo);
}

void Child::kill() {
    signal(SIGKILL);
}

void Child::hint_exited() {
    if (running_) table_.hint(pid_);
}

// The SIGKILL is timed from the request to end, not from anything before it; a later,
// shorter request (shutdown) brings it forward.
void Child::stop(int signo, Millis kill_after) {
    if (!running_) return;
    uint64_t now = uv_now(table_.loop());
    uint64_t at = now + static_cast<uint64_t>(kill_after.count());
    if (!stopping_) {
        stopping_ = true;
        kill_after_ = kill_after;
        kill_at_ms_ = at;
        stop_asked_ = signo ? signal_name(signo) : "it was asked to exit";
        if (signo) signal(signo);
    } else if (at < kill_at_ms_) {
        kill_at_ms_ = at;
        kill_after_ = kill_after;
    } else {
        return;
    }
    if (!kill_timer_) kill_timer_ = std::make_unique<uv::Timer>(table_.loop());
    kill_timer_->start(Millis(kill_at_ms_ - now), [this] {
        spdlog::warn("{} (pid {}) still running {} after {}; sending SIGKILL", label_, pid_,
                     format_duration(kill_after_), stop_asked_);
        kill();
    });
}

void Child::exited(const Exit& exit) {
    running_ = false;
    if (kill_timer_) kill_timer_->stop();
    ExitFn fn = std::move(on_exit_);
    on_exit_ = nullptr;
    if (fn) fn(exit);  // may destroy this Child: nothing after this line
}

}  // namespace kvd::proc
