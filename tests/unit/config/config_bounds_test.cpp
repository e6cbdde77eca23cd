// The bounds keys (max_clients, the byte sizes, request_timeout) and the range of every integer
// and duration key: out of range is an error at the value, never a silent clamp.
#include <gtest/gtest.h>

#include "daemon/config.hpp"
#include "tests/unit/config/config_test_support.hpp"

namespace kvd {
namespace {

using namespace std::chrono_literals;
using testing::errors_of;
using testing::Lines;
using testing::parse_ok;

constexpr std::size_t kMiBytes = 1024 * 1024;

TEST(ConfigBounds, Defaults) {
    Config config = parse_ok("");
    EXPECT_EQ(config.daemon.max_clients, 1024u);
    EXPECT_EQ(config.daemon.event_history_bytes, 32 * kMiBytes);
    EXPECT_EQ(config.daemon.backlog_bytes, 16 * kMiBytes);
    EXPECT_EQ(config.daemon.client_buffer_bytes, 8 * kMiBytes);
    EXPECT_EQ(config.bucket.request_timeout, 5s);
    EXPECT_EQ(config.bucket.max_reply_bytes, 64 * kMiBytes);
}

TEST(ConfigBounds, EveryNewKey) {
    Config config = parse_ok(R"(
[daemon]
max_clients = 50
event_history_bytes = "1G"
backlog_bytes = "512KiB"
client_buffer_bytes = 131072

[bucket]
request_timeout = "750ms"
max_reply_bytes = "2M"
)");
    EXPECT_EQ(config.daemon.max_clients, 50u);
    EXPECT_EQ(config.daemon.event_history_bytes, std::size_t{1} << 30);
    EXPECT_EQ(config.daemon.backlog_bytes, 512u * 1024);
    EXPECT_EQ(config.daemon.client_buffer_bytes, 131072u);
    EXPECT_EQ(config.bucket.request_timeout, 750ms);
    EXPECT_EQ(config.bucket.max_reply_bytes, 2 * kMiBytes);
}

TEST(ConfigBounds, SizeSpellings) {
    auto backlog = [](const std::string& value) {
        return parse_ok("[daemon]\nbacklog_bytes = " + value + "\n").daemon.backlog_bytes;
    };
    EXPECT_EQ(backlog("\"64K\""), 64u * 1024);
    EXPECT_EQ(backlog("\"64KiB\""), 64u * 1024);
    EXPECT_EQ(backlog("\"16M\""), 16 * kMiBytes);
    EXPECT_EQ(backlog("\"16MiB\""), 16 * kMiBytes);
    EXPECT_EQ(backlog("\"1GiB\""), std::size_t{1} << 30);
    EXPECT_EQ(backlog("\"1T\""), std::size_t{1} << 40);
    EXPECT_EQ(backlog("\"65536B\""), 65536u);
    EXPECT_EQ(backlog("\"65536\""), 65536u);
    EXPECT_EQ(backlog("65_536"), 65536u);
    EXPECT_EQ(backlog("0x10000"), 65536u);
}

TEST(ConfigBounds, SizeErrors) {
    EXPECT_EQ(errors_of("[daemon]\nbacklog_bytes = \"64MB\"\n"),
              (Lines{"kvd.toml:2:17: daemon.backlog_bytes: '64MB' has unknown unit 'MB' (use B, "
                     "K, M, G, T or KiB, MiB, GiB, TiB; 1K is 1024 bytes)"}));
    EXPECT_EQ(errors_of("[daemon]\nclient_buffer_bytes = \"lots\"\n"),
              (Lines{"kvd.toml:2:23: daemon.client_buffer_bytes: 'lots' is not a size (expected "
                     "e.g. 512K, 64MiB, 1G)"}));
    EXPECT_EQ(errors_of("[bucket]\nmax_reply_bytes = 1.5\n"),
              (Lines{"kvd.toml:2:19: bucket.max_reply_bytes must be a size such as \"64MiB\" or an "
                     "integer number of bytes, not a float"}));
    EXPECT_EQ(errors_of("[daemon]\nevent_history_bytes = \"99999999999G\"\n"),
              (Lines{"kvd.toml:2:23: daemon.event_history_bytes: '99999999999G' does not fit in "
                     "64 bits"}));
}

TEST(ConfigBounds, SizesOfZeroOrBelowTheMinimumAreRefused) {
    const char* why = ": a smaller bound would refuse, drop or stall ordinary traffic";
    EXPECT_EQ(errors_of("[daemon]\nbacklog_bytes = 0\n"),
              (Lines{std::string("kvd.toml:2:17: daemon.backlog_bytes must be at least 64KiB, "
                                 "not 0") +
                     why}));
    EXPECT_EQ(errors_of("[daemon]\nbacklog_bytes = \"0K\"\n"),
              (Lines{std::string("kvd.toml:2:17: daemon.backlog_bytes must be at least 64KiB, "
                                 "not \"0K\"") +
                     why}));
    EXPECT_EQ(errors_of("[daemon]\nclient_buffer_bytes = \"1K\"\n"),
              (Lines{std::string("kvd.toml:2:23: daemon.client_buffer_bytes must be at least "
                                 "64KiB, not \"1K\"") +
                     why}));
    EXPECT_EQ(errors_of("[bucket]\nmax_reply_bytes = 65535\n"),
              (Lines{std::string("kvd.toml:2:19: bucket.max_reply_bytes must be at least 64KiB, "
                                 "not 65535") +
                     why}));
    EXPECT_EQ(errors_of("[daemon]\nevent_history_bytes = -1\n"),
              (Lines{std::string("kvd.toml:2:23: daemon.event_history_bytes must be at least "
                                 "64KiB, not -1") +
                     why}));
}

TEST(ConfigBounds, SizesAboveOneTebibyteAreRefused) {
    EXPECT_EQ(errors_of("[daemon]\nbacklog_bytes = \"2T\"\n"),
              (Lines{"kvd.toml:2:17: daemon.backlog_bytes must be at most 1TiB, not \"2T\""}));
    EXPECT_EQ(errors_of("[daemon]\nbacklog_bytes = 1099511627777\n"),
              (Lines{"kvd.toml:2:17: daemon.backlog_bytes must be at most 1TiB, not "
                     "1099511627777"}));
    // Beyond 64 bits as an integer: toml11 would read it as 2^63-1; the literal is refused.
    EXPECT_EQ(errors_of("[bucket]\nmax_reply_bytes = 99999999999999999999999\n"),
              (Lines{"kvd.toml:2:19: bucket.max_reply_bytes must be at most 1TiB, not "
                     "99999999999999999999999"}));
    EXPECT_EQ(parse_ok("[daemon]\nbacklog_bytes = \"1TiB\"\n").daemon.backlog_bytes,
              std::size_t{1} << 40);
}

TEST(ConfigBounds, MaxClientsRange) {
    EXPECT_EQ(parse_ok("[daemon]\nmax_clients = 1\n").daemon.max_clients, 1u);
    EXPECT_EQ(parse_ok("[daemon]\nmax_clients = 1000000\n").daemon.max_clients, 1000000u);
    EXPECT_EQ(errors_of("[daemon]\nmax_clients = 0\n"),
              (Lines{"kvd.toml:2:15: daemon.max_clients must be a positive integer, not 0"}));
    EXPECT_EQ(errors_of("[daemon]\nmax_clients = 1000001\n"),
              (Lines{"kvd.toml:2:15: daemon.max_clients must be at most 1000000, not 1000001"}));
    EXPECT_EQ(errors_of("[daemon]\nmax_clients = \"many\"\n"),
              (Lines{"kvd.toml:2:15: daemon.max_clients must be an integer, not a string"}));
}

// toml11 reads a decimal, hex or octal literal beyond 64 bits as the nearest 64-bit limit, and
// lets a binary one wrap: each must still be refused as written.
TEST(ConfigBounds, IntegersBeyondSixtyFourBitsAreRefused) {
    EXPECT_EQ(errors_of("[daemon]\nmax_buckets = 99999999999999999999999\n"),
              (Lines{"kvd.toml:2:15: daemon.max_buckets must be at most 1000000, not "
                     "99999999999999999999999"}));
    EXPECT_EQ(errors_of("[daemon]\nmax_buckets = -99999999999999999999999\n"),
              (Lines{"kvd.toml:2:15: daemon.max_buckets must be a positive integer, not "
                     "-99999999999999999999999"}));
    EXPECT_EQ(errors_of("[daemon]\nevent_history = 0xFFFFFFFFFFFFFFFFFF\n"),
              (Lines{"kvd.toml:2:17: daemon.event_history must be at most 10000000, not "
                     "0xFFFFFFFFFFFFFFFFFF"}));
    EXPECT_EQ(errors_of("[daemon]\nevent_history = 0o7777777777777777777777777\n"),
              (Lines{"kvd.toml:2:17: daemon.event_history must be at most 10000000, not "
                     "0o7777777777777777777777777"}));
    // A binary literal is read exactly up to 62 digits; toml11 itself would overflow on more
    // (undefined behaviour), so those never reach it.
    EXPECT_EQ(errors_of("[daemon]\nmax_clients = "
                        "0b11_1111111111_1111111111_1111111111_1111111111_1111111111_1111111111\n"),
              (Lines{"kvd.toml:2:15: daemon.max_clients must be at most 1000000, not "
                     "0b11_1111111111_1111111111_1111111111_1111111111_1111111111_1111111111"}));
    EXPECT_EQ(errors_of("[daemon]\nmax_clients = "
                        "0b1_0000000000000000000000000000000000000000000000000000000000000101\n"),
              (Lines{"kvd.toml:2:15: a binary integer of 65 digits; at most 62 are read"}));
    EXPECT_EQ(errors_of("[daemon]\nmax_clients = 0b" + std::string(63, '0') + "1\n"),
              (Lines{"kvd.toml:2:15: a binary integer of 64 digits; at most 62 are read"}));
    EXPECT_EQ(
        parse_ok("[daemon]\nmax_clients = 0b" + std::string(61, '0') + "1\n").daemon.max_clients,
        1u);
    // Digits in strings, comments and keys are not integers.
    std::string ones(70, '1');
    EXPECT_EQ(parse_ok("# 0b" + ones + "\n[[handler]]\nname = \"h\"\ncommand = [\"0b" + ones +
                       "\"]\nenv = { x0b" + ones + " = '0b" + ones + "' }\n")
                  .handlers.size(),
              1u);
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\nmode = \"async\"\n"
                        "queue = 18446744073709551616\n"),
              (Lines{"kvd.toml:5:9: handler.queue must be at most 10000000, not "
                     "18446744073709551616"}));
    // The largest 64-bit values are read exactly, and refused by the range alone.
    EXPECT_EQ(errors_of("[daemon]\nmax_buckets = 9223372036854775807\n"),
              (Lines{"kvd.toml:2:15: daemon.max_buckets must be at most 1000000, not "
                     "9223372036854775807"}));
    EXPECT_EQ(errors_of("[daemon]\nmax_buckets = -9223372036854775808\n"),
              (Lines{"kvd.toml:2:15: daemon.max_buckets must be a positive integer, not "
                     "-9223372036854775808"}));
}

