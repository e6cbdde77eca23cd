// The spawner: a small helper process that starts buckets on kvd's behalf.
//
// Starting a child from kvd itself costs more the bigger kvd gets: fork() copies kvd's page
// tables (libuv 1.44's uv_spawn forks) and the child's exec then closes each of kvd's
// close-on-exec fds, one per bucket. Measured here, fork+exec of kv-bucket ran at 205–414/s
// from a parent with no fds and 81–116/s from one holding 10,000.
//
// So kvd forks the spawner once, at start, while it is still small (and after it consumed
// systemd's LISTEN_*/WATCHDOG_* variables, which buckets must not inherit); the spawner
// keeps only its end of a SOCK_SEQPACKET socket. For each bucket kvd sends the request
// (spawn_protocol.hpp) and the child's stdio fds and cgroup.procs (SCM_RIGHTS); the spawner starts
// the child with clone(CLONE_VM | CLONE_VFORK | CLONE_PARENT), which copies no page tables and
// makes the child kvd's own: kvd reaps it, gets its SIGCHLD, and kv-bucket's PR_SET_PDEATHSIG
// watches kvd, exactly as if kvd had spawned it. The reply is the pid, once the child has exec'd.
//
// If the spawner is gone, kvd starts a new one; if that fails too, launch() falls back
// to spawn_direct() from kvd (launch.hpp). Private to daemon/proc/.
#pragma once

#include <sys/types.h>

#include <memory>

#include "daemon/proc/spawn_protocol.hpp"

namespace kvd::proc {

// The fds a child gets as its stdin, stdout and stderr, and the cgroup.procs it writes itself
// to before exec (-1: it stays in its parent's cgroup). The caller keeps them.
struct ChildFds {
    int in = -1;
    int out = -1;
    int err = -1;
    int cgroup_procs = -1;
};

// Starts `request` from kvd itself, with the code the spawner's children run (so every
// Command setting is honoured the same way): clone(CLONE_VM | CLONE_VFORK) as posix_spawn
// does, with kvd's signal handlers reset in the child before it unblocks signals. Returns
// 0 with `pid` set once the child has exec'd, or a libuv error code.
int spawn_direct(const spawn_protocol::Request& request, const ChildFds& fds, pid_t& pid);

class Spawner {
  public:
    Spawner() = default;
    ~Spawner();  // closes the socket (the spawner exits at end of file) and reaps it
    Spawner(const Spawner&) = delete;
    Spawner& operator=(const Spawner&) = delete;

    // Forks the spawner process; false (and a logged reason) if that fails. spawn() forks it
    // too when it is not running.
    bool start();

    struct Result {
        pid_t pid = 0;  // the child, a child of kvd, when error == 0
        int error = 0;  // a libuv error code (negative) when the child could not start
        bool transport_failed = false;  // the spawner itself did not answer
    };
    // Starts `request` with kvd's environment plus its env_add and `fds`, in a session of
    // its own. Blocks until the child has exec'd (as uv_spawn does). The caller keeps its fds.
    Result spawn(const spawn_protocol::Request& request, const ChildFds& fds);

  private:
    Result spawn_once(const spawn_protocol::Request& request, const ChildFds& fds);
    void stop();

    pid_t pid_ = -1;
    int fd_ = -1;
};

}  // namespace kvd::proc
