#include "daemon/proc/process_table.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "daemon/proc/launch.hpp"
#include "daemon/proc/spawner.hpp"

namespace kvd::proc {

namespace {

// After a SIGCHLD, the children without a pidfd are looked at this soon (once for all the
// SIGCHLDs in between).
constexpr uint64_t kRescanMs = 50;
// A cgroup whose processes were killed is removed once empty: looked at this often, this many
// times (killed processes are normally gone within milliseconds; one stuck in the kernel,
// in uninterruptible sleep, may take longer, and its cgroup is then left in place).
constexpr uint64_t kDrainMs = 10;
constexpr int kDrainTries = 500;
// close() waits this long at most for the cgroups still draining.
constexpr auto kCloseDrainWait = std::chrono::seconds(2);

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

}  // namespace

std::size_t open_file_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1 << 20;
    return static_cast<std::size_t>(rl.rlim_cur);
}

struct ProcessTable::Entry {
    ProcessTable* table = nullptr;
    pid_t pid = 0;
    Child* owner = nullptr;  // null once abandoned
    int pidfd = -1;
    uv::Handle<uv_poll_t> poll;
    std::string cgroup;  // empty in process-group mode

    ~Entry() {
        poll.close();  // takes the fd out of the loop before it is closed
        if (pidfd >= 0) ::close(pidfd);
    }
};

ProcessTable::ProcessTable(uv_loop_t* loop) : ProcessTable(loop, FdBudget(open_file_limit(), 0)) {}

ProcessTable::ProcessTable(uv_loop_t* loop, std::size_t pidfd_slots)
    : ProcessTable(loop, FdBudget::with_slots(pidfd_slots, 0)) {}

ProcessTable::ProcessTable(uv_loop_t* loop, FdBudget fds) : loop_(loop), fds_(fds) {
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
    uv_timer_init(loop, drain_.get());
    drain_.mark_initialized();
    drain_.get()->data = this;
    uv_unref(drain_.raw());

    std::string why_not;
    cgroups_ = Cgroups::detect(std::getenv("KVD_CGROUP"), why_not);
    tree_detail_ = cgroups_ ? cgroups_->detail() : "no cgroup: " + why_not;
}

std::string ProcessTable::limits_mode() const {
    auto how = [](bool cgroup, const char* fallback) { return cgroup ? "cgroup" : fallback; };
    bool memory = cgroups_ && cgroups_->memory();
    bool pids = cgroups_ && cgroups_->pids();
    bool cpu = cgroups_ && cgroups_->cpu();
    return fmt::format("memory={} tasks={} cpu={}", how(memory, "rlimit"), how(pids, "rlimit"),
                       how(cpu, "none"));
}

std::string ProcessTable::cgroup_of(pid_t pid) const {
    auto it = children_.find(pid);
    return it == children_.end() ? std::string() : it->second->cgroup;
}

ProcessTable::~ProcessTable() {
    close();
}

void ProcessTable::start_spawner() {
    if (!spawner_) spawner_ = std::make_unique<Spawner>();
    spawner_->start();
    use_spawner_ = true;
}

int ProcessTable::start(Child& owner, const Command& command, Launched& out) {
    Placement placement;
    std::string cgroup;
    Limits rest = command.limits;
    if (cgroups_) {
        int procs_fd = -1;
        if (int err = cgroups_->create(command.label, cgroup, procs_fd); err != 0) {
            spdlog::warn("cannot create a cgroup for {} in {}: {}", command.label,
                         cgroups_->parent(), std::strerror(-err));
            return uv_translate_sys_error(-err);
        }
        cgroups_->apply(cgroup, command.limits, rest);
        placement.cgroup_procs_fd = procs_fd;
    }
    if (rest.any()) note_rlimits(command, rest);
    placement.rlimit_as = rest.memory_max;
    placement.rlimit_nproc = rest.tasks_max;
    int rc = launch(use_spawner_ ? spawner_.get() : nullptr, command, placement, out);
    if (placement.cgroup_procs_fd >= 0) ::close(placement.cgroup_procs_fd);
    if (rc != 0) {
        // A child that could not exec has been reaped: its cgroup is empty.
        if (!cgroup.empty() && Cgroups::remove(cgroup) != 0) draining_.push_back({cgroup, 0});
        return rc;
    }
    watch(out.pid, &owner, std::move(cgroup));
    return 0;
}

void ProcessTable::note_rlimits(const Command& command, const Limits& rest) {
    const char* why = cgroups_ ? "its cgroup controller is not enabled" : "kvd has no cgroup";
    if (rest.memory_max && !std::exchange(told_rlimit_memory_, true))
        spdlog::info(
            "{}: memory_max is applied as RLIMIT_AS (address space, per process) since {}; "
            "noted once",
            command.label, why);
    if (rest.tasks_max && !std::exchange(told_rlimit_tasks_, true))
        spdlog::info(
            "{}: tasks_max is applied as RLIMIT_NPROC, which counts every process of the "
            "child's user (and does not bind root), since {}; noted once",
            command.label, why);
    if (rest.cpu_weight && !std::exchange(told_no_cpu_, true))
        spdlog::warn("{}: cpu_weight is not applied since {}; noted once", command.label, why);
}

