// Every child kvd started and has not reaped yet: how they are started and how their exits
// are learnt. Owners deal with Child (child.hpp); this table is the mechanism behind it.
//
// Starting: through the spawner (spawner.hpp) once start_spawner() was called, which forks
// it while kvd is small; before that, or when no spawner can run, from kvd itself with the
// same code (spawn_direct()).
//
// Trees: a child's processes never outlive its main process. In "cgroup" mode (cgroup.hpp;
// the table detects a writable cgroup v2 subtree at construction) each child joins a cgroup
// of its own before exec; once its main process has exited, cgroup.kill ends the rest, and the
// cgroup is removed as soon as it is empty (retried on a timer, a bounded number of times).
// Without a usable cgroup, "process-group" mode: each child leads a session and process group
// of its own, and the group is SIGKILLed once the main process has exited (while its zombie
// still holds the group id, so that no other group can have taken it); a grandchild that
// called setsid escapes that. The environment variable KVD_CGROUP=off, read at construction,
// forces process-group mode.
//
// Exits are learnt from each child's pidfd, polled by the loop: O(1) per exit, however many
// children run, and whatever the child does with its stdio. libuv 1.44 would instead call
// waitpid() on every live uv_process_t at each SIGCHLD, and one waitpid(-1) makes the kernel
// walk every child (measured here: 3.7 ms per call with 10,000 children, 0.4 us for
// waitpid(pid)), so kvd closes libuv's process handle at once and reaps each child by pid.
// A pidfd costs a descriptor, one kvd can do without: the table opens one only while its
// FdBudget (fd_budget.hpp) grants it. A child without a pidfd (over the budget, or a kernel without
// pidfds) is found at SIGCHLD: at once among those whose owner hinted at an exit (a bucket's socket
// reached end of file, as it does when the process exits), which keeps the usual exit O(1);
// and, at most once per 50 ms while SIGCHLDs come, by waitpid(pid) on each child without a
// pidfd, so that one which closed its stdio is found too. Never a waitpid(-1) sweep.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "daemon/proc/cgroup.hpp"
#include "daemon/proc/child.hpp"
#include "daemon/proc/fd_budget.hpp"
#include "daemon/proc/launch.hpp"
#include "daemon/uv/handle.hpp"

namespace kvd::proc {

class Spawner;

class ProcessTable {
  public:
    // Children get a pidfd while kvd's open file limit has room (descriptors()); with
    // `pidfd_slots`, while fewer than that many have one (tests).
    explicit ProcessTable(uv_loop_t* loop);
    ProcessTable(uv_loop_t* loop, std::size_t pidfd_slots);
    // Children still running are SIGKILLed and reaped (close()).
    ~ProcessTable();
    ProcessTable(const ProcessTable&) = delete;
    ProcessTable& operator=(const ProcessTable&) = delete;

    // From now on children are started by the spawner. Call once kvd has consumed systemd's
    // LISTEN_* and WATCHDOG_* variables, which children must not inherit.
    void start_spawner();

    uv_loop_t* loop() const { return loop_; }
    // Children started and not reaped yet, and how many of them have a pidfd.
    std::size_t size() const { return children_.size(); }
    std::size_t with_pidfd() const { return pidfds_; }
    // kvd's open file limit, shared out among the children (fd_budget.hpp).
    FdBudget& descriptors() { return fds_; }
    const FdBudget& descriptors() const { return fds_; }

    // "cgroup" or "process-group" (see above), and one line on it: the cgroup children go
    // in and the controllers enabled, or why there is no cgroup.
    std::string_view tree_mode() const { return cgroups_ ? "cgroup" : "process-group"; }
    const std::string& tree_detail() const { return tree_detail_; }
    // How each limit is applied: "memory=cgroup tasks=rlimit cpu=none" and the like.
    std::string limits_mode() const;
    // The cgroup of a running child, "" in process-group mode; for tests and diagnostics.
    std::string cgroup_of(pid_t pid) const;
    // Cgroups whose processes are being killed, not removed yet.
    std::size_t draining() const { return draining_.size(); }

    // Stops watching: SIGKILLs every child's tree and waits for the children, so kvd leaves
    // no process behind, and removes the cgroups (waiting a bounded time for them to empty).
    // Idempotent.
    void close();

  private:
    friend class Child;
    struct Entry;

    ProcessTable(uv_loop_t* loop, FdBudget fds);

    // Starts `command` for `owner`: 0 or a libuv error code.
    int start(Child& owner, const Command& command, Launched& out);
    // SIGKILLs `pid`'s whole tree (its cgroup, or its process group and itself).
    void kill_tree(pid_t pid);
    // After the main process of `entry` exited: what is left of its tree is killed, and its
    // cgroup removed now or, once empty, from the drain timer.
    void end_tree(Entry& entry);
    void drain_cgroups();
    void note_rlimits(const Command& command, const Limits& rest);
    // The owner of `pid` is gone while the process runs: it is killed, and reaped here.
    void abandon(pid_t pid);
    // The owner has reason to think `pid` exited (see above).
    void hint(pid_t pid);
    void scan_without_pidfd();
    void watch(pid_t pid, Child* owner, std::string cgroup);
    // Reaps `pid` if it has ended; true when it was reaped (and its owner told).
    bool try_reap(pid_t pid);
    void on_sigchld();

    uv_loop_t* loop_;
    uv::Handle<uv_signal_t> sigchld_;
    uv::Handle<uv_timer_t> rescan_;  // one-shot: children without a pidfd, after a SIGCHLD
    std::unique_ptr<Spawner> spawner_;
    bool use_spawner_ = false;
    std::unordered_map<pid_t, std::unique_ptr<Entry>> children_;
    std::size_t pidfds_ = 0;
    FdBudget fds_;
    std::size_t without_pidfd_ = 0;
    std::unordered_set<pid_t> hinted_;  // without a pidfd, hinted, not reaped yet
    bool told_budget_ = false;

    std::optional<Cgroups> cgroups_;
    std::string tree_detail_;
    struct Draining {
        std::string path;
        int tries = 0;
    };
    std::vector<Draining> draining_;
    uv::Handle<uv_timer_t> drain_;  // repeating while draining_ is not empty
    bool told_rlimit_memory_ = false, told_rlimit_tasks_ = false, told_no_cpu_ = false;
};

// kvd's open file limit (RLIMIT_NOFILE's soft limit).
std::size_t open_file_limit();

}  // namespace kvd::proc
