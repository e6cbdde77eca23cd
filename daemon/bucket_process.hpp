// One live bucket: a kv-bucket child process and kvd's end of its socket pair.
//
// Requests are pipelined to the process and answered strictly in order, so each reply is
// matched to the oldest pending request. When the process goes away every pending request
// fails (never hangs). Stopping is a small state machine: SIGTERM, a timer, SIGKILL; the
// reason is recorded when the stop is asked for, so the exit event says `stopped` truthfully.
#pragma once

#include <sys/types.h>

#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "common/duration.hpp"
#include "daemon/outcome.hpp"
#include "daemon/uv/line_stream.hpp"
#include "daemon/uv/timer.hpp"

namespace kvd {

class Bucket {
public:
    // A reply line from the process, or nullopt when it went away before answering.
    using ReplyFn = std::function<void(std::optional<std::string_view> reply_line)>;

    Bucket(uv_loop_t* loop, uv::WriteBatcher& batcher, std::string name, pid_t pid);
    ~Bucket();
    Bucket(const Bucket&) = delete;
    Bucket& operator=(const Bucket&) = delete;

    // Takes kvd's end of the socket pair; a libuv error code, 0 on success. `on_hangup` runs
    // when the process closes its end, which it does by exiting.
    int attach(int socket_fd, std::function<void()> on_hangup);

    const std::string& name() const { return name_; }
    pid_t pid() const { return pid_; }
    WallTime started() const { return started_; }

    // Sends one request line; `fn` gets its reply.
    void request(std::string_view line, ReplyFn fn);
    std::size_t pending_requests() const { return pending_.size(); }

    // SIGTERM once the requests already sent to it are answered (so a `stop` never overtakes
    // a `put` pipelined before it), SIGKILL after `timeout` if still alive. Requests made
    // after the stop are refused. `done` runs once the exit was handled (see Registry).
    // Asking again only adds a waiter.
    void stop(Millis timeout, OutcomeFn done);
    bool stop_requested() const { return stop_requested_; }
    // Sends `signo` as is (the `kill` op); a libuv error code.
    int signal(int signo);

    // The process was reaped: fail what is pending and hand the stop waiters to the caller.
    std::vector<OutcomeFn> on_exited();

private:
    void fail_pending();
    void send_term_if_idle();

    uv_loop_t* loop_;
    std::string name_;
    pid_t pid_;
    WallTime started_;
    uv::LineStream stream_;
    bool stream_ended_ = false;
    std::list<ReplyFn> pending_;
    bool stop_requested_ = false;
    bool term_sent_ = false;
    std::unique_ptr<uv::Timer> kill_timer_;
    std::vector<OutcomeFn> stop_waiters_;
};

}  // namespace kvd
