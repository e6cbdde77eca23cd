// Invalid configs: each kind of error, reported as FILE:LINE:COLUMN at the key or value at fault.
#include <gtest/gtest.h>

#include "daemon/config.hpp"
#include "tests/unit/config/config_test_support.hpp"

namespace kvd {
namespace {

using testing::errors_of;
using testing::Lines;

TEST(ConfigErrors, UnknownTopLevelKey) {
    EXPECT_EQ(errors_of("verbose = true\n"),
              (Lines{"kvd.toml:1:1: unknown key 'verbose' at the top level"}));
}

TEST(ConfigErrors, UnknownTopLevelTable) {
    EXPECT_EQ(
        errors_of("[daemon]\n\n[deamon]\nsocket = \"/x\"\n"),
        (Lines{"kvd.toml:3:2: unknown key 'deamon' at the top level; did you mean 'daemon'?"}));
    EXPECT_EQ(errors_of("[[handlers]]\nname = \"a\"\n"),
              (Lines{"kvd.toml:1:3: unknown key 'handlers' at the top level; did you mean "
                     "'handler'?"}));
}

TEST(ConfigErrors, UnknownKeyInSection) {
    EXPECT_EQ(errors_of("[daemon]\n  sockt = \"/x\"\n"),
              (Lines{"kvd.toml:2:3: unknown key 'sockt' in [daemon]; did you mean 'socket'?"}));
    EXPECT_EQ(errors_of("[bucket]\nprogram = \"kv-bucket\"\ntimeout = \"1s\"\n"),
              (Lines{"kvd.toml:3:1: unknown key 'timeout' in [bucket]"}));
}

TEST(ConfigErrors, UnknownSubtableInSection) {
    EXPECT_EQ(errors_of("[daemon.extra]\nx = 1\n"),
              (Lines{"kvd.toml:1:9: unknown key 'extra' in [daemon]"}));
    EXPECT_EQ(errors_of("[daemon]\nlimits.max = 1\n"),
              (Lines{"kvd.toml:2:1: unknown key 'limits' in [daemon]"}));
}

TEST(ConfigErrors, UnknownKeyInHandler) {
    EXPECT_EQ(errors_of(R"([[handler]]
name = "a"
command = ["x"]
env = { A = "1" }
modes = "sync"
)"),
              (Lines{"kvd.toml:5:1: unknown key 'modes' in [[handler]]; did you mean 'mode'?"}));
}

TEST(ConfigErrors, UnknownKeyInInlineHandler) {
    EXPECT_EQ(errors_of("handler = [{ name = \"a\", command = [\"x\"], retry = 3 }]\n"),
              (Lines{"kvd.toml:1:43: unknown key 'retry' in [[handler]]"}));
}

TEST(ConfigErrors, WrongTypes) {
    EXPECT_EQ(errors_of("[daemon]\nmax_buckets = \"many\"\n"),
              (Lines{"kvd.toml:2:15: daemon.max_buckets must be an integer, not a string"}));
    EXPECT_EQ(errors_of("[daemon]\nsocket = 5\n"),
              (Lines{"kvd.toml:2:10: daemon.socket must be a string, not an integer"}));
    EXPECT_EQ(errors_of("daemon = 1\n"),
              (Lines{"kvd.toml:1:10: daemon must be a table, not an integer"}));
    EXPECT_EQ(errors_of("[bucket]\nstop_timeout = 1.5\n"),
              (Lines{"kvd.toml:2:16: bucket.stop_timeout must be a duration such as \"5s\" or an "
                     "integer number of milliseconds, not a float"}));
    EXPECT_EQ(errors_of("[handler]\nname = \"a\"\n"),
              (Lines{"kvd.toml:1:1: handler must be an array of tables (write [[handler]]), not "
                     "a table"}));
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = \"cat\"\n"),
              (Lines{"kvd.toml:3:11: handler.command must be an array, not a string"}));
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"cat\",\n  42]\n"),
              (Lines{"kvd.toml:4:3: handler.command[1] must be a string, not an integer"}));
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\nevents = \"create\"\n"),
              (Lines{"kvd.toml:4:10: handler.events must be an array, not a string"}));
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\nenv = { N = 1 }\n"),
              (Lines{"kvd.toml:4:13: handler.env.N must be a string, not an integer"}));
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\nenv = [\"A=1\"]\n"),
              (Lines{"kvd.toml:4:7: handler.env must be a table, not an array"}));
}

