#include "daemon/handler.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

#include "common/signals.hpp"

namespace kvd {

namespace {
// A run at least this long counts as healthy: the next failure starts the backoff afresh.
constexpr std::chrono::seconds kHealthyRun{10};
// Lines a handler may write that are not acks before kvd stops logging them (per run).
constexpr unsigned kUnexpectedLinesLogged = 5;
// Lines that are not acks, with no ack between them, after which the handler counts as
// failed: it is not speaking the protocol (an async handler writes nothing at all), and
// reading its flood would keep kvd busy for as long as it runs. A sync handler that writes
// a stray line beside each ack stays well under this.
constexpr unsigned kUnexpectedLinesTolerated = 1000;
// How long a handler that closed its socket may take to exit before it is killed.
constexpr Millis kSocketClosedGrace{1000};
// Stderr lines of one handler logged per second; the rest are counted, not logged.
constexpr unsigned kStderrLinesPerSecond = 200;
// Handler sockets carry acks; a longer line means the handler is writing something else.
constexpr std::size_t kMaxHandlerLineBytes = 64 * 1024;

// A line a handler wrote, fit for the log: at most `max` bytes, control characters but tab (a
// terminal's escape sequences among them) shown as \xNN rather than passed on.
std::string printable(std::string_view line, std::size_t max) {
    std::string out;
    for (unsigned char c : line.substr(0, max)) {
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            out += fmt::format("\\x{:02x}", c);
        else
            out += static_cast<char>(c);
    }
    if (line.size() > max) out += "...";
    return out;
}

ReceiverOptions receiver_options(const HandlerConfig& c) {
    ReceiverOptions o;
    o.name = c.name;
    o.is_handler = true;
    o.mode = c.mode;
    o.types = c.events;
    o.queue_limit = c.queue;
    o.ack_timeout = c.ack_timeout;
    return o;
}
}  // namespace

std::string_view handler_state_name(Handler::State s) {
    switch (s) {
        case Handler::State::running:
            return "running";
        case Handler::State::restarting:
            return "restarting";
        case Handler::State::stopping:
            return "stopping";
        case Handler::State::stopped:
            return "stopped";
    }
    return "?";
}

Handler::Handler(HandlerEnv env, HandlerConfig config)
    : env_(std::move(env)),
      config_(std::move(config)),
      receiver_(env_.events, env_.loop, receiver_options(config_)),
      child_(env_.processes),
      stderr_logged_(kStderrLinesPerSecond, 1000) {
    timer_ = std::make_unique<uv::Timer>(env_.loop);
    receiver_.on_ack_timeout = [this] {
        kill_for(
            fmt::format("did not acknowledge within {}", format_duration(config_.ack_timeout)));
    };
    receiver_.on_unexpected_line = [this](std::string_view line) { on_unexpected_line(line); };
}

Handler::~Handler() {
    timer_->close();
    receiver_.detach();
    if (socket_) socket_->close();
    if (stderr_) stderr_->close();
    // A process still running (kvd gave up waiting on it) is killed by its Child.
}

void Handler::start() {
    if (state_ == State::running) return;
    spawn_now();
}

void Handler::spawn_now() {
    proc::Command command;
    command.label = "handler " + config_.name;
    command.argv = config_.command;
    command.env_add = config_.env;
    command.env_add["KVD_HANDLER"] = config_.name;
    command.env_add["KVD_SOCKET"] = env_.socket_path;
    command.env_add["KVD_BOOT"] = env_.boot;
    // Lets one script serve both modes: ack only when sync.
    command.env_add["KVD_HANDLER_MODE"] = std::string(handler_mode_name(config_.mode));
    command.capture_stderr = true;
    if (int rc = child_.start(command, [this](const proc::Exit& e) { on_exit(e); }); rc != 0) {
        after_failure(
            fmt::format("cannot start {}: {}", config_.command[0], proc::describe_spawn_error(rc)),
            true);
        return;
    }

    state_ = State::running;
    killed_by_us_ = false;
    unexpected_lines_ = 0;
    unexpected_since_ack_ = 0;
    started_at_ = std::chrono::steady_clock::now();

    stderr_ = std::make_unique<uv::LineStream>(env_.loop, env_.batcher, kMaxHandlerLineBytes);
    if (stderr_->open(child_.take_stderr()) == 0) {
        stderr_->start(
            [this](std::string_view line) {
                uint64_t suppressed = 0;
                bool admitted = stderr_logged_.admit(uv_now(env_.loop), suppressed);
                report_suppressed(suppressed);
                if (admitted)
                    spdlog::info("handler {}: {}", config_.name,
                                 printable(line, kMaxHandlerLineBytes));
            },
            [this](uv::StreamEnd, int) {
                report_suppressed(stderr_logged_.take_suppressed());
                stderr_->close();
            });
    }

    peer_.reset();  // the previous run's, over the previous socket
    socket_ = std::make_unique<uv::LineStream>(env_.loop, env_.batcher, kMaxHandlerLineBytes);
    if (int rc = socket_->open(child_.take_stdio()); rc != 0) {
        kill_for(fmt::format("cannot use its socket: {}", uv_strerror(rc)));
        return;
    }
    socket_->start([this](std::string_view line) { receiver_.on_line(line); },
                   [this](uv::StreamEnd why, int err) {
                       receiver_.detach();
                       if (state_ != State::running) return;  // stopping: EOF is expected
                       if (why == uv::StreamEnd::line_too_long) {
                           kill_for("wrote a line longer than any ack");
                       } else if (why == uv::StreamEnd::error && err != UV_ECONNRESET) {
                           kill_for(fmt::format("socket error: {}", uv_strerror(err)));
                       } else {
                           // Usually the process is exiting and its exit is on the way (a
                           // reset: it left events unread); one that keeps running without
                           // its socket is of no use.
                           timer_->start(kSocketClosedGrace, [this] {
                               if (state_ == State::running)
                                   kill_for("closed its end of the socket but kept running");
                           });
                       }
                   });
    spdlog::info("handler {} started (pid {}, {} mode)", config_.name, child_.pid(),
                 handler_mode_name(config_.mode));
    peer_ = std::make_unique<UvPeerStream>(*socket_);
    receiver_.attach(peer_.get());
}

void Handler::report_suppressed(uint64_t lines) {
    if (lines > 0)
        spdlog::warn(
            "handler {}: {} similar lines suppressed (more than {} a second on its "
            "stderr)",
            config_.name, lines, kStderrLinesPerSecond);
}

void Handler::kill_for(const std::string& why) {
    if (!child_.running() || killed_by_us_) return;
    spdlog::warn("handler {} (pid {}) {}; killing it", config_.name, child_.pid(), why);
    killed_by_us_ = true;
    receiver_.detach();
    child_.kill();
}

void Handler::on_unexpected_line(std::string_view line) {
    ++unexpected_lines_;
    uint64_t acked = receiver_.counters().acked;
    if (acked != acked_at_unexpected_) {
        acked_at_unexpected_ = acked;
        unexpected_since_ack_ = 0;
    }
    if (++unexpected_since_ack_ == kUnexpectedLinesTolerated) {
        kill_for(
            fmt::format("wrote {} lines in a row that are not acks", kUnexpectedLinesTolerated));
        return;
    }
    if (unexpected_lines_ <= kUnexpectedLinesLogged) {
        spdlog::warn("handler {} wrote an unexpected line{}: {}", config_.name,
                     config_.mode == HandlerMode::async ? " (async handlers write nothing)" : "",
                     printable(line, 200));
        if (unexpected_lines_ == kUnexpectedLinesLogged)
            spdlog::warn("handler {}: further unexpected lines are not logged", config_.name);
    }
}

void Handler::on_exit(const proc::Exit& exit) {
    timer_->stop();
    receiver_.detach();
    if (socket_) socket_->close();
    // stderr_ is left to drain: its last lines often say why the handler died.
    pid_t pid = exit.pid;
    std::string how = exit.signaled ? fmt::format("killed by {}", signal_name(exit.signal))
                                    : fmt::format("exited with code {}", exit.code);

    if (state_ == State::stopping) {
        spdlog::info("handler {} (pid {}) {}", config_.name, pid, how);
        state_ = State::stopped;
        receiver_.close();
        timer_->stop();
        if (auto fn = std::move(stopped_)) {
            stopped_ = nullptr;
            fn();
        }
        return;
    }
    if (std::chrono::steady_clock::now() - started_at_ >= kHealthyRun) consecutive_failures_ = 0;
    bool failed = exit.signaled || exit.code != 0 || killed_by_us_;
    after_failure(fmt::format("(pid {}) {}", pid, how), failed);
}

void Handler::after_failure(const std::string& why, bool failed) {
    bool restart = config_.restart == RestartPolicy::always ||
                   (config_.restart == RestartPolicy::on_failure && failed);
    if (!restart) {
        spdlog::warn("handler {} {}; not restarted (restart = {})", config_.name, why,
                     restart_policy_name(config_.restart));
        state_ = State::stopped;
        // It will not run again: events published from now on are not kept for it.
        receiver_.close();
        return;
    }
    // Exponential backoff: restart_delay, doubling per consecutive failure, capped.
    unsigned n = std::min(consecutive_failures_, 30u);
    ++consecutive_failures_;
    auto delay = config_.restart_delay * (int64_t{1} << n);
    if (delay > config_.restart_delay_max || delay < config_.restart_delay)
        delay = config_.restart_delay_max;
    spdlog::warn("handler {} {}; restarting in {}", config_.name, why, format_duration(delay));
    state_ = State::restarting;
    timer_->start(delay, [this] {
        if (state_ != State::restarting) return;
        ++restarts_;
        spawn_now();
    });
}

void Handler::stop(Millis grace, std::function<void()> done) {
    if (state_ == State::stopping) {
        // Already on its way out: also tell this caller when it is gone.
        stopped_ = [first = std::move(stopped_), done = std::move(done)] {
            if (first) first();
            done();
        };
        return;
    }
    timer_->stop();
    if (state_ != State::running || !child_.running()) {
        state_ = State::stopped;
        receiver_.close();
        done();
        return;
    }
    state_ = State::stopping;
    stopped_ = std::move(done);
    receiver_.detach();
    // End of file on its stdin is the handler's signal to exit.
    if (socket_) socket_->shutdown_write();
    child_.stop(0, grace);
}

void Handler::kill_now() {
    if (!child_.running()) return;
    spdlog::warn("handler {} (pid {}) still running; sending SIGKILL", config_.name, child_.pid());
    child_.kill();
}

Json Handler::info() const {
    const auto& c = receiver_.counters();
    return {{"name", config_.name},
            {"pid", pid() > 0 ? Json(pid()) : Json(nullptr)},
            {"state", handler_state_name(state_)},
            {"mode", handler_mode_name(config_.mode)},
            {"delivered", c.delivered},
            {"acked", c.acked},
            {"dropped", c.dropped},
            {"restarts", restarts_},
            {"queued", receiver_.queued()}};
}

}  // namespace kvd
