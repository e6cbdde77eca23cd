// Valid configs: defaults, every key of README "Configuration", and the accepted spellings of
// values.
#include <gtest/gtest.h>

#include "daemon/config.hpp"
#include "tests/unit/config/config_test_support.hpp"

namespace kvd {
namespace {

using namespace std::chrono_literals;
using testing::parse_ok;

TEST(ConfigValid, EmptyTextIsAllDefaults) {
    Config config = parse_ok("");
    EXPECT_EQ(config.path, "kvd.toml");
    EXPECT_EQ(config.daemon, DaemonSection{});
    EXPECT_EQ(config.bucket, BucketSection{});
    EXPECT_TRUE(config.handlers.empty());

    EXPECT_FALSE(config.daemon.socket);
    EXPECT_EQ(config.daemon.socket_mode, 0660u);
    EXPECT_FALSE(config.daemon.socket_group);
    EXPECT_EQ(config.daemon.max_buckets, 10000u);
    EXPECT_EQ(config.daemon.event_history, 10000u);
    EXPECT_FALSE(config.daemon.log_level);
    EXPECT_EQ(config.bucket.program, "kv-bucket");
    EXPECT_EQ(config.bucket.stop_timeout, 5s);
}

TEST(ConfigValid, CommentsAndEmptySectionsAreDefaults) {
    Config config = parse_ok("# nothing yet\n\n[daemon]\n[bucket]\n");
    EXPECT_EQ(config.daemon, DaemonSection{});
    EXPECT_EQ(config.bucket, BucketSection{});
}

TEST(ConfigValid, EveryKey) {
    Config config = parse_ok(R"(
[daemon]
socket = "/run/kvd/kvd.sock"
socket_mode = "0600"
socket_group = "kvd"
max_buckets = 500
event_history = 2000
event_history_bytes = "4MiB"
log_level = "debug"
max_clients = 64
backlog_bytes = "1M"
client_buffer_bytes = 262144

[bucket]
program = "/usr/libexec/kv-bucket"
stop_timeout = "2s"
request_timeout = "10s"
max_reply_bytes = "128MiB"

[[handler]]
name = "audit"
command = ["/usr/lib/kvd/handlers/log-events", "/var/log/kvd/events.log"]
mode = "sync"
events = ["create", "exit"]
ack_timeout = "3s"
restart = "on-failure"
restart_delay = "250ms"
restart_delay_max = "1m"
env = { LOG_FORMAT = "json", "WITH SPACE" = "" }

[[handler]]
name = "metrics"
command = ["metrics-sink"]
mode = "async"
queue = 10
restart = "never"
)");
    DaemonSection daemon;
    daemon.socket = "/run/kvd/kvd.sock";
    daemon.socket_mode = 0600;
    daemon.socket_group = "kvd";
    daemon.max_buckets = 500;
    daemon.event_history = 2000;
    daemon.event_history_bytes = 4 * 1024 * 1024;
    daemon.log_level = "debug";
    daemon.max_clients = 64;
    daemon.backlog_bytes = 1024 * 1024;
    daemon.client_buffer_bytes = 262144;
    EXPECT_EQ(config.daemon, daemon);

    BucketSection bucket;
    bucket.program = "/usr/libexec/kv-bucket";
    bucket.stop_timeout = 2s;
    bucket.request_timeout = 10s;
    bucket.max_reply_bytes = 128 * 1024 * 1024;
    EXPECT_EQ(config.bucket, bucket);

    HandlerConfig audit;
    audit.name = "audit";
    audit.command = {"/usr/lib/kvd/handlers/log-events", "/var/log/kvd/events.log"};
    audit.mode = HandlerMode::sync;
    audit.events = std::vector<std::string>{"create", "exit"};
    audit.ack_timeout = 3s;
    audit.restart = RestartPolicy::on_failure;
    audit.restart_delay = 250ms;
    audit.restart_delay_max = 1min;
    audit.env = {{"LOG_FORMAT", "json"}, {"WITH SPACE", ""}};

    HandlerConfig metrics;
    metrics.name = "metrics";
    metrics.command = {"metrics-sink"};
    metrics.mode = HandlerMode::async;
    metrics.queue = 10;
    metrics.restart = RestartPolicy::never;

    ASSERT_EQ(config.handlers.size(), 2u);
    EXPECT_EQ(config.handlers[0], audit);
    EXPECT_EQ(config.handlers[1], metrics);
}

TEST(ConfigValid, HandlerDefaults) {
    Config config = parse_ok("[[handler]]\nname = \"h\"\ncommand = [\"cat\"]\n");
    ASSERT_EQ(config.handlers.size(), 1u);
    const HandlerConfig& h = config.handlers[0];
    EXPECT_EQ(h.mode, HandlerMode::sync);
    EXPECT_FALSE(h.events);
    EXPECT_EQ(h.ack_timeout, 5s);
    EXPECT_EQ(h.queue, 1000u);
    EXPECT_EQ(h.restart, RestartPolicy::always);
    EXPECT_EQ(h.restart_delay, 100ms);
    EXPECT_EQ(h.restart_delay_max, 30s);
    EXPECT_TRUE(h.env.empty());
}

TEST(ConfigValid, HandlersKeepFileOrder) {
    Config config = parse_ok(R"(
[[handler]]
name = "c"
command = ["x"]
[[handler]]
name = "a"
command = ["x"]
[[handler]]
name = "b"
command = ["x"]
)");
    ASSERT_EQ(config.handlers.size(), 3u);
    EXPECT_EQ(config.handlers[0].name, "c");
    EXPECT_EQ(config.handlers[1].name, "a");
    EXPECT_EQ(config.handlers[2].name, "b");
}

TEST(ConfigValid, DurationsAsStringsOrMilliseconds) {
    Config config = parse_ok(R"(
[bucket]
stop_timeout = 1500
[[handler]]
name = "h"
command = ["x"]
ack_timeout = "1.5s"
restart_delay = 1
restart_delay_max = "2m"
)");
    EXPECT_EQ(config.bucket.stop_timeout, 1500ms);
    ASSERT_EQ(config.handlers.size(), 1u);
    EXPECT_EQ(config.handlers[0].ack_timeout, 1500ms);
    EXPECT_EQ(config.handlers[0].restart_delay, 1ms);
    EXPECT_EQ(config.handlers[0].restart_delay_max, 2min);
}

TEST(ConfigValid, SocketModeSpellings) {
    EXPECT_EQ(parse_ok("[daemon]\nsocket_mode = \"660\"\n").daemon.socket_mode, 0660u);
    EXPECT_EQ(parse_ok("[daemon]\nsocket_mode = \"0777\"\n").daemon.socket_mode, 0777u);
    EXPECT_EQ(parse_ok("[daemon]\nsocket_mode = \"0\"\n").daemon.socket_mode, 0u);
}

TEST(ConfigValid, EveryLogLevel) {
    for (const char* level : {"trace", "debug", "info", "warn", "error"}) {
        Config config = parse_ok(std::string("[daemon]\nlog_level = \"") + level + "\"\n");
        EXPECT_EQ(config.daemon.log_level, level);
    }
}

TEST(ConfigValid, DottedKeysAndInlineTablesAreTheSameSchema) {
    Config config = parse_ok(R"(
daemon.max_buckets = 7
bucket = { stop_timeout = "1s" }
handler = [ { name = "h", command = ["x"], env.A = "1" } ]
)");
    EXPECT_EQ(config.daemon.max_buckets, 7u);
    EXPECT_EQ(config.bucket.stop_timeout, 1s);
    ASSERT_EQ(config.handlers.size(), 1u);
    EXPECT_EQ(config.handlers[0].env, (std::map<std::string, std::string>{{"A", "1"}}));
}

TEST(ConfigValid, NamesForLogs) {
    EXPECT_EQ(handler_mode_name(HandlerMode::sync), "sync");
    EXPECT_EQ(handler_mode_name(HandlerMode::async), "async");
    EXPECT_EQ(restart_policy_name(RestartPolicy::always), "always");
    EXPECT_EQ(restart_policy_name(RestartPolicy::on_failure), "on-failure");
    EXPECT_EQ(restart_policy_name(RestartPolicy::never), "never");
}

}  // namespace
}  // namespace kvd
