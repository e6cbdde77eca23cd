#include "daemon/registry.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

#include "common/signals.hpp"
#include "common/wire.hpp"
#include "daemon/proc/usage.hpp"

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
    : loop_(loop),
      batcher_(batcher),
      processes_(processes),
      events_(events),
      logs_(loop),
      notify_(loop, [this](pid_t sender) { on_ready_sent(sender); }) {}

namespace {

// The built-in kind: [bucket] program, speaking the bucket protocol, never restarted.
std::shared_ptr<const KindConfig> builtin_kind(const std::string& program, Millis stop_timeout) {
    auto k = std::make_shared<KindConfig>();
    k->name = std::string(kDefaultKind);
    k->command = {program, "{name}"};
    k->data = true;
    k->restart = KindRestart::temporary;
    k->stop_timeout = stop_timeout;
    return k;
}

std::string expand_name(const std::string& arg, const std::string& name) {
    std::string out;
    std::size_t from = 0;
    for (std::size_t at; (at = arg.find("{name}", from)) != std::string::npos; from = at + 6)
        out.append(arg, from, at - from).append(name);
    return out.append(arg, from);
}

bool abnormal(const proc::Exit& exit) {
    return exit.signaled || exit.code != 0;
}

}  // namespace

void Registry::configure(const Config& config) {
    program_ = resolve_bucket_program(config.bucket.program);
    stop_timeout_ = config.bucket.stop_timeout;
    bucket_limits_.request_timeout = config.bucket.request_timeout;
    bucket_limits_.max_reply_bytes = config.bucket.max_reply_bytes;
    max_buckets_ = config.daemon.max_buckets;
    processes_.descriptors().set_max_buckets(max_buckets_);
    auto builtin = builtin_kind(program_, stop_timeout_);
    if (!default_kind_ || !(*default_kind_ == *builtin)) default_kind_ = std::move(builtin);
    std::map<std::string, std::shared_ptr<const KindConfig>, std::less<>> kinds;
    for (const auto& k : config.kinds) {
        auto it = kinds_.find(k.name);
        // An unchanged kind keeps its object, so buckets can tell a changed one by address.
        if (it != kinds_.end() && *it->second == k)
            kinds.emplace(k.name, it->second);
        else
            kinds.emplace(k.name, std::make_shared<const KindConfig>(k));
    }
    kinds_ = std::move(kinds);
    declared_ = config.bucket.start;
    logs_.configure(config.bucket);
}

std::shared_ptr<const KindConfig> Registry::kind_named(std::string_view name) const {
    if (name.empty() || name == kDefaultKind) return default_kind_;
    auto it = kinds_.find(name);
    return it == kinds_.end() ? nullptr : it->second;
}

Registry::Reconciled Registry::reconcile() {
    Reconciled out;
    std::map<std::string, std::string, std::less<>> wanted;
    for (const auto& d : declared_) wanted.emplace(d.name, d.kind);
    // Declared before and no longer: stopped.
    std::vector<Bucket*> dropped;
    for (auto& [name, b] : buckets_)
        if (b->sup.declared && !wanted.count(name)) dropped.push_back(b.get());
    for (Bucket* b : dropped) {
        out.stopped.push_back(b->name());
        b->sup.declared = false;
        stop(*b, std::nullopt, nullptr);
    }
    for (const auto& [name, kind_name] : wanted) {
        auto kind = kind_named(kind_name);
        if (!kind) continue;  // the loader refused such a config
        Bucket* b = find(name);
        if (!b) {
            out.started.push_back(name);
            create(name, kind_name, [name = name](Outcome o) {
                if (auto* f = std::get_if<Failure>(&o))
                    spdlog::error("bucket {} ([[bucket.start]]) did not start: {}", name,
                                  f->message);
            });
            if (Bucket* made = find(name)) made->sup.declared = true;
            continue;
        }
        b->sup.declared = true;
        // Its kind changed (another kind, or the same one with other settings): restarted
        // on the new one. A bucket a stop is ending is left to end.
        if (b->kind_ptr() != kind && b->state() != BucketState::stopping) {
            out.restarted.push_back(name);
            b->set_kind(kind);
            restart(*b, std::nullopt, nullptr);
        }
    }
    // Other buckets of a kind whose settings changed use them from their next process on.
    for (auto& [name, b] : buckets_) {
        if (b->sup.declared) continue;
        if (auto kind = kind_named(b->kind_name()); kind && kind != b->kind_ptr())
            b->set_kind(kind);
    }
    return out;
}