TEST(ConfigBounds, UpperBoundsOfCounts) {
    EXPECT_EQ(parse_ok("[daemon]\nmax_buckets = 1_000_000\n").daemon.max_buckets, 1000000u);
    EXPECT_EQ(errors_of("[daemon]\nmax_buckets = 1_000_001\n"),
              (Lines{"kvd.toml:2:15: daemon.max_buckets must be at most 1000000, not 1_000_001"}));
    EXPECT_EQ(parse_ok("[daemon]\nevent_history = 10000000\n").daemon.event_history, 10000000u);
    EXPECT_EQ(errors_of("[daemon]\nevent_history = 10000001\n"),
              (Lines{"kvd.toml:2:17: daemon.event_history must be at most 10000000, not "
                     "10000001"}));
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\nmode = \"async\"\n"
                        "queue = 10000001\n"),
              (Lines{"kvd.toml:5:9: handler.queue must be at most 10000000, not 10000001"}));
}

TEST(ConfigBounds, RequestTimeout) {
    EXPECT_EQ(parse_ok("[bucket]\nrequest_timeout = 250\n").bucket.request_timeout, 250ms);
    EXPECT_EQ(parse_ok("[bucket]\nrequest_timeout = \"1m\"\n").bucket.request_timeout, 1min);
    EXPECT_EQ(errors_of("[bucket]\nrequest_timeout = \"0s\"\n"),
              (Lines{"kvd.toml:2:19: bucket.request_timeout must be longer than zero"}));
    EXPECT_EQ(errors_of("[bucket]\nrequest_timeout = 0\n"),
              (Lines{"kvd.toml:2:19: bucket.request_timeout must be longer than zero"}));
    EXPECT_EQ(errors_of("[bucket]\nrequest_timeout = \"soon\"\n"),
              (Lines{"kvd.toml:2:19: bucket.request_timeout: 'soon' is not a duration (expected "
                     "e.g. 250ms, 5s, 1m)"}));
}

