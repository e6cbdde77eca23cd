// Reaps every child of kvd and tells its owner how it ended.
//
// libuv 1.44 reaps by calling waitpid() on each live uv_process_t at every SIGCHLD, and even
// one waitpid(-1) makes the kernel walk every child (measured here: 3.7 ms per call with
// 10,000 children, 0.4 us for waitpid(pid)). kvd therefore spawns with uv_spawn, closes the
// process handle at once (so libuv no longer waits for it), and reaps each child with
// waitpid() on its own pid as soon as something names it:
//  - pidfd: the child's pidfd, polled by the loop, turns readable (handlers);
//  - hint: the owner saw the child's socket reach end of file, which happens when it exits
//    (buckets: one fd each instead of two, so 10,000 fit the usual 20,000-fd limit). A child
//    not yet a zombie at the hint is tried again at each SIGCHLD.
// A SIGCHLD that no reap explains (none since the previous SIGCHLD, none in the short wait
// after it) falls back to one waitpid(-1) sweep, as does a slow periodic sweep, so no exit
// is ever missed; the sweeps are the only O(children) work.
// Every child kvd starts must be spawned through spawn_child() so that it is watched here.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <unordered_map>

#include "daemon/uv/handle.hpp"

namespace kvd {

// How a child ended: exactly one of `code` / `signal` is meaningful.
struct ChildExit {
    pid_t pid = 0;
    bool signaled = false;
    int code = 0;    // when !signaled
    int signal = 0;  // when signaled
};

class ChildReaper {
public:
    using ExitFn = std::function<void(const ChildExit&)>;

    explicit ChildReaper(uv_loop_t* loop);
    ~ChildReaper();
    ChildReaper(const ChildReaper&) = delete;
    ChildReaper& operator=(const ChildReaper&) = delete;

    enum class Watch { pidfd, hint };

    // `on_exit` runs once, from the loop, after `pid` was reaped.
    void watch(pid_t pid, Watch how, ExitFn on_exit);
    // The owner has reason to think `pid` exited (its socket reached end of file).
    void hint(pid_t pid);
    std::size_t watched() const { return by_pidfd_.size() + by_hint_.size(); }
    void close();

private:
    struct PidfdWatch;
    // Reaps `pid` if it has exited; true when it was reaped (and its owner told).
    bool try_reap(pid_t pid);
    void on_sigchld();
    void sweep();

    uv_loop_t* loop_;
    uv::Handle<uv_signal_t> sigchld_;
    uv::Handle<uv_timer_t> sweep_timer_;       // periodic
    uv::Handle<uv_timer_t> unexplained_timer_;  // one-shot, after an unexplained SIGCHLD
    uint64_t reaps_ = 0;              // children reaped so far, however they were named
    uint64_t reaps_at_sigchld_ = 0;   // reaps_ when the previous SIGCHLD was handled
    uint64_t reaps_when_armed_ = 0;   // reaps_ when the unexplained-sweep timer was armed
    std::unordered_map<pid_t, std::unique_ptr<PidfdWatch>> by_pidfd_;
    std::unordered_map<pid_t, ExitFn> by_hint_;  // also children whose pidfd_open failed
    std::unordered_map<pid_t, char> suspects_;   // hinted, not yet reaped
};

}  // namespace kvd
