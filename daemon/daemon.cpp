#include "daemon/daemon.hpp"

#include <fcntl.h>
#include <grp.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <csignal>

#include "common/socket_path.hpp"
#include "daemon/ops/ops.hpp"

namespace kvd {

namespace {

// Each bucket holds one fd in kvd (its socket); 10,000 buckets need more than the usual
// soft limit of 1024.
void raise_fd_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

// How long shutdown may take before whatever is left is killed.
constexpr Millis kShutdownSlack{5000};

}  // namespace

Daemon::Daemon(DaemonOptions options, Config config)
    : options_(std::move(options)), config_(std::move(config)) {
    uv_loop_init(&loop_);
    started_ = std::chrono::steady_clock::now();
}

Daemon::~Daemon() {
    // Tear down in reverse order of dependency, then let libuv run the close callbacks.
    server_.reset();
    registry_.reset();
    events_.reset();
    bucket_log_.reset();
    if (reaper_) reaper_->close();
    reaper_.reset();
    shutdown_deadline_.reset();
    sigterm_.close();
    sigint_.close();
    sighup_.close();
    if (batcher_) batcher_->close();
    batcher_.reset();
    if (bucket_stderr_fd_ >= 0) ::close(bucket_stderr_fd_);
    uv_run(&loop_, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop_) != 0) {
        uv_walk(
            &loop_,
            [](uv_handle_t* h, void*) {
                spdlog::error("handle still open at exit: {}", uv_handle_type_name(h->type));
            },
            nullptr);
    }
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
    reaper_ = std::make_unique<ChildReaper>(&loop_);
    events_ = std::make_unique<EventManager>(config_.daemon.event_history);
    start_bucket_log();
    registry_ = std::make_unique<Registry>(&loop_, *batcher_, *reaper_, *events_, bucket_stderr_fd_);
    registry_->configure(config_);
    server_ = std::make_unique<ControlServer>(
        &loop_, *batcher_, [this](Connection& c, std::string&& line, Responder reply) {
            dispatch_request(*this, c, std::move(line), std::move(reply));
        });

    if (auto error = start_listening()) {
        spdlog::error("{}", *error);
        return 1;
    }
    start_signals();
    spdlog::info("kvd {} ready on {} (pid {}, buckets run {})", KVD_VERSION, socket_path_, getpid(),
                 registry_->program());
    sd_notify(0, "READY=1");
    notify_systemd_status();

    uv_run(&loop_, UV_RUN_DEFAULT);
    spdlog::info("kvd stopped");
    return 0;
}

std::optional<std::string> Daemon::start_listening() {
    SocketPathInputs in = socket_path_inputs_from_environment();
    in.flag = options_.socket_flag;
    in.config = config_.daemon.socket;
    socket_path_ = resolve_socket_path(in);

    std::optional<gid_t> group;
    if (config_.daemon.socket_group) {
        const std::string& name = *config_.daemon.socket_group;
        if (struct group* gr = getgrnam(name.c_str())) group = gr->gr_gid;
        else return fmt::format("socket_group '{}' does not exist", name);
    }
    server_->set_access(AccessPolicy{getuid(), group});
    return server_->listen_path(socket_path_, config_.daemon.socket_mode, group);
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
                    spdlog::info("SIGHUP: reload is not available yet");
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

void Daemon::start_bucket_log() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        spdlog::warn("cannot create the bucket log pipe; buckets write to kvd's stderr");
        bucket_stderr_fd_ = dup(STDERR_FILENO);
        return;
    }
    bucket_stderr_fd_ = fds[1];
    bucket_log_ = std::make_unique<uv::LineStream>(&loop_, *batcher_, 64 * 1024);
    if (bucket_log_->open(fds[0]) != 0) {
        bucket_log_.reset();
        return;
    }
    bucket_log_->start([](std::string&& line) { spdlog::warn("bucket: {}", line); },
                       [](uv::StreamEnd, int) {});
}

void Daemon::begin_shutdown(const char* why) {
    if (shutting_down_) {
        spdlog::warn("{} again: killing what is left", why);
        registry_->stop_all(nullptr);
        return;
    }
    shutting_down_ = true;
    spdlog::info("{}: shutting down, stopping {} bucket(s)", why, registry_->size());
    sd_notify(0, "STOPPING=1");
    server_->stop_listening();

    // However the buckets behave, shutdown ends: SIGKILL after stop_timeout, and a final
    // deadline after that.
    shutdown_deadline_ = std::make_unique<uv::Timer>(&loop_);
    shutdown_deadline_->start(config_.bucket.stop_timeout + kShutdownSlack, [this] {
        spdlog::error("shutdown deadline passed with {} bucket(s) left; exiting anyway",
                      registry_->size());
        finish_shutdown();
    });
    registry_->stop_all([this] { finish_shutdown(); });
}

void Daemon::finish_shutdown() {
    if (shutdown_deadline_) shutdown_deadline_->close();
    server_->close_all();
    sigterm_.close();
    sigint_.close();
    sighup_.close();
    if (bucket_log_) bucket_log_->close();
    reaper_->close();
    batcher_->close();
    uv_stop(&loop_);
}

void Daemon::notify_systemd_status() {
    sd_notifyf(0, "STATUS=%zu buckets, %zu handlers, %zu clients", registry_->size(),
               events_->handler_count(), server_->connection_count());
}

}  // namespace kvd
