// kvd's figures in the Prometheus text exposition format (README "Metrics"), for `kvctl metrics`
// and the optional HTTP endpoint. Pure apart from prometheus-cpp's core: no libuv, no threads.
//
// Two kinds of figure. Counts of what happened (creates, exits, restarts, failures, and the
// exit-detection histogram) are kept here, in prometheus-cpp metrics the registry bumps on
// kvd's loop as the events are published. Figures that are the current state (buckets by
// state, each handler's counts, the event history, connections) are not kept twice: the caller
// reads them from kvd's parts into a Snapshot at the moment of a scrape, on the loop, and
// collect() turns both into metric families.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kvd::metrics {

// The states `list` reports; each is exposed, with 0 buckets too, so the series never vanish.
inline constexpr std::string_view kBucketStates[] = {"starting", "running", "stopping", "backoff",
                                                     "failed"};

// One handler's row of the `handlers` op.
struct HandlerFigures {
    std::string name;
    std::string state;  // running | restarting | stopping | stopped
    std::string mode;   // sync | async
    uint64_t delivered = 0;
    uint64_t acked = 0;
    uint64_t dropped = 0;
    uint64_t restarts = 0;
    uint64_t queued = 0;
};

// kvd's state at one moment, read on its loop.
struct Snapshot {
    std::string version;
    std::string boot;
    double uptime_seconds = 0;
    // Buckets by state name (any state not in kBucketStates is exposed as well).
    std::vector<std::pair<std::string, std::size_t>> buckets_by_state;
    std::vector<HandlerFigures> handlers;
    uint64_t last_seq = 0;
    std::size_t history_events = 0;
    std::size_t history_bytes = 0;
    std::size_t connections = 0;
    std::size_t subscriptions = 0;
};

// Where an exit-detection time starts (README "Metrics").
enum class DetectedFrom {
    kill,  // kvd's own SIGKILL to the process (kill, a stop's escalation, shutdown)
    wake,  // kvd's loop woke for the exit (the pidfd became readable, or a SIGCHLD found it)
};

// The histogram's bucket bounds, in seconds: 50 us to 1 s.
const std::vector<double>& exit_detection_buckets();

class Metrics {
  public:
    Metrics();
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // A `create` event was published; `restart` when it carries "restart" (an automatic
    // restart, or the `restart` op).
    void count_create(bool restart);
    // An `exit` event was published with `reason`, `detection` after the moment `from` names.
    void count_exit(std::string_view reason, DetectedFrom from, std::chrono::nanoseconds detection);
    // A `failed` event was published.
    void count_failed();

    // Every family, counters first, then the snapshot's; names all start with "kvd_".
    std::vector<prometheus::MetricFamily> collect(const Snapshot& now) const;

  private:
    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Counter* creates_;
    prometheus::Counter* restarts_;
    prometheus::Counter* failures_;
    prometheus::Family<prometheus::Counter>* exits_;
    prometheus::Histogram* detected_after_kill_;
    prometheus::Histogram* detected_after_wake_;
};

// The text exposition format (version 0.0.4) of `families`.
std::string exposition_text(const std::vector<prometheus::MetricFamily>& families);

}  // namespace kvd::metrics
