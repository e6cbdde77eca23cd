#include "daemon/registry.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

#include "common/signals.hpp"
#include "common/wire.hpp"

namespace kvd {

std::string resolve_bucket_program(const std::string& program) {
    if (program.find('/') != std::string::npos) return program;
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        std::string dir(self, static_cast<std::size_t>(n));
        dir.resize(dir.rfind('/') + 1);
        std::string beside = dir + program;
        if (access(beside.c_str(), X_OK) == 0) return beside;
    }
    return program;
}

Registry::Registry(uv_loop_t* loop, uv::WriteBatcher& batcher, proc::ProcessTable& processes,
                   EventManager& events)
    : loop_(loop), batcher_(batcher), processes_(processes), events_(events), logs_(loop) {}

void Registry::configure(const Config& config) {
    program_ = resolve_bucket_program(config.bucket.program);
    stop_timeout_ = config.bucket.stop_timeout;
    bucket_limits_.request_timeout = config.bucket.request_timeout;
    bucket_limits_.max_reply_bytes = config.bucket.max_reply_bytes;
    max_buckets_ = config.daemon.max_buckets;
    logs_.configure(config.bucket);
}

Bucket* Registry::find(std::string_view name) {
    auto it = buckets_.find(std::string(name));
    return it == buckets_.end() ? nullptr : it->second.get();
}

void Registry::create(const std::string& name, OutcomeFn done) {
    if (Bucket* b = find(name)) {
        if (b->stop_requested()) {
            // The name is going away: once its exit was handled, create it anew.
            b->when_gone([this, name, done = std::move(done)](Outcome) mutable {
                create(name, std::move(done));
            });
            return;
        }
        done(Json{{"bucket", name}, {"pid", b->pid()}, {"created", false}});
        return;
    }
    if (buckets_.size() >= max_buckets_) {
        done(Failure{wire::ErrorCode::limit,
                     fmt::format("cannot create '{}': {} buckets exist, the limit (max_buckets)",
                                 name, buckets_.size())});
        return;
    }
    // Its create event, and later its exit, are owed to every sync receiver that wants them;
    // one at its bound must catch up first (see event_manager.hpp).
    if (auto refused = events_.refuse_create(name)) {
        done(std::move(*refused));
        return;
    }

    proc::Command command;
    command.label = "bucket " + name;
    command.argv = {program_, name};
    command.env_add = {{"KVD_PID", std::to_string(getpid())},
                       {"KVD_BUCKET", name},
                       {"KVD_MAX_REPLY_BYTES", std::to_string(bucket_limits_.max_reply_bytes)}};
    // Its output is the bucket's own log, never kvd's (daemon/logs/).
    command.capture_stderr = true;
    auto owned = std::make_unique<Bucket>(loop_, batcher_, processes_, name, bucket_limits_);
    Bucket* bucket = owned.get();
    // The exit notice comes from the loop, never from inside start(), and only while the
    // bucket exists: it always finds the bucket registered.
    if (int rc = owned->start(command, [this, bucket](const proc::Exit& e) { on_exit(bucket, e); });
        rc != 0) {
        std::string why = proc::describe_spawn_error(rc);
        spdlog::error("cannot start bucket {}: {}: {}", name, program_, why);
        done(Failure{wire::ErrorCode::spawn_failed,
                     fmt::format("cannot start '{}' for bucket '{}': {}", program_, name, why)});
        return;
    }
    pid_t pid = bucket->pid();
    logs_.attach(name, logs::Stream::err, bucket->take_stderr());
    buckets_.emplace(name, std::move(owned));
    spdlog::info("bucket {} started (pid {})", name, pid);

    Event ev;
    ev.type = wire::event::kCreate;
    ev.bucket = name;
    ev.pid = pid;
    events_.publish(std::move(ev), [done = std::move(done), name, pid] {
        done(Json{{"bucket", name}, {"pid", pid}, {"created", true}});
    });
}

void Registry::stop(Bucket& bucket, std::optional<Millis> timeout, OutcomeFn done) {
    Millis kill_after = timeout.value_or(stop_timeout_);
    if (!bucket.stop_requested())
        spdlog::info("stopping bucket {} (pid {}): SIGTERM, SIGKILL {} later", bucket.name(),
                     bucket.pid(), format_duration(kill_after));
    bucket.stop(kill_after, std::move(done));
}

void Registry::on_exit(Bucket* bucket, const proc::Exit& exit) {
    auto it = buckets_.find(bucket->name());
    if (it == buckets_.end() || it->second.get() != bucket) return;
    std::unique_ptr<Bucket> owned = std::move(it->second);
    buckets_.erase(it);
    logs_.bucket_gone(owned->name());

    Event ev;
    ev.type = wire::event::kExit;
    ev.bucket = owned->name();
    ev.pid = owned->pid();
    if (exit.signaled)
        ev.signal = exit.signal;
    else
        ev.code = exit.code;
    // A stop asked for wins; then any signal, whether the bucket died of it or handled it
    // and exited (a `kill --signal TERM` that kv-bucket answers with exit 0 still reads
    // `killed`); only an exit nobody asked for is `exited`.
    ev.reason =
        std::string(owned->stop_requested()                    ? wire::exit_reason::kStopped
                    : exit.signaled || owned->kill_requested() ? wire::exit_reason::kKilled
                                                               : wire::exit_reason::kExited);
    if (exit.signaled)
        spdlog::info("bucket {} (pid {}) ended by {} ({})", ev.bucket, ev.pid,
                     signal_name(exit.signal), ev.reason);
    else
        spdlog::info("bucket {} (pid {}) exited with code {} ({})", ev.bucket, ev.pid, exit.code,
                     ev.reason);

    Json result = {{"bucket", ev.bucket},
                   {"pid", ev.pid},
                   {"code", ev.code ? Json(*ev.code) : Json(nullptr)},
                   {"signal", ev.signal ? Json(signal_name(*ev.signal)) : Json(nullptr)},
                   {"reason", ev.reason}};
    std::vector<OutcomeFn> waiters = owned->on_exited();
    events_.publish(std::move(ev), [waiters = std::move(waiters), result = std::move(result)] {
        for (const auto& w : waiters) w(result);
    });
    owned.reset();
    check_all_stopped();
}

void Registry::stop_all(std::function<void()> done) {
    if (stopping_all_) {
        // Asked twice: no more patience.
        for (auto& [name, b] : buckets_) b->signal(SIGKILL);
        return;
    }
    stopping_all_ = true;
    all_stopped_ = std::move(done);
    // Collect first: a stop may complete synchronously and change the map.
    std::vector<Bucket*> all;
    for (auto& [name, b] : buckets_) all.push_back(b.get());
    for (Bucket* b : all) b->stop(stop_timeout_, nullptr, /*now=*/true);
    check_all_stopped();
}

void Registry::kill_all() {
    for (auto& [name, b] : buckets_) {
        spdlog::warn("bucket {} (pid {}) still running; sending SIGKILL", name, b->pid());
        b->signal(SIGKILL);
    }
}

void Registry::check_all_stopped() {
    if (stopping_all_ && buckets_.empty() && all_stopped_) {
        auto fn = std::move(all_stopped_);
        all_stopped_ = nullptr;
        fn();
    }
}

std::vector<const Bucket*> Registry::sorted() const {
    std::vector<const Bucket*> out;
    out.reserve(buckets_.size());
    for (const auto& [name, b] : buckets_) out.push_back(b.get());
    std::sort(out.begin(), out.end(),
              [](const Bucket* a, const Bucket* b) { return a->name() < b->name(); });
    return out;
}

}  // namespace kvd
