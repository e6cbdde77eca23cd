#include "daemon/proc/process_table.hpp"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <vector>

#include "daemon/proc/launch.hpp"
#include "daemon/proc/spawner.hpp"

namespace kvd::proc {

namespace {

// Descriptors kept for what is not a child's: clients, handler stderr, logs, the spawner.
constexpr std::size_t kFdsForOthers = 2048;
// After a SIGCHLD, the children without a pidfd are looked at this soon (once for all the
// SIGCHLDs in between).
constexpr uint64_t kRescanMs = 50;

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
    return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
    errno = ENOSYS;
    return -1;
#endif
}

Exit decode(pid_t pid, int status) {
    Exit e;
    e.pid = pid;
    if (WIFSIGNALED(status)) {
        e.signaled = true;
        e.signal = WTERMSIG(status);
    } else {
        e.code = WEXITSTATUS(status);
    }
    return e;
}

std::size_t open_file_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1 << 20;
    return static_cast<std::size_t>(rl.rlim_cur);
}

}  // namespace

std::size_t pidfd_budget(std::size_t open_file_limit) {
    return open_file_limit > kFdsForOthers ? (open_file_limit - kFdsForOthers) / 2 : 0;
}

struct ProcessTable::Entry {
    ProcessTable* table = nullptr;
    pid_t pid = 0;
    Child* owner = nullptr;  // null once abandoned
    int pidfd = -1;
    uv::Handle<uv_poll_t> poll;

    ~Entry() {
        poll.close();  // takes the fd out of the loop before it is closed
        if (pidfd >= 0) ::close(pidfd);
    }
};

ProcessTable::ProcessTable(uv_loop_t* loop) : ProcessTable(loop, pidfd_budget(open_file_limit())) {}

ProcessTable::ProcessTable(uv_loop_t* loop, std::size_t budget)
    : loop_(loop), pidfd_budget_(budget) {
    uv_signal_init(loop, sigchld_.get());
    sigchld_.mark_initialized();
    sigchld_.get()->data = this;
    uv_signal_start(
        sigchld_.get(),
        [](uv_signal_t* s, int) {
            if (auto* self = static_cast<ProcessTable*>(s->data)) self->on_sigchld();
        },
        SIGCHLD);
    // Waiting for children is not a reason to keep the loop running by itself.
    uv_unref(sigchld_.raw());
    uv_timer_init(loop, rescan_.get());
    rescan_.mark_initialized();
    rescan_.get()->data = this;
    uv_unref(rescan_.raw());
}

ProcessTable::~ProcessTable() {
    close();
}

void ProcessTable::start_spawner() {
    if (!spawner_) spawner_ = std::make_unique<Spawner>();
    spawner_->start();
    use_spawner_ = true;
}

int ProcessTable::start(Child& owner, const Command& command, pid_t& pid, int& stdio_fd,
                        int& stderr_fd) {
    Launched launched;
    int rc = launch(loop_, use_spawner_ ? spawner_.get() : nullptr, command, launched);
    if (rc != 0) return rc;
    pid = launched.pid;
    stdio_fd = launched.stdio_fd;
    stderr_fd = launched.stderr_fd;
    watch(pid, &owner);
    return 0;
}

void ProcessTable::watch(pid_t pid, Child* owner) {
    auto entry = std::make_unique<Entry>();
    entry->table = this;
    entry->pid = pid;
    entry->owner = owner;
    if (pidfds_ < pidfd_budget_) {
        int fd = open_pidfd(pid);
        if (fd >= 0 && uv_poll_init(loop_, entry->poll.get(), fd) == 0) {
            entry->poll.mark_initialized();
            entry->poll.get()->data = entry.get();
            uv_poll_start(entry->poll.get(), UV_READABLE, [](uv_poll_t* p, int, int) {
                // On success the entry is gone: nothing after this line may touch it.
                if (auto* e = static_cast<Entry*>(p->data)) e->table->try_reap(e->pid);
            });
            entry->pidfd = fd;
            ++pidfds_;
        } else if (fd >= 0) {
            ::close(fd);
        } else {
            spdlog::debug("no pidfd for child {} ({}); reaping it from SIGCHLD", pid,
                          std::strerror(errno));
        }
    } else if (!told_budget_) {
        told_budget_ = true;
        spdlog::warn(
            "{} children have a pidfd, all that kvd's open file limit of {} leaves "
            "room for; the exits of further children are found at SIGCHLD, at a "
            "cost that grows with their number (raise LimitNOFILE)",
            pidfds_, open_file_limit());
    }
    if (entry->pidfd < 0) ++without_pidfd_;
    children_.emplace(pid, std::move(entry));
}

void ProcessTable::abandon(pid_t pid) {
    auto it = children_.find(pid);
    if (it == children_.end()) return;
    it->second->owner = nullptr;
    ::kill(pid, SIGKILL);
}

void ProcessTable::hint(pid_t pid) {
    auto it = children_.find(pid);
    if (it == children_.end() || it->second->pidfd >= 0) return;  // its pidfd will tell
    if (!try_reap(pid)) hinted_.insert(pid);  // not a zombie yet: its SIGCHLD is on the way
}

bool ProcessTable::try_reap(pid_t pid) {
    int status = 0;
    pid_t r;
    do r = waitpid(pid, &status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0) return false;
    Exit e;
    if (r < 0) {
        // Not kvd's child any more: report it gone, with the status unknown.
        spdlog::warn("child {} vanished without a status: {}", pid, std::strerror(errno));
        e.pid = pid;
        e.signaled = true;
        e.signal = SIGKILL;
    } else {
        e = decode(pid, status);
    }
    // Forgotten before its owner hears of it: the owner may start another child at once.
    auto it = children_.find(pid);
    if (it == children_.end()) return true;
    std::unique_ptr<Entry> entry = std::move(it->second);
    children_.erase(it);
    if (entry->pidfd >= 0)
        --pidfds_;
    else
        --without_pidfd_;
    hinted_.erase(pid);
    Child* owner = entry->owner;
    entry.reset();
    if (owner) owner->exited(e);
    return true;
}

void ProcessTable::on_sigchld() {
    if (without_pidfd_ == 0) return;
    std::vector<pid_t> hinted(hinted_.begin(), hinted_.end());
    for (pid_t pid : hinted) try_reap(pid);
    // Most SIGCHLDs are a pidfd child's, or a hinted one's; any may stand for an exit no hint
    // named (signals coalesce). The others are looked at once, shortly: a scan per SIGCHLD
    // would cost O(children without a pidfd) for every exit.
    if (!uv_is_active(rescan_.raw()))
        uv_timer_start(
            rescan_.get(),
            [](uv_timer_t* t) {
                if (auto* self = static_cast<ProcessTable*>(t->data)) self->scan_without_pidfd();
            },
            kRescanMs, 0);
}

void ProcessTable::scan_without_pidfd() {
    std::vector<pid_t> pids;
    pids.reserve(without_pidfd_);
    for (const auto& [pid, entry] : children_)
        if (entry->pidfd < 0) pids.push_back(pid);
    for (pid_t pid : pids) try_reap(pid);
}

void ProcessTable::close() {
    sigchld_.close();
    rescan_.close();
    hinted_.clear();
    // Whoever owned them is going away with kvd: no process may outlive it.
    for (auto& [pid, entry] : children_) ::kill(pid, SIGKILL);
    for (auto& [pid, entry] : children_) {
        while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
    children_.clear();
    pidfds_ = 0;
    without_pidfd_ = 0;
    spawner_.reset();
}

}  // namespace kvd::proc
