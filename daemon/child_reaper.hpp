// Reaps every child of kvd and tells its owner how it ended.
//
// libuv 1.44 reaps by calling waitpid() on each live uv_process_t at every SIGCHLD, which
// costs O(live children) per exit. kvd instead spawns with uv_spawn, closes the process
// handle at once (so libuv no longer waits for it), and reaps here with waitpid(-1): the cost
// of an exit does not depend on how many buckets are alive, and no fd is spent per child.
// Every child kvd starts must be spawned through spawn_child() so that it is watched here.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <functional>
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
    ChildReaper(const ChildReaper&) = delete;
    ChildReaper& operator=(const ChildReaper&) = delete;

    // `on_exit` runs once, from the loop, after `pid` was reaped.
    void watch(pid_t pid, ExitFn on_exit);
    std::size_t watched() const { return watchers_.size(); }
    // Reaps whatever has exited; also called at each SIGCHLD.
    void reap();
    void close();

private:
    uv::Handle<uv_signal_t> sigchld_;
    std::unordered_map<pid_t, ExitFn> watchers_;
};

}  // namespace kvd
