// [[kind]] and [[bucket.start]] tables: every key, the defaults, and the errors a user makes.
#include <gtest/gtest.h>

#include <csignal>

#include "daemon/config.hpp"
#include "tests/unit/config/config_test_support.hpp"

namespace kvd {
namespace {

using namespace std::chrono_literals;
using testing::errors_of;
using testing::Lines;
using testing::parse_ok;

TEST(ConfigKinds, EveryKey) {
    Config config = parse_ok(R"(
[[kind]]
name = "worker"
command = ["/usr/bin/my-worker", "--name", "{name}"]
env = { MODE = "prod" }
cwd = "/var/lib/worker"
user = "worker"
restart = "transient"
restart_delay = "100ms"
restart_delay_max = "30s"
max_restarts = 5
restart_window = "60s"
stable_after = "20s"
stop_signal = "SIGINT"
stop_timeout = "5s"
ready = "notify"
ready_timeout = "10s"
data = false
memory_max = "512M"
tasks_max = 64
cpu_weight = 200

[bucket]
stop_timeout = "2s"

[[bucket.start]]
name = "w1"
kind = "worker"

[[bucket.start]]
name = "plain"
)");
    ASSERT_EQ(config.kinds.size(), 1u);
    const KindConfig& k = config.kinds[0];
    EXPECT_EQ(k.name, "worker");
    EXPECT_EQ(k.command, (std::vector<std::string>{"/usr/bin/my-worker", "--name", "{name}"}));
    EXPECT_EQ(k.env.at("MODE"), "prod");
    EXPECT_EQ(k.cwd, "/var/lib/worker");
    EXPECT_EQ(k.user, "worker");
    EXPECT_EQ(k.restart, KindRestart::transient);
    EXPECT_EQ(k.restart_delay, 100ms);
    EXPECT_EQ(k.restart_delay_max, 30s);
    EXPECT_EQ(k.max_restarts, 5u);
    EXPECT_EQ(k.restart_window, 60s);
    EXPECT_EQ(k.stable_after, 20s);
    EXPECT_EQ(k.stop_signal, SIGINT);
    EXPECT_EQ(k.stop_timeout, 5s);
    EXPECT_EQ(k.ready, Readiness::notify);
    EXPECT_EQ(k.ready_timeout, 10s);
    EXPECT_FALSE(k.data);
    EXPECT_EQ(k.memory_max, 512u * 1024 * 1024);
    EXPECT_EQ(k.tasks_max, 64u);
    EXPECT_EQ(k.cpu_weight, 200u);
    EXPECT_EQ(config.bucket.stop_timeout, 2s);
    ASSERT_EQ(config.bucket.start.size(), 2u);
    EXPECT_EQ(config.bucket.start[0], (BucketStart{"w1", "worker"}));
    EXPECT_EQ(config.bucket.start[1], (BucketStart{"plain", "kv-bucket"}));
    EXPECT_EQ(config.find_kind("worker"), &config.kinds[0]);
    EXPECT_EQ(config.find_kind("kv-bucket"), nullptr);
}

TEST(ConfigKinds, Defaults) {
    Config config = parse_ok("[[kind]]\nname = \"w\"\ncommand = [\"w\"]\n");
    const KindConfig& k = config.kinds.at(0);
    EXPECT_EQ(k.restart, KindRestart::temporary);
    EXPECT_EQ(k.ready, Readiness::spawn);
    EXPECT_FALSE(k.data);
    EXPECT_EQ(k.stop_signal, SIGTERM);
    EXPECT_FALSE(k.stop_timeout);
    EXPECT_FALSE(k.memory_max);
    EXPECT_EQ(k.max_restarts, 5u);
}

TEST(ConfigKinds, Errors) {
    EXPECT_EQ(errors_of("[[kind]]\ncommand = [\"w\"]\n"),
              (Lines{"kvd.toml:1:1: kind has no 'name' (required)"}));
    EXPECT_EQ(errors_of("[[kind]]\nname = \"w\"\n"),
              (Lines{"kvd.toml:1:1: kind has no 'command' (required)"}));
    EXPECT_EQ(errors_of("[[kind]]\nname = \"kv-bucket\"\ncommand = [\"w\"]\n"),
              (Lines{"kvd.toml:2:8: kind name 'kv-bucket' is the built-in kind ([bucket] program); "
                     "choose another name"}));
    EXPECT_EQ(errors_of("[[kind]]\nname = \"w\"\ncommand = [\"w\"]\nrestart = \"always\"\n"),
              (Lines{"kvd.toml:4:11: kind.restart must be \"temporary\", \"transient\" or "
                     "\"permanent\", not \"always\""}));
    EXPECT_EQ(errors_of("[[kind]]\nname = \"w\"\ncommand = [\"w\"]\nstop_signal = \"SIGNOPE\"\n"),
              (Lines{"kvd.toml:4:15: kind.stop_signal: unknown signal 'SIGNOPE' (write a name such "
                     "as \"SIGTERM\" or \"INT\")"}));
    EXPECT_EQ(errors_of("[[kind]]\nname = \"w\"\ncommand = [\"w\"]\nreedy = \"notify\"\n"),
              (Lines{"kvd.toml:4:1: unknown key 'reedy' in [[kind]]; did you mean 'ready'?"}));
    EXPECT_EQ(errors_of("[[kind]]\nname = \"w\"\ncommand = [\"w\"]\n[[kind]]\nname = \"w\"\n"
                        "command = [\"v\"]\n"),
              (Lines{"kvd.toml:5:8: duplicate kind name 'w' (first defined on line 2)"}));
    EXPECT_EQ(errors_of("[[kind]]\nname = \"w\"\ncommand = [\"w\"]\ncpu_weight = 0\n"),
              (Lines{"kvd.toml:4:14: kind.cpu_weight must be a positive integer, not 0"}));
    EXPECT_EQ(errors_of("[[kind]]\nname = \"w\"\ncommand = [\"w\"]\nrestart_delay = \"1s\"\n"
                        "restart_delay_max = \"10ms\"\n"),
              (Lines{"kvd.toml:5:21: kind.restart_delay_max (10ms) is shorter than "
                     "kind.restart_delay (1s)"}));
}

TEST(ConfigKinds, BucketStartErrors) {
    EXPECT_EQ(
        errors_of("[[bucket.start]]\nname = \"a\"\nkind = \"nope\"\n"),
        (Lines{"kvd.toml:3:8: bucket.start.kind: no kind named 'nope' (kinds: 'kv-bucket')"}));
    EXPECT_EQ(errors_of("[[bucket.start]]\nkind = \"kv-bucket\"\n"),
              (Lines{"kvd.toml:1:1: bucket.start has no 'name' (required)"}));
    EXPECT_EQ(errors_of("[[bucket.start]]\nname = \"a\"\n[[bucket.start]]\nname = \"a\"\n"),
              (Lines{"kvd.toml:4:8: bucket 'a' is started twice (first on line 2)"}));
    EXPECT_EQ(errors_of("[[bucket.start]]\nname = \".bad\"\n").size(), 1u);
    EXPECT_EQ(errors_of("[[bucket.start]]\nname = \"a\"\nwhen = 1\n"),
              (Lines{"kvd.toml:3:1: unknown key 'when' in [[bucket.start]]"}));
}

}  // namespace
}  // namespace kvd
