#include "daemon/daemon.hpp"

#include <fcntl.h>
#include <fmt/ranges.h>
#include <grp.h>
#include <spdlog/spdlog.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <fstream>
#include <random>

#include "common/socket_path.hpp"
#include "daemon/config_check.hpp"
#include "daemon/log.hpp"
#include "daemon/ops/ops.hpp"

namespace kvd {

namespace {

// A bucket holds up to three fds in kvd (its socket or stdout pipe, its stderr pipe, its
// pidfd: proc/fd_budget.hpp), so 10,000 buckets need far more than the usual soft limit of
// 1024. Raise the soft limit to what is needed, and the hard limit too when kvd may (root,
// or CAP_SYS_RESOURCE).
void raise_fd_limit() {
    constexpr rlim_t kWanted = 65536;
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    if (rl.rlim_max < kWanted) {
        rlimit higher{kWanted, kWanted};
        if (setrlimit(RLIMIT_NOFILE, &higher) == 0) return;
    }
    rl.rlim_cur = std::min(rl.rlim_max, std::max(rl.rlim_cur, kWanted));
    setrlimit(RLIMIT_NOFILE, &rl);
}

// Says, once the config is known, whether the open file limit holds max_buckets buckets
// with all their descriptors, and what gives way if not.
void tell_fd_limit(const proc::FdBudget& fds, std::size_t max_buckets) {
    std::size_t full = 3 * max_buckets;
    if (fds.slots() >= full) return;
    spdlog::info(
        "open file limit is {}: room for {} descriptors of buckets, and max_buckets = {} "
        "would take up to {} (a socket or stdout pipe, a stderr pipe and a pidfd each); "
        "once the rest is needed to keep one descriptor for every bucket still to come, "
        "new buckets get no pidfd (their exits are found at SIGCHLD) and a data bucket's "
        "stderr is not captured (see kvctl status); raise LimitNOFILE",
        fds.open_file_limit(), fds.slots(), max_buckets, full);
}

// 128 random bits as 32 lowercase hex digits: getrandom(2), else /dev/urandom. Should both
// fail (no entropy source at all), the clock and pid still tell two runs apart, which is all
// a boot id is for.
std::string random_boot_id() {
    unsigned char bytes[16];
    std::size_t got = 0;
    while (got < sizeof bytes) {
        ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
        if (n > 0)
            got += static_cast<std::size_t>(n);
        else if (n < 0 && errno != EINTR)
            break;
    }
    if (got < sizeof bytes) {
        std::ifstream urandom("/dev/urandom", std::ios::binary);
        if (urandom.read(reinterpret_cast<char*>(bytes), sizeof bytes)) got = sizeof bytes;
    }
    if (got < sizeof bytes) {
        auto now =
            static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
        std::seed_seq seed{static_cast<uint32_t>(now), static_cast<uint32_t>(now >> 32),
                           static_cast<uint32_t>(getpid())};
        std::mt19937 fallback(seed);
        for (auto& b : bytes) b = static_cast<unsigned char>(fallback());
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id;
    for (unsigned char b : bytes) {
        id += kHex[b >> 4];
        id += kHex[b & 0xf];
    }
    return id;
}

// How long shutdown may take, beyond the buckets' stop_timeout, before kvd exits anyway.
constexpr Millis kShutdownSlack{10000};
// How long handlers have to exit after their stdin is closed at shutdown.
constexpr Millis kHandlerExitGrace{3000};
// How long subscribers get to read their last events at exit (and stderr its last lines).
constexpr Millis kFinalFlush{1000};
// How often log lines that stderr could not take at once are tried again.
constexpr Millis kLogFlushInterval{50};

EventBounds event_bounds(const DaemonSection& d) {
    return EventBounds{d.event_history, d.event_history_bytes, d.backlog_bytes};
}

}  // namespace

Daemon::Daemon(DaemonOptions options, Config config)
    : options_(std::move(options)), config_(std::move(config)), boot_(random_boot_id()) {
    uv_loop_init(&loop_);
    started_ = std::chrono::steady_clock::now();
}

Daemon::~Daemon() {
    // Tear down in reverse order of dependency, then let libuv run the close callbacks. The
    // metrics endpoint's threads go first (joined here): none may reach a loop whose parts are
    // going.
    http_metrics_.reset();
    server_.reset();
    handlers_.reset();
    registry_.reset();
    events_.reset();
    // Last of the children's owners gone: whatever still runs is killed and reaped.
    if (processes_) processes_->close();
    processes_.reset();
    shutdown_deadline_.reset();
    final_flush_.reset();
    log_flush_.reset();
    sigterm_.close();
    sigint_.close();
    sighup_.close();
    if (batcher_) batcher_->close();
    batcher_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop_) != 0) {
        uv_walk(
            &loop_,
            [](uv_handle_t* h, void*) {
                spdlog::error("handle still open at exit: {}", uv_handle_type_name(h->type));
            },
            nullptr);
    }
    log::drain(static_cast<int>(kFinalFlush.count()));
}