Bucket* Registry::find(std::string_view name) {
    auto it = buckets_.find(std::string(name));
    return it == buckets_.end() ? nullptr : it->second.get();
}

void Registry::create(const std::string& name, const std::string& kind_name, OutcomeFn done) {
    auto kind = kind_named(kind_name);
    if (!kind) {
        std::string known{kDefaultKind};
        for (const auto& [k, v] : kinds_) known += ", " + k;
        done(Failure{wire::ErrorCode::bad_request,
                     fmt::format("no kind named '{}' (kinds: {})", kind_name, known)});
        return;
    }
    if (Bucket* b = find(name)) {
        if (b->state() == BucketState::stopping && !b->sup.restart_asked) {
            // The name is going away: once its exit was handled, create it anew.
            b->when_gone([this, name, kind_name, done = std::move(done)](Outcome) mutable {
                create(name, kind_name, std::move(done));
            });
            return;
        }
        if (!kind_name.empty() && b->kind_name() != kind->name) {
            done(Failure{wire::ErrorCode::bad_request,
                         fmt::format("bucket '{}' exists with kind '{}', not '{}'", name,
                                     b->kind_name(), kind->name)});
            return;
        }
        if (b->state() == BucketState::failed) {
            // Created again: a fresh start, with a fresh restart budget.
            b->sup.recent_restarts.clear();
            b->sup.next_delay = Millis(0);
            b->sup.ready_waiters.push_back(std::move(done));
            start_after_backoff(*b);
            return;
        }
        if (b->state() == BucketState::starting) {
            b->sup.ready_waiters.push_back([done = std::move(done), name](Outcome o) {
                if (auto* j = std::get_if<Json>(&o)) (*j)["created"] = false;
                done(std::move(o));
            });
            return;
        }
        done(Json{{"bucket", name},
                  {"pid", b->pid() ? Json(b->pid()) : Json(nullptr)},
                  {"created", false}});
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
    auto owned = std::make_unique<Bucket>(loop_, batcher_, processes_, name, bucket_limits_, kind);
    Bucket* bucket = owned.get();
    bucket->sup.api_create = true;
    if (auto failure = spawn(*bucket)) {
        done(std::move(*failure));
        return;
    }
    buckets_.emplace(name, std::move(owned));
    bucket->sup.ready_waiters.push_back(std::move(done));
    if (bucket->kind().ready == Readiness::spawn) announce(*bucket);
}

std::optional<Failure> Registry::spawn(Bucket& bucket) {
    const KindConfig& kind = bucket.kind();
    const std::string& name = bucket.name();
    auto spawn_failed = [](std::string why) {
        return Failure{wire::ErrorCode::spawn_failed, std::move(why)};
    };
    // A data bucket needs its socket; any other its stdout and stderr pipes. A data bucket's
    // stderr pipe and any child's pidfd give way when the open file limit is short.
    proc::FdBudget& fds = processes_.descriptors();
    proc::FdShare share = fds.admit(kind.data ? 1 : 2);
    if (!share) {
        std::string why = fmt::format(
            "kvd's open file limit ({}) has no room for its descriptors ({} in use by "
            "buckets; raise LimitNOFILE)",
            fds.open_file_limit(), fds.in_use());
        spdlog::error("cannot start bucket {}: {}", name, why);
        return Failure{wire::ErrorCode::limit,
                       fmt::format("cannot start bucket '{}': {}", name, why)};
    }
    bool capture_stderr = !kind.data || share.take_spare();
    proc::Command command;
    command.label = "bucket " + name;
    for (const auto& arg : kind.command) command.argv.push_back(expand_name(arg, name));
    command.env_add = kind.env;
    command.env_add["KVD_PID"] = std::to_string(getpid());
    command.env_add["KVD_BUCKET"] = name;
    command.env_add["KVD_KIND"] = kind.name;
    if (kind.data)
        command.env_add["KVD_MAX_REPLY_BYTES"] = std::to_string(bucket_limits_.max_reply_bytes);
    if (kind.ready == Readiness::notify) {
        if (int rc = notify_.open(); rc != 0) {
            return spawn_failed(fmt::format("cannot open the notify socket for bucket '{}': {}",
                                            name, uv_strerror(rc)));
        }
        command.env_add["NOTIFY_SOCKET"] = notify_.address();
    }
    // Its output is the bucket's own log, never kvd's (daemon/logs/). A program that holds
    // no data has no socket: stdin is /dev/null and stdout is logged too.
    command.capture_stderr = capture_stderr;
    if (!capture_stderr) command.stderr_fd = -1;
    if (!kind.data) {
        command.stdin_mode = proc::Stdio::null;
        command.stdout_mode = proc::Stdio::pipe_out;
        // kv-bucket watches kvd itself; any other program ends with kvd by this.
        command.die_with_kvd = true;
    }
    command.cwd = kind.cwd;
    if (kind.user) {
        std::string error;
        auto ids = proc::lookup_user(*kind.user, error);
        if (!ids) {
            std::string why = fmt::format("cannot start bucket '{}': kind {} user '{}': {}", name,
                                          kind.name, *kind.user, error);
            spdlog::error("{}", why);
            return spawn_failed(std::move(why));
        }
        command.uid = ids->uid;
        command.gid = ids->gid;
        command.groups = ids->groups;
        if (!ids->home.empty()) command.env_add.emplace("HOME", ids->home);
        command.env_add.emplace("USER", *kind.user);
        command.env_add.emplace("LOGNAME", *kind.user);
    }
    command.limits.memory_max = kind.memory_max;
    command.limits.tasks_max = kind.tasks_max;
    command.limits.cpu_weight = kind.cpu_weight;
    Bucket* b = &bucket;
    // The exit notice comes from the loop, never from inside start(), and only while the
    // bucket exists: it always finds the bucket registered.
    if (int rc = bucket.start(command, [this, b](const proc::Exit& e) { on_exit(b, e); });
        rc != 0) {
        std::string what = proc::describe_spawn_error(rc);
        spdlog::error("cannot start bucket {}: {}: {}", name, command.argv[0], what);
        return spawn_failed(
            fmt::format("cannot start '{}' for bucket '{}': {}", command.argv[0], name, what));
    }
    bucket.sup.fds = std::move(share);
    // (-1 when not captured: the log says so.)
    logs_.attach(name, logs::Stream::err, bucket.take_stderr());
    if (!kind.data) logs_.attach(name, logs::Stream::out, bucket.take_stdout());
    bucket.sup.announced = false;
    bucket.sup.ready_timed_out = false;
    spdlog::info("bucket {} started (pid {}, kind {})", name, bucket.pid(), kind.name);
    if (kind.ready == Readiness::notify) {
        awaiting_ready_[bucket.pid()] = b;
        if (!bucket.sup.timer) bucket.sup.timer = std::make_unique<uv::Timer>(loop_);
        bucket.sup.timer->start(kind.ready_timeout, [this, b] { on_ready_timeout(*b); });
    }
    return std::nullopt;
}

void Registry::on_ready_sent(pid_t sender) {
    // From the bucket's main process, or from a direct child of it (systemd-notify in a
    // script).
    auto it = awaiting_ready_.find(sender);
    if (it == awaiting_ready_.end()) it = awaiting_ready_.find(proc::read_parent(sender));
    if (it == awaiting_ready_.end()) return;
    Bucket* b = it->second;
    awaiting_ready_.erase(it);
    if (b->sup.timer) b->sup.timer->stop();
    announce(*b);
}

void Registry::announce(Bucket& bucket) {
    bucket.mark_ready();
    bucket.sup.announced = true;
    bucket.sup.ready_at_ms = uv_now(loop_);
    Event ev;
    ev.type = wire::event::kCreate;
    ev.bucket = bucket.name();
    ev.pid = bucket.pid();
    if (bucket.kind().name != kDefaultKind) ev.kind = bucket.kind().name;
    if (bucket.sup.restarts > 0 && !bucket.sup.api_create) ev.restart = bucket.sup.restarts;
    bucket.sup.api_create = false;
    std::vector<OutcomeFn> creates = std::move(bucket.sup.ready_waiters);
    std::vector<OutcomeFn> restarts = std::move(bucket.sup.restart_waiters);
    bucket.sup.ready_waiters.clear();
    bucket.sup.restart_waiters.clear();
    Json created{{"bucket", bucket.name()}, {"pid", bucket.pid()}, {"created", true}};
    Json restarted{
        {"bucket", bucket.name()}, {"pid", bucket.pid()}, {"restarts", bucket.sup.restarts}};
    if (metrics_) metrics_->count_create(ev.restart.has_value());
    events_.publish(std::move(ev),
                    [creates = std::move(creates), restarts = std::move(restarts),
                     created = std::move(created), restarted = std::move(restarted)] {
                        for (const auto& w : creates) w(created);
                        for (const auto& w : restarts) w(restarted);
                    });
}

void Registry::on_ready_timeout(Bucket& bucket) {
    awaiting_ready_.erase(bucket.pid());
    spdlog::error(
        "bucket {} (pid {}) did not send READY=1 within {} (kind.ready_timeout); "
        "stopping it",
        bucket.name(), bucket.pid(), format_duration(bucket.kind().ready_timeout));
    // Its waiters are answered once the process is gone (see supervise), so that a `create`
    // that failed leaves nothing behind by the time it is answered.
    bucket.sup.ready_timed_out = true;
    // Not asked for by anyone: its exit is then supervised like a crash, except for a bucket
    // a `create` was waiting for, which is removed (see supervise).
    bucket.stop(bucket.kind().stop_timeout.value_or(stop_timeout_), nullptr, /*now=*/true);
    bucket.set_state(BucketState::starting);
    bucket.sup.restart_asked = false;
}

void Registry::fail_waiters(Bucket& bucket, const Failure& failure) {
    auto creates = std::move(bucket.sup.ready_waiters);
    auto restarts = std::move(bucket.sup.restart_waiters);
    bucket.sup.ready_waiters.clear();
    bucket.sup.restart_waiters.clear();
    for (const auto& w : creates) w(failure);
    for (const auto& w : restarts) w(failure);
}

void Registry::stop(Bucket& bucket, std::optional<Millis> timeout, OutcomeFn done) {
    if (!bucket.has_process()) {
        // Waiting to restart, or failed: nothing runs, so it is removed at once. Its exit
        // event went out when its process ended.
        Json result{{"bucket", bucket.name()},
                    {"pid", nullptr},
                    {"code", nullptr},
                    {"signal", nullptr},
                    {"reason", "stopped"}};
        spdlog::info("bucket {} removed ({})", bucket.name(), bucket_state_name(bucket.state()));
        fail_waiters(bucket, Failure{wire::ErrorCode::unavailable,
                                     fmt::format("bucket '{}' was stopped", bucket.name())});
        remove(bucket);
        if (done) done(std::move(result));
        return;
    }
    Millis kill_after = timeout.value_or(bucket.kind().stop_timeout.value_or(stop_timeout_));
    if (!bucket.stop_requested())
        spdlog::info("stopping bucket {} (pid {}): {}, SIGKILL {} later", bucket.name(),
                     bucket.pid(), signal_name(bucket.kind().stop_signal),
                     format_duration(kill_after));
    bucket.sup.restart_asked = false;
    bucket.set_state(BucketState::stopping);
    awaiting_ready_.erase(bucket.pid());
    bucket.stop(kill_after, std::move(done));
}

void Registry::restart(Bucket& bucket, std::optional<Millis> timeout, OutcomeFn done) {
    if (done) bucket.sup.restart_waiters.push_back(std::move(done));
    if (!bucket.has_process()) {
        if (bucket.sup.timer) bucket.sup.timer->stop();
        bucket.sup.recent_restarts.clear();
        bucket.sup.next_delay = Millis(0);
        start_after_backoff(bucket);
        return;
    }
    if (bucket.sup.restart_asked) return;  // already on its way
    Millis kill_after = timeout.value_or(bucket.kind().stop_timeout.value_or(stop_timeout_));
    spdlog::info("restarting bucket {} (pid {}): {}, SIGKILL {} later", bucket.name(), bucket.pid(),
                 signal_name(bucket.kind().stop_signal), format_duration(kill_after));
    awaiting_ready_.erase(bucket.pid());
    bucket.set_state(BucketState::stopping);
    bucket.stop(kill_after, nullptr);
    bucket.sup.restart_asked = true;
}

void Registry::on_exit(Bucket* bucket, const proc::Exit& exit) {
    auto it = buckets_.find(bucket->name());
    if (it == buckets_.end() || it->second.get() != bucket) return;
    awaiting_ready_.erase(exit.pid);
    if (bucket->sup.timer) bucket->sup.timer->stop();
    bucket->sup.fds = {};  // its descriptors went with the process

    Event ev;
    ev.type = wire::event::kExit;
    ev.bucket = bucket->name();
    ev.pid = exit.pid;
    if (exit.signaled)
        ev.signal = exit.signal;
    else
        ev.code = exit.code;
    // A stop asked for wins; then any signal, whether the bucket died of it or handled it
    // and exited (a `kill --signal TERM` that kv-bucket answers with exit 0 still reads
    // `killed`); only an exit nobody asked for is `exited`.
    bool asked = bucket->stop_requested() && bucket->state() == BucketState::stopping;
    ev.reason =
        std::string(asked                                       ? wire::exit_reason::kStopped
                    : exit.signaled || bucket->kill_requested() ? wire::exit_reason::kKilled
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
    LastExit last{ev.code, ev.signal, ev.reason, std::chrono::system_clock::now()};
    std::vector<OutcomeFn> waiters = bucket->on_exited(last);
    bool announced = bucket->sup.announced;
    bucket->sup.announced = false;
    // A bucket that goes away leaves the registry before its waiters run: a `create` waiting
    // for this stop must find the name free.
    std::unique_ptr<Bucket> leaving;
    if (stopping_all_ || (asked && !bucket->sup.restart_asked)) leaving = unregister(*bucket);
    if (announced) {
        std::string reason = ev.reason;
        events_.publish(std::move(ev), [waiters = std::move(waiters), result = std::move(result)] {
            for (const auto& w : waiters) w(result);
        });
        if (metrics_) count_exit(reason, exit);
    } else {
        // It never became ready, so no `create` was published: no `exit` either.
        for (const auto& w : waiters) w(result);
    }

    if (leaving) {
        leaving.reset();
    } else if (bucket->sup.restart_asked) {
        bucket->sup.restart_asked = false;
        start_after_backoff(*bucket);
    } else {
        supervise(*bucket, exit);
    }
    check_all_stopped();
}

void Registry::count_exit(const std::string& reason, const proc::Exit& exit) {
    // From kvd's own SIGKILL when it sent one before it took up the exit: SIGKILL ends a
    // process at once, so that is when it ended. Otherwise kvd cannot know when the process
    // ended, and the time counts from its loop taking up the exit.
    auto published = std::chrono::steady_clock::now();
    bool after_kill = exit.sigkill_sent && *exit.sigkill_sent <= exit.noticed;
    auto from = after_kill ? *exit.sigkill_sent : exit.noticed;
    metrics_->count_exit(reason,
                         after_kill ? metrics::DetectedFrom::kill : metrics::DetectedFrom::wake,
                         published - from);
}

void Registry::supervise(Bucket& bucket, const proc::Exit& exit) {
    const KindConfig& kind = bucket.kind();
    if (bucket.sup.api_create && !bucket.sup.declared) {
        // The first process of a `create` ended before it was ready (or did not get ready in
        // time): the create fails, and nothing is left behind.
        if (bucket.sup.ready_timed_out)
            fail_waiters(bucket,
                         Failure{wire::ErrorCode::timeout,
                                 fmt::format("bucket '{}' did not send READY=1 within {} "
                                             "(kind {} ready_timeout)",
                                             bucket.name(), format_duration(kind.ready_timeout),
                                             kind.name)});
        else
            fail_waiters(bucket,
                         Failure{wire::ErrorCode::spawn_failed,
                                 fmt::format("bucket '{}' ({}) exited before it was ready ({})",
                                             bucket.name(), kind.command[0],
                                             exit.signaled ? signal_name(exit.signal)
                                                           : fmt::format("code {}", exit.code))});
        remove(bucket);
        return;
    }
    bool again =
        kind.restart == KindRestart::permanent ||
        (kind.restart == KindRestart::transient && (abnormal(exit) || bucket.kill_requested()));
    if (!again) {
        remove(bucket);
        return;
    }
    uint64_t now = uv_now(loop_);
    auto& recent = bucket.sup.recent_restarts;
    recent.erase(recent.begin(), std::find_if(recent.begin(), recent.end(), [&](uint64_t at) {
                     return now - at < static_cast<uint64_t>(kind.restart_window.count());
                 }));
    if (recent.size() >= kind.max_restarts) {
        bucket.set_state(BucketState::failed);
        spdlog::error(
            "bucket {} failed: {} restarts within {} (kind {} max_restarts); not "
            "restarting it",
            bucket.name(), recent.size(), format_duration(kind.restart_window), kind.name);
        fail_waiters(bucket, Failure{wire::ErrorCode::spawn_failed,
                                     fmt::format("bucket '{}' failed: it exited {} times within {}",
                                                 bucket.name(), recent.size() + 1,
                                                 format_duration(kind.restart_window))});
        Event ev;
        ev.type = wire::event::kFailed;
        ev.bucket = bucket.name();
        ev.restart = bucket.sup.restarts;
        events_.publish(std::move(ev), [] {});
        if (metrics_) metrics_->count_failed();
        return;
    }
    // The backoff doubles with each restart, and starts over after a stable run.
    bool stable = bucket.sup.ready_at_ms != 0 &&
                  now - bucket.sup.ready_at_ms >= static_cast<uint64_t>(kind.stable_after.count());
    Millis delay =
        stable || bucket.sup.next_delay.count() == 0 ? kind.restart_delay : bucket.sup.next_delay;
    bucket.sup.next_delay = std::min(delay * 2, kind.restart_delay_max);
    recent.push_back(now);
    bucket.set_state(BucketState::backoff);
    spdlog::info("bucket {} restarts in {} (kind {}, restart = {})", bucket.name(),
                 format_duration(delay), kind.name, kind_restart_name(kind.restart));
    if (!bucket.sup.timer) bucket.sup.timer = std::make_unique<uv::Timer>(loop_);
    Bucket* b = &bucket;
    bucket.sup.timer->start(delay, [this, b] { start_after_backoff(*b); });
}

void Registry::start_after_backoff(Bucket& bucket) {
    if (bucket.sup.timer) bucket.sup.timer->stop();
    if (stopping_all_) return;
    ++bucket.sup.restarts;
    if (auto failure = spawn(bucket)) {
        // Counted as a failed start: the kind's policy decides what comes next.
        proc::Exit none;
        none.code = 127;
        bucket.sup.announced = false;
        bucket.set_state(BucketState::backoff);
        if (!bucket.sup.restart_waiters.empty() || !bucket.sup.ready_waiters.empty())
            fail_waiters(bucket, std::move(*failure));
        if (bucket.kind().restart == KindRestart::temporary)
            remove(bucket);
        else
            supervise(bucket, none);
        return;
    }
    if (bucket.kind().ready == Readiness::spawn) announce(bucket);
}

std::unique_ptr<Bucket> Registry::unregister(Bucket& bucket) {
    auto it = buckets_.find(bucket.name());
    if (it == buckets_.end() || it->second.get() != &bucket) return nullptr;
    if (!bucket.sup.ready_waiters.empty() || !bucket.sup.restart_waiters.empty())
        fail_waiters(bucket, Failure{wire::ErrorCode::unavailable,
                                     fmt::format("bucket '{}' was stopped before it was ready",
                                                 bucket.name())});
    std::unique_ptr<Bucket> owned = std::move(it->second);
    buckets_.erase(it);
    logs_.bucket_gone(owned->name());
    return owned;
}

void Registry::remove(Bucket& bucket) {
    unregister(bucket).reset();
}

void Registry::stop_all(std::function<void()> done) {
    if (stopping_all_) {
        // Asked twice: no more patience.
        for (auto& [name, b] : buckets_)
            if (b->has_process()) b->signal(SIGKILL);
        return;
    }
    stopping_all_ = true;
    all_stopped_ = std::move(done);
    // Collect first: a stop may complete synchronously and change the map.
    std::vector<Bucket*> all;
    for (auto& [name, b] : buckets_) all.push_back(b.get());
    for (Bucket* b : all) {
        if (!b->has_process()) {
            remove(*b);
            continue;
        }
        b->set_state(BucketState::stopping);
        b->stop(b->kind().stop_timeout.value_or(stop_timeout_), nullptr, /*now=*/true);
    }
    check_all_stopped();
}

void Registry::kill_all() {
    for (auto& [name, b] : buckets_) {
        if (!b->has_process()) continue;
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