// "1us" is 0 ms once rounded: a restart delay of 0 restarts a crashing handler as fast as the
// loop turns, and a timeout of 0 fires at once.
TEST(ConfigBounds, DurationsThatRoundToZeroAreRefusedWhereZeroMakesNoSense) {
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\nrestart_delay = \"1us\"\n"),
              (Lines{"kvd.toml:4:17: handler.restart_delay \"1us\" rounds to 0ms; it must be at "
                     "least 1ms"}));
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\nrestart_delay = 0\n"),
              (Lines{"kvd.toml:4:17: handler.restart_delay must be longer than zero"}));
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\n"
                        "restart_delay_max = \"0.4ms\"\n"),
              (Lines{"kvd.toml:4:21: handler.restart_delay_max \"0.4ms\" rounds to 0ms; it must "
                     "be at least 1ms"}));
    EXPECT_EQ(
        errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\nack_timeout = \"0.0001s\"\n"),
        (Lines{"kvd.toml:4:15: handler.ack_timeout \"0.0001s\" rounds to 0ms; it must be "
               "at least 1ms"}));
    EXPECT_EQ(errors_of("[bucket]\nstop_timeout = \"100us\"\n"),
              (Lines{"kvd.toml:2:16: bucket.stop_timeout \"100us\" rounds to 0ms; it must be at "
                     "least 1ms"}));
    EXPECT_EQ(errors_of("[bucket]\nstop_timeout = 0\n"),
              (Lines{"kvd.toml:2:16: bucket.stop_timeout must be longer than zero"}));
    EXPECT_EQ(errors_of("[bucket]\nrequest_timeout = \"1us\"\n"),
              (Lines{"kvd.toml:2:19: bucket.request_timeout \"1us\" rounds to 0ms; it must be at "
                     "least 1ms"}));
    // What rounds up to 1 ms is fine.
    EXPECT_EQ(parse_ok("[bucket]\nstop_timeout = \"500us\"\n").bucket.stop_timeout, 1ms);
}