uint64_t Daemon::uptime_ms() const {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - started_)
                                     .count());
}

int Daemon::run() {
    uv_disable_stdio_inheritance();
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    batcher_ = std::make_unique<uv::WriteBatcher>(&loop_);
    processes_ = std::make_unique<proc::ProcessTable>(&loop_);
    spdlog::info("process trees: {} mode, {}; limits: {}", processes_->tree_mode(),
                 processes_->tree_detail(), processes_->limits_mode());
    events_ = std::make_unique<EventManager>(event_bounds(config_.daemon));
    registry_ = std::make_unique<Registry>(&loop_, *batcher_, *processes_, *events_);
    registry_->configure(config_);
    tell_fd_limit(processes_->descriptors(), config_.daemon.max_buckets);
    registry_->set_metrics(&metrics_);
    server_ = std::make_unique<ControlServer>(
        &loop_, *batcher_, [this](Connection& c, std::string_view line, Responder reply) {
            ConnectionClient client(*this, c);
            dispatch_request(op_host_, client, line, std::move(reply));
        });
    server_->set_max_clients(config_.daemon.max_clients);
    server_->set_client_buffer_bytes(config_.daemon.client_buffer_bytes);

    // The socket listens first: its path is resolved then (handlers get it as $KVD_SOCKET),
    // and a kvd that finds another one serving there stops before starting handlers of its
    // own. No client is accepted before the loop runs.
    if (auto failure = start_listening()) {
        spdlog::error("{}", failure->message);
        return failure->exit_code;
    }
    // Handlers start before kvd accepts clients, so they see every event from the first.
    handlers_ = std::make_unique<HandlerSet>(
        HandlerEnv{&loop_, *batcher_, *processes_, *events_, socket_path_, boot_});
    handlers_->start_all(config_.handlers);
    start_signals();
    log_flush_ = std::make_unique<uv::Timer>(&loop_);
    log_flush_->start(
        kLogFlushInterval, [] { log::flush_pending(); }, kLogFlushInterval);
    log_flush_->unref();
    spdlog::info("kvd {} ready on {} (pid {}, buckets run {})", KVD_VERSION, socket_path_, getpid(),
                 registry_->program());
    // READY=1 only now that the socket accepts connections.
    systemd_ = std::make_unique<systemd::Notifier>(&loop_, [this] {
        return fmt::format("{}{} buckets, {} handlers, {} clients",
                           shutting_down_ ? "shutting down: " : "", registry_->size(),
                           events_->handler_count(), server_->connection_count());
    });
    // The spawner forks now: kvd is small, and the systemd variables are consumed.
    processes_->start_spawner();
    // After the fork, so that the spawner is not forked from a process with other threads.
    if (auto failure = start_metrics_endpoint()) {
        // The handlers already run: they are closed in order, as at any shutdown.
        spdlog::error("{}", *failure);
        exit_code_ = 1;
        begin_shutdown("metrics endpoint failed");
    } else {
        // [[bucket.start]] buckets start once handlers run, so their create events are seen.
        Registry::Reconciled declared = registry_->reconcile();
        if (!declared.started.empty())
            spdlog::info("starting {} bucket(s) of [[bucket.start]]", declared.started.size());
        systemd_->ready();
    }

    uv_run(&loop_, UV_RUN_DEFAULT);
    // Its timers are unreferenced, so they did not keep the loop running; closed here, they
    // are freed when the destructor runs the loop for the last close callbacks.
    systemd_->close();
    spdlog::info("kvd stopped");
    return exit_code_;
}

std::optional<std::string> Daemon::start_metrics_endpoint() {
    if (!config_.metrics.listen) return std::nullopt;
    http_metrics_ =
        std::make_unique<metrics::HttpEndpoint>(&loop_, [this] { return collect_metrics(); });
    if (auto error = http_metrics_->start(*config_.metrics.listen)) {
        http_metrics_.reset();
        return error;
    }
    spdlog::info("metrics: serving http://{}/metrics (port {})", *config_.metrics.listen,
                 http_metrics_->port());
    return std::nullopt;
}

