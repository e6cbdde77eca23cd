// A handler (GenEvent.add_handler): a listener process from the config. Its stdin and stdout
// are its end of one socket pair with kvd; its stderr lines go to kvd's log prefixed with
// its name. Events reach it through its Receiver, which outlives each process so that a
// restarted handler gets the sync events its predecessor had not acked.
//
// Lifecycle: running → (exit) → restarting (backoff timer) → running …, or stopped when the
// restart policy says no; stopping → stopped when kvd closes its stdin (reload, shutdown).
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "daemon/config.hpp"
#include "daemon/event_manager.hpp"
#include "daemon/log.hpp"
#include "daemon/outcome.hpp"
#include "daemon/proc/process_table.hpp"
#include "daemon/receiver.hpp"
#include "daemon/uv/line_stream.hpp"
#include "daemon/uv/timer.hpp"

namespace kvd {

struct HandlerEnv {
    uv_loop_t* loop;
    uv::WriteBatcher& batcher;
    proc::ProcessTable& processes;
    EventManager& events;
    std::string socket_path;  // passed on as $KVD_SOCKET so a handler can call kvctl
    std::string boot;         // passed on as $KVD_BOOT: names this run's events with their seq
};

class Handler {
  public:
    enum class State { running, restarting, stopping, stopped };

    Handler(HandlerEnv env, HandlerConfig config);
    ~Handler();
    Handler(const Handler&) = delete;
    Handler& operator=(const Handler&) = delete;

    void start();
    // Closes the handler's stdin (it must then exit); SIGKILL after `grace`. `done` runs once
    // the process is gone (at once if it is not running). Pending events are released.
    void stop(Millis grace, std::function<void()> done);

    // A handler replaced on reload hands what it still owes its process (events unacked or
    // unsent) to its successor; see Receiver::take_backlog. Taken before stop().
    Receiver::Backlog take_backlog() { return receiver_.take_backlog(); }
    void adopt(Receiver::Backlog backlog) { receiver_.adopt(std::move(backlog)); }

    // SIGKILL now, if its process runs (the shutdown deadline passed).
    void kill_now();

    const HandlerConfig& config() const { return config_; }
    const std::string& name() const { return config_.name; }
    State state() const { return state_; }
    // Its process, while it runs; 0 otherwise.
    pid_t pid() const { return child_.running() ? child_.pid() : 0; }
    // One row of the `handlers` op.
    Json info() const;

  private:
    void spawn_now();
    void on_exit(const proc::Exit& exit);
    void after_failure(const std::string& why, bool failed);
    void on_unexpected_line(std::string_view line);
    void kill_for(const std::string& why);
    void report_suppressed(uint64_t lines);

    HandlerEnv env_;
    HandlerConfig config_;
    Receiver receiver_;
    State state_ = State::stopped;
    proc::Child child_;
    bool killed_by_us_ = false;
    std::unique_ptr<uv::LineStream> socket_;
    std::unique_ptr<UvPeerStream> peer_;  // socket_, as the receiver writes to it
    std::unique_ptr<uv::LineStream> stderr_;
    std::unique_ptr<uv::Timer> timer_;  // restart backoff, or the grace after its socket closed
    std::function<void()> stopped_;
    uint64_t restarts_ = 0;
    unsigned consecutive_failures_ = 0;
    unsigned unexpected_lines_ = 0;      // this run, for the log
    unsigned unexpected_since_ack_ = 0;  // lines in a row with no ack between them
    uint64_t acked_at_unexpected_ = 0;   // the receiver's ack count at the last such line
    std::chrono::steady_clock::time_point started_at_;
    // Its stderr lines in kvd's log, rate-limited: a flooding handler costs bounded log.
    log::RepeatLimiter stderr_logged_;
};

std::string_view handler_state_name(Handler::State s);

}  // namespace kvd
