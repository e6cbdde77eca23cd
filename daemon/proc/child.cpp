#include "daemon/proc/child.hpp"

#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "common/signals.hpp"
#include "daemon/proc/launch.hpp"
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
    Launched launched;
    int rc = table_.start(*this, command, launched);
    if (rc != 0) return rc;
    label_ = command.label;
    pid_ = launched.pid;
    stdio_fd_ = launched.stdio_fd;
    stdout_fd_ = launched.stdout_fd;
    stderr_fd_ = launched.stderr_fd;
    running_ = true;
    started_ = std::chrono::system_clock::now();
    on_exit_ = std::move(on_exit);
    stopping_ = false;
    stop_signal_ = 0;
    sigkill_sent_.reset();
    return 0;
}

int Child::take_stdio() {
    return std::exchange(stdio_fd_, -1);
}
int Child::take_stdout() {
    return std::exchange(stdout_fd_, -1);
}
int Child::take_stderr() {
    return std::exchange(stderr_fd_, -1);
}

void Child::close_fds() {
    if (stdio_fd_ >= 0) ::close(std::exchange(stdio_fd_, -1));
    if (stdout_fd_ >= 0) ::close(std::exchange(stdout_fd_, -1));
    if (stderr_fd_ >= 0) ::close(std::exchange(stderr_fd_, -1));
}

int Child::signal(int signo) {
    // Never a signal to a pid that was reaped: it may name another process by now.
    if (!running_) return UV_ESRCH;
    if (signo == SIGKILL) sigkill_sent_ = std::chrono::steady_clock::now();
    return uv_kill(pid_, signo);
}

void Child::kill() {
    if (!running_) return;
    sigkill_sent_ = std::chrono::steady_clock::now();
    table_.kill_tree(pid_);
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
        stop_signal_ = signo;
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
                     format_duration(kill_after_),
                     stop_signal_ ? signal_name(stop_signal_) : "it was asked to exit");
        kill();
    });
}

void Child::exited(const Exit& exit) {
    running_ = false;
    if (kill_timer_) kill_timer_->stop();
    Exit told = exit;
    told.sigkill_sent = sigkill_sent_;
    ExitFn fn = std::move(on_exit_);
    on_exit_ = nullptr;
    if (fn) fn(told);  // may destroy this Child: nothing after this line
}

std::string describe_spawn_error(int uv_error) {
    std::string text = uv_strerror(uv_error);
    rlimit rl{};
    switch (uv_error) {
        case UV_EAGAIN:
            if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
                return fmt::format(
                    "{} (the process limit was reached: RLIMIT_NPROC is {}, or "
                    "the pids cgroup is full)",
                    text, rl.rlim_cur);
            return text + " (the process limit was reached: the pids cgroup or the system's)";
        case UV_EMFILE:
            if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
                return fmt::format("{} (kvd's open file limit, RLIMIT_NOFILE, is {})", text,
                                   rl.rlim_cur);
            return text;
        case UV_ENFILE:
            return text + " (the system-wide open file limit was reached)";
        case UV_EPERM:
            return text + " (only kvd running as root may start a child as another user)";
        default:
            return text;
    }
}

std::optional<UserIds> lookup_user(const std::string& name, std::string& error) {
    long size_hint = sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buf(size_hint > 0 ? static_cast<std::size_t>(size_hint) : 16384);
    passwd pw{};
    passwd* found = nullptr;
    int rc;
    while ((rc = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found)) == ERANGE &&
           buf.size() < (1u << 20))
        buf.resize(buf.size() * 2);
    if (rc != 0) {
        error = fmt::format("cannot look up user '{}': {}", name, std::strerror(rc));
        return std::nullopt;
    }
    if (!found) {
        error = fmt::format("no user named '{}'", name);
        return std::nullopt;
    }
    UserIds ids;
    ids.uid = pw.pw_uid;
    ids.gid = pw.pw_gid;
    ids.home = pw.pw_dir ? pw.pw_dir : "";
    int count = 32;
    for (;;) {
        ids.groups.resize(static_cast<std::size_t>(count));
        int asked = count;
        if (getgrouplist(pw.pw_name, pw.pw_gid, ids.groups.data(), &count) >= 0) break;
        if (count <= asked) count = asked * 2;  // some libcs do not say how many there are
        if (count > 65536) {
            error = fmt::format("user '{}' belongs to too many groups", name);
            return std::nullopt;
        }
    }
    ids.groups.resize(static_cast<std::size_t>(count));
    return ids;
}

}  // namespace kvd::proc
