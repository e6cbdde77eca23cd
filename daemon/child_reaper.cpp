#include "daemon/child_reaper.hpp"

#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace kvd {

namespace {

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
    return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
    errno = ENOSYS;
    return -1;
#endif
}

// A SIGCHLD no hint explains is swept this soon (the hint may still be on its way).
constexpr uint64_t kUnexplainedSweepMs = 50;
// And every so often regardless, in case a hinted child's exit hid behind another's.
constexpr uint64_t kPeriodicSweepMs = 30'000;

ChildExit decode(pid_t pid, int status) {
    ChildExit e;
    e.pid = pid;
    if (WIFSIGNALED(status)) {
        e.signaled = true;
        e.signal = WTERMSIG(status);
    } else {
        e.code = WEXITSTATUS(status);
    }
    return e;
}

}  // namespace

struct ChildReaper::PidfdWatch {
    ChildReaper* reaper = nullptr;
    pid_t pid = 0;
    int fd = -1;
    ExitFn on_exit;
    uv::Handle<uv_poll_t> poll;

    ~PidfdWatch() {
        poll.close();  // takes the fd out of the loop before it is closed
        if (fd >= 0) ::close(fd);
    }
};

ChildReaper::ChildReaper(uv_loop_t* loop) : loop_(loop) {
    uv_signal_init(loop, sigchld_.get());
    sigchld_.mark_initialized();
    sigchld_.get()->data = this;
    uv_signal_start(
        sigchld_.get(),
        [](uv_signal_t* s, int) {
            if (auto* self = static_cast<ChildReaper*>(s->data)) self->on_sigchld();
        },
        SIGCHLD);
    // Waiting for children is not a reason to keep the loop running by itself.
    uv_unref(sigchld_.raw());

    uv_timer_init(loop, sweep_timer_.get());
    sweep_timer_.mark_initialized();
    sweep_timer_.get()->data = this;
    uv_timer_start(
        sweep_timer_.get(),
        [](uv_timer_t* t) {
            if (auto* self = static_cast<ChildReaper*>(t->data)) self->sweep();
        },
        kPeriodicSweepMs, kPeriodicSweepMs);
    uv_unref(sweep_timer_.raw());

    uv_timer_init(loop, unexplained_timer_.get());
    unexplained_timer_.mark_initialized();
    unexplained_timer_.get()->data = this;
    uv_unref(unexplained_timer_.raw());
}

ChildReaper::~ChildReaper() { close(); }

void ChildReaper::watch(pid_t pid, Watch how, ExitFn on_exit) {
    if (how == Watch::pidfd) {
        if (int fd = open_pidfd(pid); fd >= 0) {
            auto w = std::make_unique<PidfdWatch>();
            w->reaper = this;
            w->pid = pid;
            w->fd = fd;
            w->on_exit = std::move(on_exit);
            if (uv_poll_init(loop_, w->poll.get(), fd) == 0) {
                w->poll.mark_initialized();
                w->poll.get()->data = w.get();
                uv_poll_start(w->poll.get(), UV_READABLE, [](uv_poll_t* p, int, int) {
                    auto* watch = static_cast<PidfdWatch*>(p->data);
                    // On success the watch is gone: nothing after this line may touch it.
                    if (watch) watch->reaper->try_reap(watch->pid);
                });
                by_pidfd_.emplace(pid, std::move(w));
                return;
            }
            on_exit = std::move(w->on_exit);
        } else {
            spdlog::debug("no pidfd for child {} ({}); reaping it from SIGCHLD", pid,
                          std::strerror(errno));
        }
        suspects_.emplace(pid, 0);  // without a pidfd, every SIGCHLD tries it
    }
    by_hint_.emplace(pid, std::move(on_exit));
}

void ChildReaper::hint(pid_t pid) {
    if (!by_hint_.count(pid)) return;
    if (!try_reap(pid)) suspects_.emplace(pid, 0);
}

bool ChildReaper::try_reap(pid_t pid) {
    int status = 0;
    pid_t r;
    do r = waitpid(pid, &status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0) return false;
    ChildExit e;
    if (r < 0) {
        // Not our child any more: report it gone with the status unknown.
        spdlog::warn("child {} vanished without a status: {}", pid, std::strerror(errno));
        e.pid = pid;
        e.signaled = true;
        e.signal = SIGKILL;
    } else {
        e = decode(pid, status);
    }
    // Forget the child before telling its owner, which may spawn (and watch) another.
    ExitFn fn;
    if (auto it = by_pidfd_.find(pid); it != by_pidfd_.end()) {
        fn = std::move(it->second->on_exit);
        by_pidfd_.erase(it);
    } else if (auto h = by_hint_.find(pid); h != by_hint_.end()) {
        fn = std::move(h->second);
        by_hint_.erase(h);
    }
    suspects_.erase(pid);
    ++reaps_;
    if (fn) fn(e);
    return true;
}

void ChildReaper::on_sigchld() {
    std::vector<pid_t> pids;
    pids.reserve(suspects_.size());
    for (const auto& [pid, unused] : suspects_) pids.push_back(pid);
    for (pid_t pid : pids) try_reap(pid);
    // Most exits are reaped from their hint before their SIGCHLD is handled: any reap since
    // the previous SIGCHLD explains this one. Otherwise give the hints of this loop turn a
    // moment, and sweep only if still nothing was reaped.
    bool explained = reaps_ > reaps_at_sigchld_;
    reaps_at_sigchld_ = reaps_;
    if (explained || by_hint_.empty() || uv_is_active(unexplained_timer_.raw())) return;
    reaps_when_armed_ = reaps_;
    uv_timer_start(
        unexplained_timer_.get(),
        [](uv_timer_t* t) {
            auto* self = static_cast<ChildReaper*>(t->data);
            if (self && self->reaps_ == self->reaps_when_armed_) self->sweep();
        },
        kUnexplainedSweepMs, 0);
}

void ChildReaper::sweep() {
    if (by_hint_.empty()) return;
    for (;;) {
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid == 0) return;
        if (pid < 0) {
            if (errno == EINTR) continue;
            return;  // ECHILD: no children left
        }
        ExitFn fn;
        if (auto it = by_pidfd_.find(pid); it != by_pidfd_.end()) {
            fn = std::move(it->second->on_exit);
            by_pidfd_.erase(it);
        } else if (auto h = by_hint_.find(pid); h != by_hint_.end()) {
            fn = std::move(h->second);
            by_hint_.erase(h);
        }
        suspects_.erase(pid);
        ++reaps_;
        if (fn) fn(decode(pid, status));
    }
}

void ChildReaper::close() {
    sigchld_.close();
    sweep_timer_.close();
    unexplained_timer_.close();
    by_pidfd_.clear();
}

}  // namespace kvd