TEST(ConfigErrors, NonPositiveIntegers) {
    EXPECT_EQ(errors_of("[daemon]\nmax_buckets = 0\nevent_history = -1\n"),
              (Lines{"kvd.toml:2:15: daemon.max_buckets must be a positive integer, not 0",
                     "kvd.toml:3:17: daemon.event_history must be a positive integer, not -1"}));
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\nqueue = 0\n"),
              (Lines{"kvd.toml:4:9: handler.queue must be a positive integer, not 0"}));
}

TEST(ConfigErrors, BadDuration) {
    EXPECT_EQ(errors_of("[bucket]\nstop_timeout = \"5 seconds\"\n"),
              (Lines{"kvd.toml:2:16: bucket.stop_timeout: '5 seconds' has unknown unit ' seconds' "
                     "(use ms, s, m or h)"}));
    EXPECT_EQ(errors_of("[bucket]\nstop_timeout = \"soon\"\n"),
              (Lines{"kvd.toml:2:16: bucket.stop_timeout: 'soon' is not a duration (expected e.g. "
                     "250ms, 5s, 1m)"}));
    EXPECT_EQ(errors_of("[bucket]\nstop_timeout = -5\n"),
              (Lines{"kvd.toml:2:16: bucket.stop_timeout must not be negative"}));
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\nack_timeout = \"0s\"\n"),
              (Lines{"kvd.toml:4:15: handler.ack_timeout must be longer than zero"}));
}

TEST(ConfigErrors, BadMode) {
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\nmode = \"Sync\"\n"),
              (Lines{"kvd.toml:4:8: handler.mode must be \"sync\" or \"async\", not \"Sync\""}));
}

TEST(ConfigErrors, BadRestart) {
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\nrestart = \"on_failure\"\n"),
              (Lines{"kvd.toml:4:11: handler.restart must be \"always\", \"on-failure\" or "
                     "\"never\", not \"on_failure\""}));
}

TEST(ConfigErrors, BadLogLevel) {
    EXPECT_EQ(errors_of("[daemon]\nlog_level = \"verbose\"\n"),
              (Lines{"kvd.toml:2:13: daemon.log_level must be \"trace\", \"debug\", \"info\", "
                     "\"warn\" or \"error\", not \"verbose\""}));
}

TEST(ConfigErrors, BadSocketMode) {
    EXPECT_EQ(errors_of("[daemon]\nsocket_mode = \"0680\"\n"),
              (Lines{"kvd.toml:2:15: daemon.socket_mode \"0680\" is not an octal mode such as "
                     "\"0660\""}));
    EXPECT_EQ(errors_of("[daemon]\nsocket_mode = \"01777\"\n"),
              (Lines{"kvd.toml:2:15: daemon.socket_mode \"01777\" is above 0777"}));
    EXPECT_EQ(
        errors_of("[daemon]\nsocket_mode = \"\"\n"),
        (Lines{"kvd.toml:2:15: daemon.socket_mode \"\" is not an octal mode such as \"0660\""}));
    EXPECT_EQ(errors_of("[daemon]\nsocket_mode = 432\n"),
              (Lines{"kvd.toml:2:15: daemon.socket_mode must be an octal string such as \"0660\", "
                     "not an integer"}));
}

