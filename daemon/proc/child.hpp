// One child process of kvd, from its start to the one notice of its exit.
//
// A Child owns everything about a process kvd started: its pid, kvd's ends of its stdio
// until the owner takes them, the stop sequence (a signal or another request to exit, then
// SIGKILL once the time given has passed) and the exit notice, which comes exactly once, from
// the loop, after the process was reaped. Buckets and handlers each own one. How a child is
// started (the spawner, or uv_spawn) and how its exit is learnt (its pidfd) is the business
// of the ProcessTable (process_table.hpp); the owner sees only this class.
//
// A child's tree never outlives its main process: once the main process has been reaped
// (whatever ended it), what it left running is killed, through its cgroup or its process
// group (ProcessTable::tree_mode()). A stop's signal goes to the main process alone, its
// SIGKILL to the whole tree.
//
// Destroying a Child whose process still runs SIGKILLs its tree; the table reaps it, so
// no zombie and no orphan is left, and no exit notice comes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/duration.hpp"

namespace kvd::uv {
class Timer;
}

namespace kvd::proc {

class ProcessTable;

// How a child ended: exactly one of `code` / `signal` is meaningful.
struct Exit {
    pid_t pid = 0;
    bool signaled = false;
    int code = 0;    // when !signaled
    int signal = 0;  // when signaled
    // When kvd's loop took up the exit: the pidfd became readable, or a SIGCHLD or a hint led
    // to it. Before the process was reaped.
    std::chrono::steady_clock::time_point noticed{};
    // When kvd last sent this process SIGKILL (Child::signal, Child::kill), if it did.
    std::optional<std::chrono::steady_clock::time_point> sigkill_sent;
};

// Where a child's stdin or stdout goes.
enum class Stdio {
    socket,    // its end of a Unix socket pair with kvd (take_stdio())
    pipe_out,  // stdout only: a pipe whose read end kvd gets (take_stdout())
    null,      // /dev/null
};

// What kvd asks of the kernel for a child's whole tree. In cgroup mode (process_table.hpp)
// each maps to its cgroup's file when that controller is enabled: memory.max, pids.max,
// cpu.weight. Otherwise memory_max becomes RLIMIT_AS (address space, per process, which
// counts mappings never touched: a looser bound than memory.max) and tasks_max RLIMIT_NPROC
// (per user, not per tree: it counts every process of the child's uid, and root ignores
// it); cpu_weight has no fallback. What was not applied is logged once per start.
struct Limits {
    std::optional<uint64_t> memory_max;  // bytes
    std::optional<uint64_t> tasks_max;   // processes and threads
    std::optional<uint32_t> cpu_weight;  // 1..10000, cgroup v2's scale (100 is the default)

    bool any() const { return memory_max || tasks_max || cpu_weight; }
    bool operator==(const Limits&) const = default;
};

struct Command {
    std::string label;                           // "bucket shopping", for kvd's log
    std::vector<std::string> argv;               // argv[0] is run through PATH if it has no '/'
    std::map<std::string, std::string> env_add;  // added to kvd's own environment
    // The working directory; kvd's own when unset. Changed to after the switch of user, so
    // it must be reachable by that user.
    std::optional<std::string> cwd;
    // The user and groups the child runs as, set before exec (setgroups, setgid, setuid).
    // Only kvd running as root may change them (a start that needs a change fails with
    // UV_EPERM otherwise; asking for kvd's own ids is no change). When uid or gid is set,
    // the supplementary groups become exactly `groups` (empty: none); lookup_user() gives
    // all three for a user name.
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    std::vector<gid_t> groups;
    // stdin: socket or null; stdout: socket, pipe_out or null. With neither on the socket
    // there is no socket pair (take_stdio() gives -1).
    Stdio stdin_mode = Stdio::socket;
    Stdio stdout_mode = Stdio::socket;
    // Its stderr is kvd's fd `stderr_fd` (which the caller keeps; -1: /dev/null), or, with
    // capture_stderr, a pipe whose read end take_stderr() hands over.
    int stderr_fd = 2;
    bool capture_stderr = false;
    // SIGKILL when kvd dies (PR_SET_PDEATHSIG), for programs that do not watch their parent.
    // Whether or not it is set, the child's tree ends with its main process (see Child).
    bool die_with_kvd = false;
    Limits limits;
};

// A user's ids, for Command::uid, gid and groups.
struct UserIds {
    uid_t uid = 0;
    gid_t gid = 0;              // the primary group
    std::vector<gid_t> groups;  // every group the user belongs to, the primary one included
    std::string home;
};
// The user named `name` (getpwnam_r, getgrouplist), or nullopt with `error` set.
std::optional<UserIds> lookup_user(const std::string& name, std::string& error);

class Child {
  public:
    using ExitFn = std::function<void(const Exit&)>;

    explicit Child(ProcessTable& table);
    ~Child();
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    // Starts `command`: 0, or a libuv error code (describe_spawn_error() says what it means),
    // with nothing left open. `on_exit` runs once when the process has ended and was reaped;
    // it may destroy this Child. A Child whose process ended may be started again.
    int start(const Command& command, ExitFn on_exit);

    bool running() const { return running_; }
    // The process of the latest start, also after it exited; 0 before the first.
    pid_t pid() const { return pid_; }
    WallTime started() const { return started_; }

    // kvd's end of the child's stdin/stdout socket, and the read ends of its stdout pipe
    // (Stdio::pipe_out) and stderr pipe (capture_stderr): each handed over once per start
    // (-1 after, or when there is none), and then owned by the caller.
    int take_stdio();
    int take_stdout();
    int take_stderr();

    // Sends `signo` as is; a libuv error code (UV_ESRCH once the process has ended).
    int signal(int signo);
    // Asks the process to end: sends `signo` (0: none, the owner asked another way, such as
    // closing its stdin), and SIGKILL `kill_after` later if it still runs. Asking again sends
    // no second signal and may only bring the SIGKILL forward.
    void stop(int signo, Millis kill_after);
    bool stopping() const { return stopping_; }
    // SIGKILL now, to the whole tree (see below).
    void kill();
    // The owner has seen a sign of the process's exit (its socket reached end of file). Only
    // a hint: the exit notice still comes from the process table, which uses it to find a
    // child it cannot watch through a pidfd (see process_table.hpp) without a scan.
    void hint_exited();

  private:
    friend class ProcessTable;
    void exited(const Exit& exit);  // from the table, once the process was reaped
    void close_fds();

    ProcessTable& table_;
    std::string label_;
    pid_t pid_ = 0;
    bool running_ = false;
    WallTime started_{};
    std::optional<std::chrono::steady_clock::time_point> sigkill_sent_;
    int stdio_fd_ = -1;
    int stdout_fd_ = -1;
    int stderr_fd_ = -1;
    ExitFn on_exit_;
    bool stopping_ = false;
    int stop_signal_ = 0;  // how it was asked (0: another way), for the SIGKILL's log line
    Millis kill_after_{0};
    uint64_t kill_at_ms_ = 0;  // loop time of the SIGKILL, once stopping
    std::unique_ptr<uv::Timer> kill_timer_;
};

// What a failed start's libuv error means, for replies and the log: libuv's own text, and for
// the errors that come from a resource limit, which limit it was (EAGAIN from fork() is the
// process limit, "resource temporarily unavailable" alone does not say so).
std::string describe_spawn_error(int uv_error);

}  // namespace kvd::proc