std::vector<prometheus::MetricFamily> Daemon::collect_metrics() const {
    metrics::Snapshot now;
    now.version = KVD_VERSION;
    now.boot = boot_;
    now.uptime_seconds = static_cast<double>(uptime_ms()) / 1000.0;
    for (const Bucket* b : registry_->sorted()) {
        std::string_view state = b->state_name();
        auto it = std::find_if(now.buckets_by_state.begin(), now.buckets_by_state.end(),
                               [&](const auto& entry) { return entry.first == state; });
        if (it == now.buckets_by_state.end())
            now.buckets_by_state.emplace_back(std::string(state), 1);
        else
            ++it->second;
    }
    if (handlers_) {
        for (const Json& row : handlers_->info()) {
            metrics::HandlerFigures h;
            h.name = row.value("name", "");
            h.state = row.value("state", "");
            h.mode = row.value("mode", "");
            h.delivered = row.value("delivered", uint64_t{0});
            h.acked = row.value("acked", uint64_t{0});
            h.dropped = row.value("dropped", uint64_t{0});
            h.restarts = row.value("restarts", uint64_t{0});
            h.queued = row.value("queued", uint64_t{0});
            now.handlers.push_back(std::move(h));
        }
    }
    now.last_seq = events_->last_seq();
    now.history_events = events_->history_size();
    now.history_bytes = events_->history_bytes();
    now.connections = server_ ? server_->connection_count() : 0;
    now.subscriptions = events_->subscription_count();
    return metrics_.collect(now);
}

std::optional<Daemon::StartFailure> Daemon::start_listening() {
    auto failed = [](std::optional<std::string> error) -> std::optional<StartFailure> {
        if (!error) return std::nullopt;
        return StartFailure{std::move(*error)};
    };
    SocketPathInputs in = socket_path_inputs_from_environment();
    in.flag = options_.socket_flag;
    in.config = config_.daemon.socket;
    socket_path_ = resolve_socket_path(in);

    std::optional<gid_t> group;
    if (config_.daemon.socket_group) {
        const std::string& name = *config_.daemon.socket_group;
        // check_runnable refused a config naming a group that does not exist; this is for
        // one removed since.
        if (struct group* gr = getgrnam(name.c_str()))
            group = gr->gr_gid;
        else
            return StartFailure{fmt::format("socket_group '{}' does not exist", name), 2};
    }

    // Socket activation: systemd created the file with kvd.socket's mode and group and owns
    // it, so kvd neither creates nor removes it.
    systemd::Activation activation = systemd::take_activated_socket();
    if (activation.error) return failed(activation.error);
    if (const auto& passed = activation.socket) {
        if (!passed->path.empty() && passed->path != socket_path_) {
            spdlog::warn(
                "socket activation: serving on {}, not on {} (clients may need "
                "--socket or $KVD_SOCKET)",
                passed->path, socket_path_);
            socket_path_ = passed->path;
        }
        // Without a socket_group in the config, the group kvd.socket gave the file
        // (SocketGroup=) is the one let in; root's group never is by default.
        if (!group && passed->group && *passed->group != 0) group = passed->group;
        server_->set_access(AccessPolicy{getuid(), group});
        spdlog::info("socket activation: serving on fd {} ({})", passed->fd, socket_path_);
        return failed(server_->listen_fd(passed->fd));
    }
    server_->set_access(AccessPolicy{getuid(), group});
    return failed(server_->listen_path(socket_path_, config_.daemon.socket_mode, group));
}

void Daemon::start_signals() {
    auto init = [this](uv::Handle<uv_signal_t>& h, int signo) {
        uv_signal_init(&loop_, h.get());
        h.mark_initialized();
        h.get()->data = this;
        uv_signal_start(
            h.get(),
            [](uv_signal_t* s, int signum) {
                auto* self = static_cast<Daemon*>(s->data);
                if (!self) return;
                if (signum == SIGHUP) {
                    spdlog::info("SIGHUP: reloading {}", self->options_.config_path.empty()
                                                             ? "(no config file)"
                                                             : self->options_.config_path);
                    if (!self->shutting_down_) self->reload();
                    // Also when the config was refused: logrotate's postrotate sends SIGHUP.
                    self->registry_->logs().reopen_files();
                    return;
                }
                self->begin_shutdown(signum == SIGTERM ? "SIGTERM" : "SIGINT");
            },
            signo);
    };
    init(sigterm_, SIGTERM);
    init(sigint_, SIGINT);
    init(sighup_, SIGHUP);
}