void ProcessTable::kill_tree(pid_t pid) {
    auto it = children_.find(pid);
    if (it == children_.end()) return;
    Entry& e = *it->second;
    if (!e.cgroup.empty())
        Cgroups::kill(e.cgroup);
    else
        ::kill(-pid, SIGKILL);
    // The main process too, should it have left its cgroup or process group. It is not
    // reaped yet, so the pid is still its own.
    ::kill(pid, SIGKILL);
}

void ProcessTable::end_tree(Entry& e) {
    if (e.cgroup.empty()) {
        ::kill(-e.pid, SIGKILL);
        return;
    }
    Cgroups::kill(e.cgroup);
    if (Cgroups::remove(e.cgroup) == 0) return;
    draining_.push_back({std::move(e.cgroup), 0});
    if (!uv_is_active(drain_.raw()))
        uv_timer_start(
            drain_.get(),
            [](uv_timer_t* t) {
                if (auto* self = static_cast<ProcessTable*>(t->data)) self->drain_cgroups();
            },
            kDrainMs, kDrainMs);
}

void ProcessTable::drain_cgroups() {
    std::vector<Draining> left;
    for (auto& d : draining_) {
        Cgroups::kill(d.path);  // again: a process may have been forking at the first
        int err = Cgroups::remove(d.path);
        if (err == 0 || err == ENOENT) continue;
        if (++d.tries >= kDrainTries) {
            spdlog::warn(
                "cgroup {} still holds processes {} ms after they were killed: {}; "
                "left in place",
                d.path, kDrainMs * kDrainTries, std::strerror(err));
            continue;
        }
        left.push_back(std::move(d));
    }
    draining_ = std::move(left);
    if (draining_.empty()) uv_timer_stop(drain_.get());
}

void ProcessTable::watch(pid_t pid, Child* owner, std::string cgroup) {
    auto entry = std::make_unique<Entry>();
    entry->table = this;
    entry->pid = pid;
    entry->owner = owner;
    entry->cgroup = std::move(cgroup);
    if (fds_.take_spare()) {
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
        } else {
            if (fd >= 0)
                ::close(fd);
            else
                spdlog::debug("no pidfd for child {} ({}); reaping it from SIGCHLD", pid,
                              std::strerror(errno));
            fds_.give_spare();
        }
    } else if (!told_budget_) {
        told_budget_ = true;
        spdlog::warn(
            "{} children have a pidfd, all that kvd's open file limit of {} leaves room "
            "for; the exits of further children are found at SIGCHLD (raise LimitNOFILE)",
            pidfds_, fds_.open_file_limit());
    }
    if (entry->pidfd < 0) ++without_pidfd_;
    children_.emplace(pid, std::move(entry));
}

void ProcessTable::abandon(pid_t pid) {
    auto it = children_.find(pid);
    if (it == children_.end()) return;
    it->second->owner = nullptr;
    kill_tree(pid);
}

void ProcessTable::hint(pid_t pid) {
    auto it = children_.find(pid);
    if (it == children_.end() || it->second->pidfd >= 0) return;  // its pidfd will tell
    if (!try_reap(pid)) hinted_.insert(pid);  // not a zombie yet: its SIGCHLD is on the way
}

bool ProcessTable::try_reap(pid_t pid) {
    auto noticed = std::chrono::steady_clock::now();
    // Has it exited? Asked without reaping it: while its zombie stays, its pid and process
    // group id cannot be taken by another process, so its tree can be killed safely first.
    siginfo_t info{};
    int w;
    do w = waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT);
    while (w < 0 && errno == EINTR);
    if (w == 0 && info.si_pid == 0) return false;  // still running
    // (Not kvd's child any more, w < 0: its pid may name another process group by now.)
    if (auto it = children_.find(pid);
        it != children_.end() && (w == 0 || !it->second->cgroup.empty()))
        end_tree(*it->second);
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
    e.noticed = noticed;
    // Forgotten before its owner hears of it: the owner may start another child at once.
    auto it = children_.find(pid);
    if (it == children_.end()) return true;
    std::unique_ptr<Entry> entry = std::move(it->second);
    children_.erase(it);
    if (entry->pidfd >= 0) {
        --pidfds_;
        fds_.give_spare();
    } else
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
    drain_.close();
    hinted_.clear();
    // Whoever owned them is going away with kvd: no process may outlive it.
    for (auto& [pid, entry] : children_) kill_tree(pid);
    for (auto& [pid, entry] : children_) {
        while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
        if (!entry->cgroup.empty()) draining_.push_back({std::move(entry->cgroup), 0});
    }
    children_.clear();
    for (; pidfds_ > 0; --pidfds_) fds_.give_spare();
    without_pidfd_ = 0;
    spawner_.reset();
    // The killed processes are gone within milliseconds; kvd waits a bounded time.
    auto deadline = std::chrono::steady_clock::now() + kCloseDrainWait;
    while (!draining_.empty()) {
        std::vector<Draining> left;
        for (auto& d : draining_) {
            Cgroups::kill(d.path);
            int err = Cgroups::remove(d.path);
            if (err != 0 && err != ENOENT) left.push_back(std::move(d));
        }
        draining_ = std::move(left);
        if (draining_.empty()) break;
        if (std::chrono::steady_clock::now() >= deadline) {
            for (auto& d : draining_)
                spdlog::warn("cgroup {} still holds processes at exit; left in place", d.path);
            draining_.clear();
            break;
        }
        usleep(2000);
    }
    if (cgroups_) cgroups_->close();
}

}  // namespace kvd::proc