TEST(ConfigBounds, DurationsLongerThanADayAreRefused) {
    EXPECT_EQ(parse_ok("[bucket]\nstop_timeout = \"24h\"\n").bucket.stop_timeout, 24h);
    EXPECT_EQ(errors_of("[bucket]\nstop_timeout = \"25h\"\n"),
              (Lines{"kvd.toml:2:16: bucket.stop_timeout must be at most 24h, not \"25h\""}));
    EXPECT_EQ(errors_of("[bucket]\nrequest_timeout = 86400001\n"),
              (Lines{"kvd.toml:2:19: bucket.request_timeout must be at most 24h, not 86400001"}));
    // Milliseconds beyond 64 bits: toml11 would read 2^63-1.
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\n"
                        "ack_timeout = 99999999999999999999999\n"),
              (Lines{"kvd.toml:4:15: handler.ack_timeout must be at most 24h, not "
                     "99999999999999999999999"}));
    // Too long for parse_duration itself (it would overflow a 64-bit count of milliseconds).
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\n"
                        "restart_delay_max = \"9999999999999999999h\"\n"),
              (Lines{"kvd.toml:4:21: handler.restart_delay_max: '9999999999999999999h' is too "
                     "long"}));
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\nrestart_delay = \"2d\"\n"),
              (Lines{"kvd.toml:4:17: handler.restart_delay: '2d' has unknown unit 'd' (use ms, "
                     "s, m or h)"}));
}

