// kvd as a whole: owns the loop and every part, and orders startup and shutdown.
//
// Startup: config → handlers started → control socket listening → READY=1.
// Shutdown (SIGTERM/SIGINT): refuse new work → stop every bucket and deliver their exit
// events → close handlers → close the socket (removing its file) → loop ends → exit 0.
#pragma once

#include <uv.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "daemon/config.hpp"
#include "daemon/control_server.hpp"
#include "daemon/event_manager.hpp"
#include "daemon/handler_set.hpp"
#include "daemon/log.hpp"
#include "daemon/metrics/http_endpoint.hpp"
#include "daemon/metrics/metrics.hpp"
#include "daemon/op_host.hpp"
#include "daemon/outcome.hpp"
#include "daemon/proc/process_table.hpp"
#include "daemon/registry.hpp"
#include "daemon/systemd.hpp"
#include "daemon/uv/handle.hpp"
#include "daemon/uv/line_stream.hpp"
#include "daemon/uv/timer.hpp"

namespace kvd {

struct DaemonOptions {
    std::string config_path;                 // empty: built-in defaults
    std::optional<std::string> socket_flag;  // --socket
    bool log_level_from_flag = false;        // --log-level given: the config does not override
};

class Daemon {
  public:
    Daemon(DaemonOptions options, Config config);
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    // Starts everything and runs the loop until shutdown completes. Returns the exit code.
    int run();

    uv_loop_t* loop() { return &loop_; }
    Registry& registry() { return *registry_; }
    const proc::ProcessTable& processes() const { return *processes_; }
    HandlerSet& handlers() { return *handlers_; }
    EventManager& events() { return *events_; }
    const Config& config() const { return config_; }
    bool shutting_down() const { return shutting_down_; }
    uint64_t uptime_ms() const;
    // This run's identity (README "The control protocol"): 32 lowercase hex digits, random at each
    // start. seq restarts at 1 with every run, so (boot, seq) is what names an event.
    const std::string& boot() const { return boot_; }

    // kvd's figures now (README "Metrics"), for `metrics` and the HTTP endpoint; on the loop.
    std::vector<prometheus::MetricFamily> collect_metrics() const;
    // The port the metrics endpoint listens on, 0 without one.
    int metrics_port() const { return http_metrics_ ? http_metrics_->port() : 0; }

    void begin_shutdown(const char* why);
    // Re-reads the config file and applies it; buckets are untouched. The result is
    // {"started","stopped","restarted"} or bad_request with the config's errors.
    Outcome reload();

  private:
    // Why kvd cannot serve, and the exit status that says whose fault it is: 2 when the
    // config's content is (restarting cannot help), 1 otherwise.
    struct StartFailure {
        std::string message;
        int exit_code = 1;
    };
    std::optional<StartFailure> start_listening();
    // Serves [metrics] listen over HTTP when set; why it cannot, otherwise nullopt.
    std::optional<std::string> start_metrics_endpoint();
    void start_signals();
    void finish_shutdown();
    void notify_systemd_status();

    DaemonOptions options_;
    Config config_;
    uv_loop_t loop_;
    std::chrono::steady_clock::time_point started_;
    std::string boot_;
    std::string socket_path_;
    bool shutting_down_ = false;
    bool finishing_ = false;
    int exit_code_ = 0;

    // Outlives the registry, which counts into it.
    metrics::Metrics metrics_;
    std::unique_ptr<uv::WriteBatcher> batcher_;
    std::unique_ptr<proc::ProcessTable> processes_;
    std::unique_ptr<EventManager> events_;
    std::unique_ptr<Registry> registry_;
    std::unique_ptr<HandlerSet> handlers_;
    std::unique_ptr<ControlServer> server_;
    DaemonOpHost op_host_{*this};
    uv::Handle<uv_signal_t> sigterm_, sigint_, sighup_;
    std::unique_ptr<uv::Timer> shutdown_deadline_;
    // READY=1, STATUS= and watchdog pings; its timers are closed when the loop has ended.
    std::unique_ptr<systemd::Notifier> systemd_;
    std::unique_ptr<uv::Timer> final_flush_;
    // [metrics] listen; its threads only ever reach the loop through its async handle.
    std::unique_ptr<metrics::HttpEndpoint> http_metrics_;
    // Writes out log lines stderr could not take at once (see log.hpp).
    std::unique_ptr<uv::Timer> log_flush_;
};

}  // namespace kvd
