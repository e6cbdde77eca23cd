#include "daemon/metrics/metrics.hpp"

#include <prometheus/text_serializer.h>

#include <algorithm>

namespace kvd::metrics {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// One series of a snapshot family: its labels and its value.
ClientMetric sample(MetricType type, double value, std::vector<ClientMetric::Label> labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    if (type == MetricType::Counter)
        m.counter.value = value;
    else
        m.gauge.value = value;
    return m;
}

MetricFamily family(std::string name, std::string help, MetricType type,
                    std::vector<ClientMetric> series) {
    return MetricFamily{std::move(name), std::move(help), type, std::move(series)};
}

MetricFamily single(std::string name, std::string help, MetricType type, double value) {
    return family(std::move(name), std::move(help), type, {sample(type, value)});
}

}  // namespace

const std::vector<double>& exit_detection_buckets() {
    static const std::vector<double> bounds{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                            0.01,    0.025,  0.05,    0.1,    0.25,  0.5,    1.0};
    return bounds;
}

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
    creates_ = &prometheus::BuildCounter()
                    .Name("kvd_bucket_creates_total")
                    .Help("create events published, restarts included")
                    .Register(*registry_)
                    .Add({});
    restarts_ = &prometheus::BuildCounter()
                     .Name("kvd_bucket_restarts_total")
                     .Help("create events that carry \"restart\": a bucket's process started again")
                     .Register(*registry_)
                     .Add({});
    failures_ = &prometheus::BuildCounter()
                     .Name("kvd_bucket_failures_total")
                     .Help("failed events published: buckets kvd gave up restarting")
                     .Register(*registry_)
                     .Add({});
    exits_ = &prometheus::BuildCounter()
                  .Name("kvd_bucket_exits_total")
                  .Help("exit events published, by reason")
                  .Register(*registry_);
    // The three reasons exist from the start, so that a rate() over them has a first sample.
    for (const char* reason : {"exited", "stopped", "killed"}) exits_->Add({{"reason", reason}});
    auto& detection =
        prometheus::BuildHistogram()
            .Name("kvd_exit_detection_seconds")
            .Help(
                "time from a bucket process's end (kvd's SIGKILL, from=\"kill\"; else kvd's loop "
                "waking for it, from=\"wake\") to its exit event being published")
            .Register(*registry_);
    detected_after_kill_ = &detection.Add({{"from", "kill"}}, exit_detection_buckets());
    detected_after_wake_ = &detection.Add({{"from", "wake"}}, exit_detection_buckets());
}

void Metrics::count_create(bool restart) {
    creates_->Increment();
    if (restart) restarts_->Increment();
}

void Metrics::count_exit(std::string_view reason, DetectedFrom from,
                         std::chrono::nanoseconds detection) {
    exits_->Add({{"reason", std::string(reason)}}).Increment();
    double seconds = std::chrono::duration<double>(std::max(detection, {})).count();
    (from == DetectedFrom::kill ? detected_after_kill_ : detected_after_wake_)->Observe(seconds);
}

void Metrics::count_failed() {
    failures_->Increment();
}

std::vector<MetricFamily> Metrics::collect(const Snapshot& now) const {
    std::vector<MetricFamily> out = registry_->Collect();
    using T = MetricType;

    out.push_back(family("kvd_info", "this kvd: its version and this run's boot id", T::Gauge,
                         {sample(T::Gauge, 1, {{"version", now.version}, {"boot", now.boot}})}));
    out.push_back(
        single("kvd_uptime_seconds", "time since kvd started", T::Gauge, now.uptime_seconds));

    std::vector<ClientMetric> by_state;
    auto count_of = [&](std::string_view state) {
        for (const auto& [name, n] : now.buckets_by_state)
            if (name == state) return n;
        return std::size_t{0};
    };
    for (std::string_view state : kBucketStates)
        by_state.push_back(sample(T::Gauge, static_cast<double>(count_of(state)),
                                  {{"state", std::string(state)}}));
    for (const auto& [name, n] : now.buckets_by_state)
        if (std::find(std::begin(kBucketStates), std::end(kBucketStates), name) ==
            std::end(kBucketStates))
            by_state.push_back(sample(T::Gauge, static_cast<double>(n), {{"state", name}}));
    out.push_back(
        family("kvd_buckets", "buckets in the registry, by state", T::Gauge, std::move(by_state)));

    // Per handler: the figures of the `handlers` op. Its counts start again at 0 when a reload
    // replaces the handler, which Prometheus reads as a counter reset.
    std::vector<ClientMetric> delivered, acked, dropped, restarts, queued, up;
    for (const auto& h : now.handlers) {
        std::vector<ClientMetric::Label> name{{"handler", h.name}};
        delivered.push_back(sample(T::Counter, static_cast<double>(h.delivered), name));
        acked.push_back(sample(T::Counter, static_cast<double>(h.acked), name));
        dropped.push_back(sample(T::Counter, static_cast<double>(h.dropped), name));
        restarts.push_back(sample(T::Counter, static_cast<double>(h.restarts), name));
        queued.push_back(sample(T::Gauge, static_cast<double>(h.queued), name));
        up.push_back(
            sample(T::Gauge, 1, {{"handler", h.name}, {"state", h.state}, {"mode", h.mode}}));
    }
    out.push_back(
        family("kvd_handler_info", "each handler, its state and mode", T::Gauge, std::move(up)));
    out.push_back(family("kvd_handler_delivered_total", "events written to the handler", T::Counter,
                         std::move(delivered)));
    out.push_back(family("kvd_handler_acked_total", "events the handler acknowledged (sync)",
                         T::Counter, std::move(acked)));
    out.push_back(family("kvd_handler_dropped_total",
                         "events dropped for the handler on overflow (async)", T::Counter,
                         std::move(dropped)));
    out.push_back(family("kvd_handler_restarts_total", "times the handler's process was restarted",
                         T::Counter, std::move(restarts)));
    out.push_back(family("kvd_handler_queued", "events waiting for the handler", T::Gauge,
                         std::move(queued)));

    out.push_back(single("kvd_event_seq", "the seq of the last event published in this run",
                         T::Gauge, static_cast<double>(now.last_seq)));
    out.push_back(single("kvd_event_history_events", "events kept for subscribe from_seq", T::Gauge,
                         static_cast<double>(now.history_events)));
    out.push_back(single("kvd_event_history_bytes", "bytes of the event lines kept in the history",
                         T::Gauge, static_cast<double>(now.history_bytes)));
    out.push_back(single("kvd_client_connections", "client connections open on the control socket",
                         T::Gauge, static_cast<double>(now.connections)));
    out.push_back(single("kvd_subscriptions", "connections subscribed to events", T::Gauge,
                         static_cast<double>(now.subscriptions)));
    return out;
}

std::string exposition_text(const std::vector<prometheus::MetricFamily>& families) {
    return prometheus::TextSerializer().Serialize(families);
}

}  // namespace kvd::metrics