TEST(ConfigBounds, NegativeDurationsAreRefused) {
    EXPECT_EQ(errors_of("[bucket]\nrequest_timeout = -1\n"),
              (Lines{"kvd.toml:2:19: bucket.request_timeout must not be negative"}));
    EXPECT_EQ(errors_of("[bucket]\nrequest_timeout = -99999999999999999999999\n"),
              (Lines{"kvd.toml:2:19: bucket.request_timeout must not be negative"}));
}

TEST(ConfigBounds, QueueOnASyncHandlerIsRefused) {
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\nmode = \"sync\"\n"
                        "queue = 10\n"),
              (Lines{"kvd.toml:5:9: handler.queue applies only to async handlers, and this one is "
                     "sync (set mode = \"async\" or remove queue)"}));
    // Sync is the default mode.
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\nqueue = 10\n"),
              (Lines{"kvd.toml:4:9: handler.queue applies only to async handlers, and this one is "
                     "sync (set mode = \"async\" or remove queue)"}));
    // A mode that is itself wrong is reported alone.
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\nmode = \"Async\"\n"
                        "queue = 10\n"),
              (Lines{"kvd.toml:4:8: handler.mode must be \"sync\" or \"async\", not \"Async\""}));
    Config config =
        parse_ok("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\nmode = \"async\"\nqueue = 10\n");
    ASSERT_EQ(config.handlers.size(), 1u);
    EXPECT_EQ(config.handlers[0].queue, 10u);
}

TEST(ConfigBounds, SocketPathThatCannotBeBound) {
    std::string path = "/run/" + std::string(103, 'x');  // 108 bytes: one too many
    EXPECT_EQ(errors_of("[daemon]\nsocket = \"" + path + "\"\n"),
              (Lines{"kvd.toml:2:10: daemon.socket is 108 bytes long; at most 107 fit in a Unix "
                     "socket address"}));
    path.pop_back();
    EXPECT_EQ(parse_ok("[daemon]\nsocket = \"" + path + "\"\n").daemon.socket, path);
}

TEST(ConfigBounds, SourcesPointAtTheValuesTheSystemChecksLookAt) {
    Config config = parse_ok(R"([daemon]
socket_group = "kvd"

[bucket]
program = "kv-bucket"

[[handler]]
name = "a"
command = ["first", "arg"]

[[handler]]
name = "b"
command = [
    "second"]
)");
    EXPECT_EQ(config.sources.socket_group.line, 2);
    EXPECT_EQ(config.sources.socket_group.column, 16);
    EXPECT_EQ(config.sources.bucket_program.line, 5);
    EXPECT_EQ(config.sources.bucket_program.column, 11);
    ASSERT_EQ(config.sources.handler_program.size(), 2u);
    EXPECT_EQ(config.sources.handler_program[0].line, 9);
    EXPECT_EQ(config.sources.handler_program[0].column, 12);
    EXPECT_EQ(config.sources.handler_program[1].line, 14);
    EXPECT_EQ(config.sources.handler_program[1].column, 5);

    Config defaults = parse_ok("");
    EXPECT_EQ(defaults.sources.bucket_program.line, 0);
    EXPECT_EQ(defaults.sources.socket_group.line, 0);
    EXPECT_TRUE(defaults.sources.handler_program.empty());
}

}  // namespace
}  // namespace kvd