void Daemon::begin_shutdown(const char* why) {
    if (shutting_down_) {
        spdlog::warn("{} again: killing what is left", why);
        registry_->stop_all(nullptr);
        return;
    }
    shutting_down_ = true;
    spdlog::info("{}: shutting down, stopping {} bucket(s)", why, registry_->size());
    // Scrapes end with the rest of new work; its threads stop meanwhile, joined at exit.
    if (http_metrics_) http_metrics_->close();
    sd_notify(0, "STOPPING=1");
    server_->stop_listening();

    // However the buckets behave, shutdown ends: SIGKILL after stop_timeout, and a final
    // deadline after that.
    shutdown_deadline_ = std::make_unique<uv::Timer>(&loop_);
    shutdown_deadline_->start(config_.bucket.stop_timeout + kShutdownSlack, [this] {
        spdlog::error(
            "shutdown deadline passed with {} bucket(s) left; killing what is "
            "left and exiting",
            registry_->size());
        // No child outlives kvd: a frozen bucket ignores SIGTERM, and one that kvd stopped
        // watching would be nobody's.
        registry_->kill_all();
        handlers_->kill_all();
        finish_shutdown();
    });
    // Buckets first, so that their exit events reach the handlers; then the handlers, once
    // every sync handler acknowledged (or timed out on) what it was sent.
    registry_->stop_all([this] {
        events_->when_idle([this] {
            spdlog::info("all buckets stopped; closing {} handler(s)", handlers_->size());
            handlers_->stop_all(kHandlerExitGrace, [this] { finish_shutdown(); });
        });
    });
}

void Daemon::finish_shutdown() {
    if (finishing_) return;
    finishing_ = true;
    if (shutdown_deadline_) shutdown_deadline_->close();
    sigterm_.close();
    sigint_.close();
    sighup_.close();
    // Clients still connected (subscribers) get what is queued for them, within a bound.
    server_->finish_all();
    final_flush_ = std::make_unique<uv::Timer>(&loop_);
    final_flush_->start(kFinalFlush, [this] { uv_stop(&loop_); });
    final_flush_->unref();
}

Outcome Daemon::reload() {
    auto refuse = [](const std::vector<ConfigError>& errors) -> Outcome {
        std::string message = "config not reloaded:";
        for (const auto& e : errors) message += "\n" + e.to_string();
        spdlog::error("{}", message);
        return Failure{wire::ErrorCode::bad_request, message};
    };
    Config next;
    if (!options_.config_path.empty()) {
        auto loaded = load_config_file(options_.config_path);
        if (auto* errors = std::get_if<std::vector<ConfigError>>(&loaded)) return refuse(*errors);
        next = std::move(std::get<Config>(loaded));
    }
    // A config that cannot run here (a missing group or program) is refused like an invalid
    // one: nothing changes.
    if (auto errors = check_runnable(next, run_environment_of_this_process()); !errors.empty())
        return refuse(errors);
    if (next.daemon.socket != config_.daemon.socket ||
        next.daemon.socket_mode != config_.daemon.socket_mode ||
        next.daemon.socket_group != config_.daemon.socket_group)
        spdlog::warn("reload: socket settings take effect only when kvd restarts");
    if (next.metrics.listen != config_.metrics.listen) {
        // Kept as it runs, so that a later reload compares with what serves.
        spdlog::warn("reload: [metrics] listen takes effect only when kvd restarts");
        next.metrics = config_.metrics;
    }
    if (!options_.log_level_from_flag && next.daemon.log_level)
        if (auto level = log::parse_level(*next.daemon.log_level)) log::set_level(*level);
    registry_->configure(next);
    server_->set_max_clients(next.daemon.max_clients);
    server_->set_client_buffer_bytes(next.daemon.client_buffer_bytes);
    events_->set_bounds(event_bounds(next.daemon));
    ReloadSummary s = handlers_->reload(next.handlers);
    config_ = std::move(next);
    Registry::Reconciled b = registry_->reconcile();
    spdlog::info(
        "config reloaded: handlers started [{}] stopped [{}] restarted [{}]; buckets "
        "started [{}] stopped [{}] restarted [{}]",
        fmt::join(s.started, ", "), fmt::join(s.stopped, ", "), fmt::join(s.restarted, ", "),
        fmt::join(b.started, ", "), fmt::join(b.stopped, ", "), fmt::join(b.restarted, ", "));
    notify_systemd_status();
    Json result{{"started", s.started}, {"stopped", s.stopped}, {"restarted", s.restarted}};
    // Handler names, as ever; the [[bucket.start]] buckets only when the reload changed any.
    if (!b.started.empty() || !b.stopped.empty() || !b.restarted.empty())
        result["buckets"] = {
            {"started", b.started}, {"stopped", b.stopped}, {"restarted", b.restarted}};
    return result;
}

void Daemon::notify_systemd_status() {
    if (systemd_) systemd_->refresh_status();
}

}  // namespace kvd
