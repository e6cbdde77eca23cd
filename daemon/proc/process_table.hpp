// Every child kvd started and has not reaped yet: how they are started and how their exits
// are learnt. Owners deal with Child (child.hpp); this table is the mechanism behind it.
//
// Starting: through the spawner (spawner.hpp) once start_spawner() was called, which forks
// it while kvd is small; before that, or when no spawner can run, with uv_spawn from kvd.
//
// Exits are learnt from each child's pidfd, polled by the loop: O(1) per exit, however many
// children run, and whatever the child does with its stdio. libuv 1.44 would instead call
// waitpid() on every live uv_process_t at each SIGCHLD, and one waitpid(-1) makes the kernel
// walk every child (measured here: 3.7 ms per call with 10,000 children, 0.4 us for
// waitpid(pid)), so kvd closes libuv's process handle at once and reaps each child by pid.
// A pidfd costs a descriptor: the table opens pidfds only while they and one stdio socket per
// child fit in kvd's open file limit, with room kept for clients and logs (see
// pidfd_budget). A child without a pidfd (over the budget, or a kernel without pidfds) is
// found at SIGCHLD: at once among those whose owner hinted at an exit (a bucket's socket
// reached end of file, as it does when the process exits), which keeps the usual exit O(1);
// and, at most once per 50 ms while SIGCHLDs come, by waitpid(pid) on each child without a
// pidfd, so that one which closed its stdio is found too. Never a waitpid(-1) sweep.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <cstddef>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "daemon/proc/child.hpp"
#include "daemon/uv/handle.hpp"

namespace kvd::proc {

class Spawner;

class ProcessTable {
  public:
    // At most `pidfd_budget` children get a pidfd; by default, what kvd's open file limit
    // leaves room for (see pidfd_budget()).
    explicit ProcessTable(uv_loop_t* loop);
    ProcessTable(uv_loop_t* loop, std::size_t pidfd_budget);
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

    // Stops watching: SIGKILLs every child left and waits for it, so kvd leaves no process
    // behind. Idempotent.
    void close();

  private:
    friend class Child;
    struct Entry;

    // Starts `command` for `owner`: 0 or a libuv error code.
    int start(Child& owner, const Command& command, pid_t& pid, int& stdio_fd, int& stderr_fd);
    // The owner of `pid` is gone while the process runs: it is killed, and reaped here.
    void abandon(pid_t pid);
    // The owner has reason to think `pid` exited (see above).
    void hint(pid_t pid);
    void scan_without_pidfd();
    void watch(pid_t pid, Child* owner);
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
    std::size_t pidfd_budget_;
    std::size_t without_pidfd_ = 0;
    std::unordered_set<pid_t> hinted_;  // without a pidfd, hinted, not reaped yet
    bool told_budget_ = false;
};

// How many pidfds fit: kvd's open file limit less room for clients, handlers and logs, shared
// half and half with the children's stdio sockets.
std::size_t pidfd_budget(std::size_t open_file_limit);

}  // namespace kvd::proc