TEST(ConfigErrors, EmptyStrings) {
    EXPECT_EQ(errors_of("[daemon]\nsocket = \"\"\nsocket_group = \"\"\n"),
              (Lines{"kvd.toml:2:10: daemon.socket must not be empty",
                     "kvd.toml:3:16: daemon.socket_group must not be empty"}));
    EXPECT_EQ(errors_of("[bucket]\nprogram = \"\"\n"),
              (Lines{"kvd.toml:2:11: bucket.program must not be empty"}));
}

TEST(ConfigErrors, DuplicateHandlerName) {
    EXPECT_EQ(errors_of(R"([[handler]]
name = "audit"
command = ["a"]

[[handler]]
name = "audit"
command = ["b"]
)"),
              (Lines{"kvd.toml:6:8: duplicate handler name 'audit' (first defined on line 2)"}));
}

TEST(ConfigErrors, DuplicateNameIsFoundEvenWhenTheFirstHasOtherErrors) {
    EXPECT_EQ(errors_of(R"([[handler]]
name = "audit"
command = []
[[handler]]
name = "audit"
command = ["b"]
)"),
              (Lines{"kvd.toml:3:11: handler.command must name a program: it is an empty array",
                     "kvd.toml:5:8: duplicate handler name 'audit' (first defined on line 2)"}));
}

TEST(ConfigErrors, MissingNameAndCommand) {
    EXPECT_EQ(errors_of("[[handler]]\nmode = \"async\"\n"),
              (Lines{"kvd.toml:1:1: handler has no 'name' (required)",
                     "kvd.toml:1:1: handler has no 'command' (required)"}));
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\n"),
              (Lines{"kvd.toml:1:1: handler has no 'command' (required)"}));
}

TEST(ConfigErrors, EmptyCommand) {
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = []\n"),
              (Lines{"kvd.toml:3:11: handler.command must name a program: it is an empty array"}));
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"\"]\n"),
              (Lines{"kvd.toml:3:12: handler.command[0] must not be empty"}));
}

TEST(ConfigErrors, BadHandlerName) {
    EXPECT_EQ(errors_of("[[handler]]\nname = \"my handler\"\ncommand = [\"x\"]\n"),
              (Lines{"kvd.toml:2:8: handler name has ' ' at byte 2; allowed are A-Z a-z 0-9 . _ : "
                     "-"}));
    EXPECT_EQ(errors_of("[[handler]]\nname = \"-h\"\ncommand = [\"x\"]\n"),
              (Lines{"kvd.toml:2:8: handler name may not start with '-'"}));
    EXPECT_EQ(errors_of("[[handler]]\nname = \"\"\ncommand = [\"x\"]\n"),
              (Lines{"kvd.toml:2:8: handler.name must not be empty"}));
}

TEST(ConfigErrors, RestartDelayMaxBelowRestartDelay) {
    EXPECT_EQ(errors_of(R"([[handler]]
name = "a"
command = ["x"]
restart_delay = "2s"
restart_delay_max = "500ms"
)"),
              (Lines{"kvd.toml:5:21: handler.restart_delay_max (500ms) is shorter than "
                     "handler.restart_delay (2s)"}));
    // Only the delay is written: it is the one above the default maximum of 30s.
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\nrestart_delay = \"1m\"\n"),
              (Lines{"kvd.toml:4:17: handler.restart_delay_max (30s) is shorter than "
                     "handler.restart_delay (1m)"}));
}

TEST(ConfigErrors, BadEvents) {
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\nevents = []\n"),
              (Lines{"kvd.toml:4:10: handler.events is empty; leave it out to receive every "
                     "type"}));
    EXPECT_EQ(
        errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\nevents = [\"create\", \"\"]\n"),
        (Lines{"kvd.toml:4:21: handler.events[1] must not be empty"}));
}

TEST(ConfigErrors, BadEnvName) {
    EXPECT_EQ(
        errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\"]\nenv = { \"A=B\" = \"1\" }\n"),
        (Lines{"kvd.toml:4:9: handler.env: 'A=B' is not a valid variable name"}));
}

