// The spawner: a small helper process that starts buckets on kvd's behalf.
//
// Starting a child from kvd itself costs more the bigger kvd gets: fork() copies kvd's page
// tables (libuv 1.44's uv_spawn forks) and the child's exec then closes each of kvd's
// close-on-exec fds, one per bucket. Measured here, fork+exec of kv-bucket ran at 205–414/s
// from a parent with no fds and 81–116/s from one holding 10,000.
//
// So kvd forks the spawner once, at start, while it is still small (and after it consumed
// systemd's LISTEN_*/WATCHDOG_* variables, which buckets must not inherit); the spawner
// keeps only its end of a SOCK_SEQPACKET socket. For each bucket kvd sends the argv, the
// environment to add and the child's socket and stderr fds (SCM_RIGHTS); the spawner starts the
// child with clone(CLONE_VM | CLONE_VFORK | CLONE_PARENT), which copies no page tables and makes
// the child kvd's own: kvd reaps it, gets its SIGCHLD, and kv-bucket's PR_SET_PDEATHSIG watches
// kvd, exactly as if kvd had spawned it. The reply is the pid, once the child has exec'd.
//
// If the spawner is gone, kvd starts a new one; if that fails too, launch() falls back
// to uv_spawn from kvd (launch.hpp). Private to daemon/proc/.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kvd::proc {

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
    // Starts `argv` with kvd's environment plus `env_add`, `stdio_fd` as its stdin and
    // stdout, `stderr_fd` as its stderr, in a session of its own. Blocks until the child
    // has exec'd (as uv_spawn does). The caller keeps its fds.
    Result spawn(const std::vector<std::string>& argv,
                 const std::map<std::string, std::string>& env_add, int stdio_fd, int stderr_fd);

  private:
    Result spawn_once(const std::vector<std::string>& argv,
                      const std::map<std::string, std::string>& env_add, int stdio_fd,
                      int stderr_fd);
    void stop();

    pid_t pid_ = -1;
    int fd_ = -1;
};

}  // namespace kvd::proc
