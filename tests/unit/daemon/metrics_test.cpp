// kvd's exposition (daemon/metrics/metrics.hpp): the counters the registry bumps and a
// snapshot of kvd's state, serialised, read back by a strict parser of the text format.
#include "daemon/metrics/metrics.hpp"

#include <gtest/gtest.h>

#include "tests/helpers/exposition.hpp"

namespace kvd::metrics {
namespace {

using namespace std::chrono_literals;
using test::parse_exposition;

Snapshot two_handlers() {
    Snapshot s;
    s.version = "0.1.0";
    s.boot = "00112233445566778899aabbccddeeff";
    s.uptime_seconds = 12.5;
    s.buckets_by_state = {{"running", 3}, {"backoff", 1}};
    s.handlers = {{"audit", "running", "sync", 10, 9, 0, 1, 1},
                  {"fwd", "restarting", "async", 20, 0, 4, 2, 7}};
    s.last_seq = 42;
    s.history_events = 40;
    s.history_bytes = 4096;
    s.connections = 2;
    s.subscriptions = 1;
    return s;
}

TEST(Metrics, EveryLineIsACommentOrASample) {
    Metrics m;
    auto text = exposition_text(m.collect(two_handlers()));
    auto e = parse_exposition(text);
    EXPECT_TRUE(e.bad_lines.empty()) << e.bad_lines.front();
    EXPECT_GT(e.samples.size(), 30u) << text;
    for (const auto& [series, value] : e.samples) EXPECT_EQ(series.rfind("kvd_", 0), 0u) << series;
}

TEST(Metrics, SnapshotFiguresAreExposedWithTheirLabels) {
    Metrics m;
    auto e = parse_exposition(exposition_text(m.collect(two_handlers())));
    EXPECT_EQ(e.value(R"(kvd_buckets{state="running"})"), 3);
    EXPECT_EQ(e.value(R"(kvd_buckets{state="backoff"})"), 1);
    // Every state is there, with 0 buckets too.
    EXPECT_EQ(e.value(R"(kvd_buckets{state="starting"})"), 0);
    EXPECT_EQ(e.value(R"(kvd_buckets{state="failed"})"), 0);
    EXPECT_EQ(e.value(R"(kvd_handler_delivered_total{handler="audit"})"), 10);
    EXPECT_EQ(e.value(R"(kvd_handler_acked_total{handler="audit"})"), 9);
    EXPECT_EQ(e.value(R"(kvd_handler_dropped_total{handler="fwd"})"), 4);
    EXPECT_EQ(e.value(R"(kvd_handler_restarts_total{handler="fwd"})"), 2);
    EXPECT_EQ(e.value(R"(kvd_handler_queued{handler="fwd"})"), 7);
    EXPECT_EQ(e.value(R"(kvd_handler_info{handler="fwd",state="restarting",mode="async"})"), 1);
    EXPECT_EQ(e.value("kvd_event_seq"), 42);
    EXPECT_EQ(e.value("kvd_event_history_events"), 40);
    EXPECT_EQ(e.value("kvd_event_history_bytes"), 4096);
    EXPECT_EQ(e.value("kvd_client_connections"), 2);
    EXPECT_EQ(e.value("kvd_subscriptions"), 1);
    EXPECT_EQ(e.value("kvd_uptime_seconds"), 12.5);
    EXPECT_EQ(e.value(R"(kvd_info{version="0.1.0",boot="00112233445566778899aabbccddeeff"})"), 1);
    EXPECT_EQ(e.types["kvd_handler_delivered_total"], "counter");
    EXPECT_EQ(e.types["kvd_buckets"], "gauge");
}

TEST(Metrics, CountsCreatesRestartsExitsAndFailures) {
    Metrics m;
    m.count_create(false);
    m.count_create(false);
    m.count_create(true);
    m.count_exit("killed", DetectedFrom::kill, 300us);
    m.count_exit("stopped", DetectedFrom::wake, 40us);
    m.count_exit("exited", DetectedFrom::wake, 2ms);
    m.count_failed();
    auto e = parse_exposition(exposition_text(m.collect({})));
    EXPECT_EQ(e.value("kvd_bucket_creates_total"), 3);
    EXPECT_EQ(e.value("kvd_bucket_restarts_total"), 1);
    EXPECT_EQ(e.value("kvd_bucket_failures_total"), 1);
    EXPECT_EQ(e.value(R"(kvd_bucket_exits_total{reason="killed"})"), 1);
    EXPECT_EQ(e.value(R"(kvd_bucket_exits_total{reason="stopped"})"), 1);
    EXPECT_EQ(e.value(R"(kvd_bucket_exits_total{reason="exited"})"), 1);
    EXPECT_EQ(e.types["kvd_exit_detection_seconds"], "histogram");
    EXPECT_EQ(e.value(R"(kvd_exit_detection_seconds_count{from="kill"})"), 1);
    EXPECT_EQ(e.value(R"(kvd_exit_detection_seconds_count{from="wake"})"), 2);
    // Cumulative buckets: 40 us is under the first bound, 300 us under 0.0005, 2 ms under 0.0025.
    EXPECT_EQ(e.value(R"(kvd_exit_detection_seconds_bucket{from="wake",le="5e-05"})"), 1);
    EXPECT_EQ(e.value(R"(kvd_exit_detection_seconds_bucket{from="wake",le="0.001"})"), 1);
    EXPECT_EQ(e.value(R"(kvd_exit_detection_seconds_bucket{from="wake",le="0.0025"})"), 2);
    EXPECT_EQ(e.value(R"(kvd_exit_detection_seconds_bucket{from="kill",le="0.00025"})"), 0);
    EXPECT_EQ(e.value(R"(kvd_exit_detection_seconds_bucket{from="kill",le="0.0005"})"), 1);
    EXPECT_EQ(e.value(R"(kvd_exit_detection_seconds_bucket{from="kill",le="+Inf"})"), 1);
    EXPECT_NEAR(e.value(R"(kvd_exit_detection_seconds_sum{from="wake"})"), 0.00204, 1e-9);
    // With no exit yet, every reason still has its series.
    auto fresh = parse_exposition(exposition_text(Metrics().collect({})));
    EXPECT_EQ(fresh.value(R"(kvd_bucket_exits_total{reason="exited"})"), 0);
}

TEST(Metrics, LabelValuesAreEscaped) {
    Snapshot s;
    s.handlers = {{"we\"ird\\name", "running", "sync", 1, 1, 0, 0, 0}};
    auto e = parse_exposition(exposition_text(Metrics().collect(s)));
    EXPECT_TRUE(e.bad_lines.empty()) << e.bad_lines.front();
    EXPECT_EQ(e.value(R"(kvd_handler_delivered_total{handler="we\"ird\\name"})"), 1);
}

}  // namespace
}  // namespace kvd::metrics