TEST(ConfigErrors, NulInStrings) {
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = [\"x\", \"a\\u0000b\"]\n"),
              (Lines{"kvd.toml:3:17: handler.command[1] must not contain a NUL character"}));
}

TEST(ConfigErrors, EveryErrorIsCollectedInFileOrder) {
    EXPECT_EQ(errors_of(R"(bogus = 1
[daemon]
max_buckets = 0
log_level = "loud"

[bucket]
stop_timeout = "forever"

[[handler]]
name = "a"
command = ["x"]
mode = "maybe"

[[handler]]
name = "a"
command = ["y"]
colour = "red"
)"),
              (Lines{
                  "kvd.toml:1:1: unknown key 'bogus' at the top level",
                  "kvd.toml:3:15: daemon.max_buckets must be a positive integer, not 0",
                  "kvd.toml:4:13: daemon.log_level must be \"trace\", \"debug\", \"info\", "
                  "\"warn\" or \"error\", not \"loud\"",
                  "kvd.toml:7:16: bucket.stop_timeout: 'forever' is not a duration (expected "
                  "e.g. 250ms, 5s, 1m)",
                  "kvd.toml:12:8: handler.mode must be \"sync\" or \"async\", not \"maybe\"",
                  "kvd.toml:15:8: duplicate handler name 'a' (first defined on line 10)",
                  "kvd.toml:17:1: unknown key 'colour' in [[handler]]",
              }));
}

TEST(ConfigErrors, SyntaxErrorIsOneErrorAtItsPlace) {
    EXPECT_EQ(errors_of("[daemon]\nsocket = \n"),
              (Lines{"kvd.toml:2:10: missing value after '='"}));
    EXPECT_EQ(errors_of("[daemon]\nmax_buckets = 1\nmax_buckets = 2\n"),
              (Lines{"kvd.toml:3:15: 'max_buckets' conflicts with an earlier definition"}));
    EXPECT_EQ(errors_of("[daemon]\nsocket_mode = 0660\n"),
              (Lines{"kvd.toml:2:15: invalid number '0660': a TOML integer has no leading zero"}));
}

TEST(ConfigErrors, QuotedKeysArePointedAtByTheirQuote) {
    EXPECT_EQ(errors_of("[daemon]\n\"max buckets\" = 1\n"),
              (Lines{"kvd.toml:2:1: unknown key 'max buckets' in [daemon]; did you mean "
                     "'max_buckets'?"}));
    EXPECT_EQ(errors_of("[bucket]\n  'program'.x = 1\n"),
              (Lines{"kvd.toml:2:3: bucket.program must be a string, not a table"}));
}

TEST(ConfigErrors, SyntaxErrorPositionOnALaterLine) {
    std::string text = "[daemon]\n";
    for (int i = 0; i < 10; ++i) text += "# filler\n";
    text += "log_level = \"info\" extra\n";
    EXPECT_EQ(errors_of(text),
              (Lines{"kvd.toml:12:20: expected end of line after the value, found 'e'"}));
}

TEST(ConfigErrors, EachErrorStaysOneLine) {
    EXPECT_EQ(errors_of("\"bad\\nkey\" = 1\n[[handler]]\nname = \"a\"\ncommand = [\"x\"]\n"
                        "mode = \"a\\tb\"\n"),
              (Lines{"kvd.toml:1:1: unknown key 'bad\\nkey' at the top level",
                     "kvd.toml:5:8: handler.mode must be \"sync\" or \"async\", not \"a\\tb\""}));
}

TEST(ConfigErrors, ErrorsNameTheFileGiven) {
    EXPECT_EQ(errors_of("x = 1\n", "/etc/kvd/kvd.toml"),
              (Lines{"/etc/kvd/kvd.toml:1:1: unknown key 'x' at the top level"}));
}

}  // namespace
}  // namespace kvd
