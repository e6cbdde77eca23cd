// The registry (KV.Registry): names → buckets, and their supervision. It is the one place
// buckets are created, restarted and removed, and so the one place their `create`, `exit` and
// `failed` events are published: `create` once the process is spawned (or, for a kind with
// ready = "notify", once it sent READY=1) and registered; `exit` once it was reaped.
//
// At an exit the bucket's kind decides (kind.restart): temporary buckets are removed;
// transient ones are restarted after an abnormal end, permanent ones always, each after a
// backoff that doubles from restart_delay up to restart_delay_max and starts over once a
// process ran for stable_after. More than max_restarts automatic restarts within
// restart_window and the bucket is `failed`: one `failed` event, no process, listed until it
// is stopped or created again. A stop that was asked for is never followed by a restart.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/bucket.hpp"
#include "daemon/config.hpp"
#include "daemon/event_manager.hpp"
#include "daemon/logs/log_set.hpp"
#include "daemon/metrics/metrics.hpp"
#include "daemon/outcome.hpp"
#include "daemon/proc/notify_socket.hpp"
#include "daemon/proc/process_table.hpp"

namespace kvd {

class Registry {
  public:
    Registry(uv_loop_t* loop, uv::WriteBatcher& batcher, proc::ProcessTable& processes,
             EventManager& events);
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    // Applies the bucket settings, limits and kinds of a (re)loaded config; live buckets keep
    // going (a kind's new settings apply to its buckets' next processes).
    void configure(const Config& config);
    // Brings the [[bucket.start]] buckets in line with the config: starts those missing,
    // stops those no longer listed, restarts those whose kind (or its settings) changed.
    // Buckets created by `create` are left alone. Names, for the `reload` reply.
    struct Reconciled {
        std::vector<std::string> started, stopped, restarted;
    };
    Reconciled reconcile();

    // Ensures a bucket named `name` of kind `kind` (empty: the built-in kind) exists. `done`
    // gets {"bucket","pid","created"} after the create event was delivered, or a Failure
    // (limit, spawn_failed, bad_request for an unknown kind or a name taken by another kind,
    // timeout when it did not send READY=1 in time). A bucket of that name that is stopping
    // is let finish first; then a new one is started. A failed one is started anew.
    void create(const std::string& name, const std::string& kind, OutcomeFn done);
    Bucket* find(std::string_view name);
    // Stops the bucket's process (as `stop`) and starts a new one of the same kind at once;
    // `done` gets {"bucket","pid","restarts"} once its create event was delivered.
    void restart(Bucket& bucket, std::optional<Millis> timeout, OutcomeFn done);
    // Stops a bucket; `done` gets {"bucket","pid","code","signal","reason"} after its exit
    // event was delivered. `timeout` defaults to [bucket] stop_timeout.
    void stop(Bucket& bucket, std::optional<Millis> timeout, OutcomeFn done);
    // Stops every bucket (shutdown): SIGTERM now, SIGKILL after stop_timeout, also for a
    // bucket whose own `stop` had a longer timeout. `done` runs when the registry is empty.
    // A second call sends SIGKILL to what is left.
    void stop_all(std::function<void()> done);
    // SIGKILL to every bucket left (the shutdown deadline passed).
    void kill_all();

    std::size_t size() const { return buckets_.size(); }
    std::vector<const Bucket*> sorted() const;
    // The program buckets run, as resolved (next to kvd first, then PATH).
    const std::string& program() const { return program_; }
    // The buckets' captured output, by name (daemon/logs/log_set.hpp).
    logs::LogSet& logs() { return logs_; }
    // Counts each create, exit and failed event published from now on in `metrics`, which
    // outlives the registry.
    void set_metrics(metrics::Metrics* m) { metrics_ = m; }

  private:
    // Starts the bucket's next process: a failure (spawn_failed, or limit) if it cannot.
    std::optional<Failure> spawn(Bucket& bucket);
    // A READY=1 from `sender` (notify_): the bucket waiting for it is running.
    void on_ready_sent(pid_t sender);
    // The process is running and ready: publish its `create`, then answer its waiters.
    void announce(Bucket& bucket);
    void on_ready_timeout(Bucket& bucket);
    void on_exit(Bucket* bucket, const proc::Exit& exit);
    // The exit event of `exit` was just published: its count and detection time.
    void count_exit(const std::string& reason, const proc::Exit& exit);
    // After an exit nobody asked for: restart per the kind, or give up, or remove.
    void supervise(Bucket& bucket, const proc::Exit& exit);
    void start_after_backoff(Bucket& bucket);
    void fail_waiters(Bucket& bucket, const Failure& failure);
    // Takes the bucket out of the registry (it is gone for find() and create()).
    std::unique_ptr<Bucket> unregister(Bucket& bucket);
    void remove(Bucket& bucket);
    std::shared_ptr<const KindConfig> kind_named(std::string_view name) const;
    void check_all_stopped();

    uv_loop_t* loop_;
    uv::WriteBatcher& batcher_;
    proc::ProcessTable& processes_;
    EventManager& events_;
    std::string program_ = "kv-bucket";
    Millis stop_timeout_{5000};
    Bucket::Limits bucket_limits_;
    std::size_t max_buckets_ = 10000;
    // Declared before the buckets: a bucket's log outlives it.
    logs::LogSet logs_;
    std::unordered_map<std::string, std::unique_ptr<Bucket>> buckets_;
    // Buckets starting with ready = "notify", by the pid of their process.
    std::unordered_map<pid_t, Bucket*> awaiting_ready_;
    proc::NotifySocket notify_;
    std::shared_ptr<const KindConfig> default_kind_;
    std::map<std::string, std::shared_ptr<const KindConfig>, std::less<>> kinds_;
    std::vector<BucketStart> declared_;
    std::function<void()> all_stopped_;
    bool stopping_all_ = false;
    metrics::Metrics* metrics_ = nullptr;
};

// Where `program` is found: a bare name next to the running kvd if an executable is there,
// otherwise unchanged (then searched in PATH). Paths with '/' are unchanged.
std::string resolve_bucket_program(const std::string& program);

}  // namespace kvd
