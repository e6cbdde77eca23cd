// One bucket: a name in the registry, the kind it runs, its current process (by default
// kv-bucket) with kvd's end of its socket pair, and what its supervision remembers across
// restarts (state, restarts, last exit). The registry decides what happens at an exit (see
// registry.hpp); the bucket carries it out.
//
// Requests are pipelined to the process and answered strictly in order, so each reply is
// matched to the oldest pending request. When the process goes away every pending request
// fails, and a request it does not answer within the request timeout fails with `timeout`:
// no request waits forever. Its late reply, if one comes, is read and discarded, so replies
// stay matched to requests. Stopping is a small state machine: SIGTERM, a timer, SIGKILL;
// the reason is recorded when the stop is asked for, so the exit event says `stopped`
// truthfully. The process itself, its stop sequence and its exit notice are its Child's
// (daemon/proc/child.hpp).
#pragma once

#include <sys/types.h>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/clock.hpp"
#include "common/duration.hpp"
#include "daemon/config.hpp"
#include "daemon/ops/host.hpp"
#include "daemon/outcome.hpp"
#include "daemon/proc/child.hpp"
#include "daemon/proc/fd_budget.hpp"
#include "daemon/uv/line_stream.hpp"
#include "daemon/uv/timer.hpp"

namespace kvd {

enum class BucketState { starting, running, stopping, backoff, failed };
std::string_view bucket_state_name(BucketState s);

class Bucket final : public OpBucket {
  public:
    struct Limits {
        Millis request_timeout{5000};
        // The longest reply line accepted from the process.
        std::size_t max_reply_bytes = 64 * 1024 * 1024;
        // Request bytes kvd may hold for a process that is not reading them.
        std::size_t max_unsent_bytes = 16 * 1024 * 1024;
    };

    // `limits` is the registry's, read at each use: a reload's request_timeout and
    // max_unsent_bytes apply to live buckets too. max_reply_bytes is taken once, at start (the
    // process gets it in its environment), so it applies to buckets created after a reload.
    Bucket(uv_loop_t* loop, uv::WriteBatcher& batcher, proc::ProcessTable& processes,
           std::string name, const Limits& limits, std::shared_ptr<const KindConfig> kind);
    ~Bucket();
    Bucket(const Bucket&) = delete;
    Bucket& operator=(const Bucket&) = delete;

    // Starts a process (the first, or a restart) and, for a kind that serves data, opens kvd's
    // end of its socket: 0, or a libuv error code (then no process is left running).
    // `on_exit` runs once the process has ended and was reaped; its socket closing
    // (kv-bucket's does as it exits) fails what is pending but is not taken for the exit.
    int start(const proc::Command& command, proc::Child::ExitFn on_exit);

    const std::string& name() const override { return name_; }
    pid_t pid() const override { return child_.running() ? child_.pid() : 0; }
    // The read end of its stderr pipe, once per start when captured (-1 otherwise).
    int take_stderr() { return child_.take_stderr(); }
    // The read end of its stdout pipe, for a kind that holds no data (-1 otherwise).
    int take_stdout() { return child_.take_stdout(); }
    WallTime started() const override { return child_.started(); }
    bool has_process() const override { return child_.running(); }
    bool serves_data() const override { return kind_->data; }
    const std::string& kind_name() const override { return kind_->name; }
    BucketInfo info() const override;
    std::string_view state_name() const override { return bucket_state_name(state_); }
    const KindConfig& kind() const { return *kind_; }
    const std::shared_ptr<const KindConfig>& kind_ptr() const { return kind_; }
    void set_kind(std::shared_ptr<const KindConfig> kind) { kind_ = std::move(kind); }
    BucketState state() const { return state_; }
    void set_state(BucketState s) { state_ = s; }
    // Becomes running; the registry publishes its `create`.
    void mark_ready() { state_ = BucketState::running; }

    // Sends one request line; `fn` gets its reply, exactly once.
    void request(std::string_view line, ReplyFn fn) override;

    // SIGTERM once the requests already sent to it are answered or timed out (so a `stop`
    // never overtakes a `put` pipelined before it), then SIGKILL if it is still alive
    // `timeout` after the SIGTERM. With `now`, SIGTERM goes at once (shutdown). Requests made
    // after the stop are refused. `done` runs once the exit was handled (see Registry).
    // Asking again adds a waiter, and may only bring the SIGTERM and SIGKILL forward.
    void stop(Millis timeout, OutcomeFn done, bool now = false);
    bool stop_requested() const override { return stop_requested_; }
    Millis request_timeout() const override { return limits_.request_timeout; }
    // `done` runs once the exit was handled, without asking for a stop.
    void when_gone(OutcomeFn done) { stop_waiters_.push_back(std::move(done)); }
    // Sends `signo` as is (the `kill` op); a libuv error code. A signal sent this way makes
    // the exit read `killed` (see exit_reason_killed).
    int signal(int signo) override;
    // Whether a `kill` op sent it a signal that ends a process by default.
    bool kill_requested() const { return kill_requested_; }

    // The process was reaped: fail what is pending and hand the stop waiters to the caller.
    // `last` is what `list` shows as its last exit from now on.
    std::vector<OutcomeFn> on_exited(LastExit last);

    // What the registry remembers across this bucket's processes.
    struct Supervision {
        uint64_t restarts = 0;  // processes started after the first
        // Loop times of automatic ones, in the window, oldest first. (Not a deque: an empty
        // std::deque costs about 600 bytes, and 10,000 buckets have one each.)
        std::vector<uint64_t> recent_restarts;
        Millis next_delay{0};        // the next backoff
        bool announced = false;      // this process's `create` was published (so its `exit` is)
        bool declared = false;       // from [[bucket.start]]
        bool restart_asked = false;  // the `restart` op: start again once gone
        std::vector<OutcomeFn> ready_waiters;    // `create`s waiting for READY=1
        std::vector<OutcomeFn> restart_waiters;  // `restart`s waiting for the new process
        std::unique_ptr<uv::Timer> timer;        // backoff, or the ready timeout
        uint64_t ready_at_ms = 0;                // loop time it became running
        bool api_create = false;       // its first process came from a `create` (not a restart)
        bool ready_timed_out = false;  // this process did not send READY=1 in time
        proc::FdShare fds;             // this process's share of kvd's open file limit
    } sup;

  private:
    struct Pending {
        ReplyFn fn;  // empty once answered with `timeout`: its late reply is discarded
        uint64_t deadline_ms;
    };

    void fail_pending();
    void send_term_if_idle();
    void arm_request_timer();
    void expire_requests();
    bool has_live_requests() const { return live_requests_ > 0; }

    uv_loop_t* loop_;
    uv::WriteBatcher& batcher_;
    std::string name_;
    proc::Child child_;
    std::unique_ptr<uv::LineStream> stream_;  // the data socket of the current process
    bool stream_ended_ = false;
    const Limits& limits_;
    const std::size_t max_reply_bytes_;
    std::shared_ptr<const KindConfig> kind_;
    BucketState state_ = BucketState::starting;
    std::optional<LastExit> last_exit_;
    std::deque<Pending> pending_;
    std::size_t live_requests_ = 0;
    std::unique_ptr<uv::Timer> request_timer_;
    bool stop_requested_ = false;
    bool kill_requested_ = false;
    Millis kill_after_{0};  // the shortest stop timeout asked for
    std::vector<OutcomeFn> stop_waiters_;
};

}  // namespace kvd
