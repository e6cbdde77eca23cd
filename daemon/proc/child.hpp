// One child process of kvd, from its start to the one notice of its exit.
//
// A Child owns everything about a process kvd started: its pid, kvd's ends of its stdio
// until the owner takes them, the stop sequence (a signal or another request to exit, then
// SIGKILL once the time given has passed) and the exit notice, which comes exactly once, from
// the loop, after the process was reaped. Buckets and handlers each own one. How a child is
// started (the spawner, or uv_spawn) and how its exit is learnt (its pidfd) is the business
// of the ProcessTable (process_table.hpp); the owner sees only this class.
//
// Destroying a Child whose process still runs SIGKILLs the process; the table reaps it, so
// no zombie and no orphan is left, and no exit notice comes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
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
};

struct Command {
    std::string label;                           // "bucket shopping", for kvd's log
    std::vector<std::string> argv;               // argv[0] is run through PATH if it has no '/'
    std::map<std::string, std::string> env_add;  // added to kvd's own environment
    // The child's stdin and stdout are its end of a Unix socket pair with kvd. Its stderr is
    // kvd's fd `stderr_fd` (which the caller keeps), or, with capture_stderr, a pipe whose
    // read end take_stderr() hands over.
    int stderr_fd = 2;
    bool capture_stderr = false;
};

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

    // kvd's end of the child's stdin/stdout socket, and the read end of its stderr pipe: each
    // handed over once per start (-1 after), and then owned by the caller.
    int take_stdio();
    int take_stderr();

    // Sends `signo` as is; a libuv error code (UV_ESRCH once the process has ended).
    int signal(int signo);
    // Asks the process to end: sends `signo` (0: none, the owner asked another way, such as
    // closing its stdin), and SIGKILL `kill_after` later if it still runs. Asking again sends
    // no second signal and may only bring the SIGKILL forward.
    void stop(int signo, Millis kill_after);
    bool stopping() const { return stopping_; }
    // SIGKILL now.
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
    int stdio_fd_ = -1;
    int stderr_fd_ = -1;
    ExitFn on_exit_;
    bool stopping_ = false;
    std::string stop_asked_;  // how it was asked, for the SIGKILL's log line
    Millis kill_after_{0};
    uint64_t kill_at_ms_ = 0;  // loop time of the SIGKILL, once stopping
    std::unique_ptr<uv::Timer> kill_timer_;
};

// What a failed start's libuv error means, for replies and the log: libuv's own text, and for
// the errors that come from a resource limit, which limit it was (EAGAIN from fork() is the
// process limit, "resource temporarily unavailable" alone does not say so).
std::string describe_spawn_error(int uv_error);

}  // namespace kvd::proc
