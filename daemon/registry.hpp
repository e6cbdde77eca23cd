// The registry (KV.Registry): names → live bucket processes. It is the one place buckets are
// created and removed, and so the one place their `create` and `exit` events are published:
// `create` once the child is spawned and registered, `exit` once it was reaped and removed.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/bucket.hpp"
#include "daemon/config.hpp"
#include "daemon/event_manager.hpp"
#include "daemon/logs/log_set.hpp"
#include "daemon/outcome.hpp"
#include "daemon/proc/process_table.hpp"

namespace kvd {

class Registry {
  public:
    Registry(uv_loop_t* loop, uv::WriteBatcher& batcher, proc::ProcessTable& processes,
             EventManager& events);
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    // Applies the bucket settings and limits of a (re)loaded config; live buckets keep going.
    void configure(const Config& config);

    // Ensures a bucket named `name` exists. `done` gets {"bucket","pid","created"} after the
    // create event was delivered, or a Failure (limit, spawn_failed). A bucket of that name
    // that is stopping is let finish first; then a new one is started.
    void create(const std::string& name, OutcomeFn done);
    Bucket* find(std::string_view name);
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

  private:
    void on_exit(Bucket* bucket, const proc::Exit& exit);
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
    std::function<void()> all_stopped_;
    bool stopping_all_ = false;
};

// Where `program` is found: a bare name next to the running kvd if an executable is there,
// otherwise unchanged (then searched in PATH). Paths with '/' are unchanged.
std::string resolve_bucket_program(const std::string& program);

}  // namespace kvd
