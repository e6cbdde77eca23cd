// What the floor programs share: spawning kv-bucket as kvd's uv_spawn path does
// (daemon/proc/launch.cpp: uv_spawn, stdin and stdout one end of a socket pair whose other
// end is kept, stderr inherited), with one of two ways to learn of a child's exit (Reaping),
// and the line protocol by which the benchmark drives them over stdin/stdout, one command per
// line, one JSON reply:
//   grow N   keep N background children alive (not measured); reply {"alive":N}, or
//            {"error":...} when a spawn failed (the children spawned so far stay)
//   spawn N  spawn N children one after another; reply {"seconds":S,"lat_us":[...]} with
//            the duration of each spawn (socketpair + uv_spawn)
//   stop     SIGTERM the children of the last `spawn` and reap them; reply {"seconds":S}
//   (exit_floor.cpp adds `kill`)
// Every floor answers every command, so the one-hop exit floor grown to 10,000 children
// serves both the create and the exit measurement there: growing one takes a while.
// End of file on stdin: every child is SIGKILLed and reaped, then the floor exits.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kvd::bench::floor {

// How a floor learns that a child exited.
enum class Reaping {
    // An ordinary libuv exit callback: the child keeps its uv_process_t until it exits. At
    // each SIGCHLD libuv 1.44 calls waitpid() on every live process handle: O(children).
    exit_cb,
    // As kvd does (daemon/proc/process_table.cpp): the uv_process_t is closed right after
    // uv_spawn, and a pidfd per child, polled by the loop, says which child to waitpid():
    // O(1) per exit. Takes two descriptors per child (its socket and its pidfd): background
    // children (grow) get their pidfd only while the open file limit leaves room for one
    // beside every child's socket; the others are reaped when the floor ends them. None
    // exits while measured, and a victim or the receiver always has its pidfd.
    pidfd,
};

class Floor;

struct Child {
    uv_process_t process{};
    uv_poll_t pidfd_poll{};  // Reaping::pidfd: watches `pidfd`
    int pidfd = -1;
    bool watched = false;  // Reaping::pidfd: the exit is learnt from `pidfd`
    int socket_fd = -1;    // the floor's end of the child's stdin/stdout
    pid_t pid = 0;
    bool exited = false;
    bool closed = false;    // every libuv handle of the child is closed
    int open_handles = 0;   // libuv handles not yet closed
    int64_t exited_ns = 0;  // CLOCK_MONOTONIC when the floor learnt of the exit
    Floor* floor = nullptr;
};

class Floor {
  public:
    explicit Floor(std::string program, Reaping reaping = Reaping::exit_cb);
    ~Floor();

    uv_loop_t* loop() { return &loop_; }
    // Spawns one child running `program` ("floor" as its one argument), or `program` with
    // `arg`; a libuv error code (0 on success). On failure nothing is left open or unreaped.
    // Under Reaping::pidfd, `watch` false spawns it without a pidfd (see Reaping).
    int spawn(Child& child);
    int spawn(Child& child, const std::string& program, const char* arg, bool watch = true);
    // Called with each child as soon as its exit is known (after exited_ns is taken), from
    // inside the loop.
    void on_exit(std::function<void(Child&)> hook) { exit_hook_ = std::move(hook); }
    // Runs the loop until `done()` holds.
    void run_until(const std::function<bool()>& done);
    // Sends `signo` to every child of `children`, waits for their exits, closes their
    // handles and sockets, and empties the vector.
    void end_all(std::vector<std::unique_ptr<Child>>& children, int signo);

    // Background children: kept alive until grow() shrinks them or the floor exits. A libuv
    // error code when a spawn failed.
    int grow(std::size_t alive);
    std::vector<std::unique_ptr<Child>>& background() { return background_; }

  private:
    static void on_process_exit(uv_process_t* p, int64_t status, int signo);
    static void on_pidfd(uv_poll_t* p, int status, int events);
    void exited(Child& child);
    // uv_close() on one of a child's handles (its data is the Child); the child is `closed`
    // once the last one is.
    static void close_handle(uv_handle_t* handle);
    int watch_pidfd(Child& child);

    uv_loop_t loop_{};
    Reaping reaping_;
    bool told_budget_ = false;
    std::function<void(Child&)> exit_hook_;
    std::string program_;
    std::string kvd_pid_env_;
    std::vector<char*> envp_;
    std::vector<std::string> env_;
    std::vector<std::unique_ptr<Child>> background_;
};

// Reads the next command line from stdin; false at end of file.
bool read_command(std::string& verb, long& arg);
// Runs grow / spawn / stop; false when `verb` is none of them. `batch` holds the children of
// the last `spawn`.
bool common_command(Floor& floor, const std::string& verb, long n,
                    std::vector<std::unique_ptr<Child>>& batch);
// Writes one reply line to stdout and flushes it.
void reply(const std::string& json);
// `{"key":[v1,v2,...]}` fragment helpers.
std::string json_array(const std::vector<double>& values);
// Raises RLIMIT_NOFILE's soft limit to `wanted`, and the hard limit too where the process may
// (root, or CAP_SYS_RESOURCE), as kvd does; returns the soft limit in force.
long raise_fd_limit(long wanted);

}  // namespace kvd::bench::floor
