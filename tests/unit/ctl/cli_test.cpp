// kvctl's command line: help, version, usage errors (exit 2, nothing sent), and whole
// invocations against a scripted kvd.
#include "ctl/cli.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <vector>

#include "common/protocol.hpp"
#include "ctl/exit_status.hpp"
#include "fake_kvd.hpp"
#include "kvctl_run.hpp"

namespace kvd::ctl {
namespace {

using testing::answer;
using testing::FakeKvd;
using testing::kvctl;
using testing::KvctlRun;
using testing::ServerConnection;

TEST(Cli, HelpDescribesEveryCommandTheSocketAndTheExitCodes) {
    KvctlRun r = kvctl({"--help"});
    EXPECT_EQ(r.status, kExitOk);
    for (const char* text : {"ping",
                             "status",
                             "create [--kind K] NAME...",
                             "lookup NAME",
                             "list",
                             "ps",
                             "stop NAME...|--all [--timeout D]",
                             "restart NAME...|--all [--timeout D]",
                             "kill NAME...|--all [--signal SIG]",
                             "logs NAME [-n N] [-f] [--stderr|--stdout]",
                             "$NO_COLOR",
                             "put BUCKET KEY VALUE|-",
                             "get BUCKET KEY",
                             "delete BUCKET KEY",
                             "keys BUCKET",
                             "notify TYPE [JSON] [--sync]",
                             "events [--type T]... [--from SEQ] [--count N] [--sync] [--retry]",
                             "handlers",
                             "reload",
                             "help [COMMAND]",
                             "--socket PATH",
                             "--json",
                             "--timeout DURATION",
                             "$KVD_SOCKET",
                             "/run/kvd/kvd.sock",
                             "$XDG_RUNTIME_DIR/kvd/kvd.sock",
                             "/tmp/kvd-$UID/kvd.sock",
                             "Exit status",
                             "3  kvd could not be reached",
                             "130, 143",
                             "Global options may also follow the command"}) {
        EXPECT_NE(r.out.find(text), std::string::npos) << text;
    }
}

TEST(Cli, CommandHelpDescribesItsArguments) {
    KvctlRun r = kvctl({"events", "--help"});
    EXPECT_EQ(r.status, kExitOk);
    for (const char* text : {"--type T", "--from SEQ", "--count N", "--sync", "--retry",
                             "kvd restarted", "(exit 130)"})
        EXPECT_NE(r.out.find(text), std::string::npos) << text;
    r = kvctl({"put", "--help"});
    EXPECT_NE(r.out.find("Usage: kvctl put [OPTIONS] BUCKET KEY VALUE"), std::string::npos)
        << r.out;
    for (const char* text : {"'-' reads the value from", "1 MiB"})
        EXPECT_NE(r.out.find(text), std::string::npos) << text;
}

TEST(Cli, HelpCommandPrintsTheGeneralOrACommandsHelp) {
    KvctlRun general = kvctl({"help"});
    EXPECT_EQ(general.status, kExitOk);
    EXPECT_EQ(general.out, kvctl({"--help"}).out);
    EXPECT_EQ(general.err, "");

    KvctlRun put = kvctl({"help", "put"});
    EXPECT_EQ(put.status, kExitOk);
    EXPECT_EQ(put.out, kvctl({"put", "--help"}).out);

    KvctlRun unknown = kvctl({"help", "putt"});
    EXPECT_EQ(unknown.status, kExitUsage);
    EXPECT_EQ(unknown.out, "");
    EXPECT_EQ(unknown.err,
              "kvctl: unknown command 'putt'; did you mean 'put'? (see kvctl --help)\n");
}

TEST(Cli, Version) {
    KvctlRun r = kvctl({"--version"});
    EXPECT_EQ(r.status, kExitOk);
    EXPECT_EQ(r.out, std::string("kvctl ") + KVD_VERSION + "\n");
}

TEST(Cli, AnUnknownCommandIsNamed) {
    KvctlRun r = kvctl({"frobnicate"});
    EXPECT_EQ(r.status, kExitUsage);
    EXPECT_EQ(r.err, "kvctl: unknown command 'frobnicate' (see kvctl --help)\n");
}

TEST(Cli, AMistypedCommandGetsTheClosestOne) {
    std::vector<std::pair<std::string, std::string>> cases = {
        {"lsit", "list"},     {"stauts", "status"}, {"evnets", "events"},
        {"craete", "create"}, {"gte", "get"},       {"handler", "handlers"},
        {"relaod", "reload"}, {"nosuch", ""},       {"x", ""},
    };
    for (const auto& [typed, meant] : cases) {
        KvctlRun r = kvctl({typed});
        EXPECT_EQ(r.status, kExitUsage) << typed;
        std::string expected = meant.empty()
                                   ? "kvctl: unknown command '" + typed + "' (see kvctl --help)\n"
                                   : "kvctl: unknown command '" + typed + "'; did you mean '" +
                                         meant + "'? (see kvctl --help)\n";
        EXPECT_EQ(r.err, expected);
    }
}

TEST(Cli, UsageErrorsAreExit2AndSendNothing) {
    // The socket does not exist: reaching for it would be exit 3, not 2.
    testing::TempDir dir;
    std::string socket = dir.file("kvd.sock");
    std::vector<std::vector<std::string>> cases = {
        {},
        {"frobnicate"},
        {"create"},
        {"lookup"},
        {"lookup", "a", "b"},
        {"put", "a", "k"},
        {"kill", "a", "--signal", "SIGNOPE"},
        {"notify", "hello", "{bad"},
        {"notify", "hello", "world"},
        {"stop", "a", "--timeout", "5 parsecs"},
        {"--timeout", "5q", "ping"},
        {"--timeout", "0", "ping"},
        {"--timeout", "25h", "ping"},
        {"ping", "--timeout", "0"},
        {"stop", "a", "--timeout", "25h"},
        {"events", "--count", "0"},
        {"events", "--count", "-1"},
        {"events", "--count", "1.5"},
        {"events", "--count", "18446744073709551616"},
        {"events", "--from", "-1"},
        {"events", "--from", "x"},
        {"events", "--from", "99999999999999999999999"},
        {"notify", "hello", "1e999"},
        {"notify", "hello", std::string(300, '[') + std::string(300, ']')},
        {"put", "a", "k", "\xff"},
        {"put", "a", "\xc3", "v"},
        {"ping", "--nosuch"},
    };
    for (auto args : cases) {
        args.insert(args.begin(), {"--socket", socket});
        KvctlRun r = kvctl(args);
        EXPECT_EQ(r.status, kExitUsage) << ::testing::PrintToString(args);
        EXPECT_FALSE(r.err.empty());
        EXPECT_EQ(r.err.find("cannot connect"), std::string::npos) << r.err;
    }
    KvctlRun r = kvctl({"--socket", socket, "kill", "a", "--signal", "SIGNOPE"});
    EXPECT_EQ(r.err,
              "kvctl: --signal: 'SIGNOPE' is not a signal name or number (see kvctl --help)\n");
}

// Each numeric flag says what it wants, in a line a person reads (no 309-digit bounds).
TEST(Cli, NumericFlagsSayWhatTheyTake) {
    testing::TempDir dir;
    std::string socket = dir.file("kvd.sock");
    std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"events", "--count", "0"},
         "kvctl: --count: '0' is not a count of events: it must be at least 1 (see kvctl "
         "--help)\n"},
        {{"events", "--count", "-1"},
         "kvctl: --count: '-1' is not a count of events (a whole number from 1 up) (see kvctl "
         "--help)\n"},
        {{"events", "--count", "18446744073709551616"},
         "kvctl: --count: '18446744073709551616' is too large for a count of events (see kvctl "
         "--help)\n"},
        {{"events", "--from", "x"},
         "kvctl: --from: 'x' is not a sequence number (a whole number from 0 up) (see kvctl "
         "--help)\n"},
        {{"--timeout", "25h", "ping"},
         "kvctl: --timeout: '25h' is longer than the limit of 24h (see kvctl --help)\n"},
        {{"stop", "a", "--timeout", "90000s"},
         "kvctl: --timeout: '90000s' is longer than the limit of 24h (see kvctl --help)\n"},
    };
    for (auto [args, message] : cases) {
        args.insert(args.begin(), {"--socket", socket});
        KvctlRun r = kvctl(args);
        EXPECT_EQ(r.status, kExitUsage) << ::testing::PrintToString(args);
        EXPECT_EQ(r.err, message);
    }
}

TEST(Cli, JsonKvctlCannotSendIsAUsageErrorNotACrash) {
    testing::TempDir dir;
    KvctlRun r = kvctl({"--socket", dir.file("kvd.sock"), "notify", "hello", "1e999"});
    EXPECT_EQ(r.status, kExitUsage);
    EXPECT_EQ(r.err,
              "kvctl: JSON: not JSON kvctl can send: number overflow parsing '1e999' (a JSON "
              "number must fit in a double) (see kvctl --help)\n");
}

TEST(Cli, UnreachableIsExit3) {
    testing::TempDir dir;
    KvctlRun r = kvctl({"--socket", dir.file("kvd.sock"), "ping"});
    EXPECT_EQ(r.status, kExitUnreachable);
    EXPECT_EQ(r.err, "kvctl: cannot connect to " + dir.file("kvd.sock") +
                         ": no such file (is kvd running?)\n");
}

TEST(Cli, TooLongSocketPathIsExit2) {
    KvctlRun r = kvctl({"--socket", "/tmp/" + std::string(150, 's'), "ping"});
    EXPECT_EQ(r.status, kExitUsage);
    EXPECT_NE(r.err.find("socket path is too long"), std::string::npos) << r.err;
}

// Serves each request line with the next reply, recording the requests.
// Global options work after the command as well as before it; after `stop`, --timeout is
// stop's own.
TEST(Cli, GlobalOptionsAfterTheCommand) {
    struct Case {
        std::vector<std::string> args;  // the socket is added after them
        Json request;
        std::string out;
    };
    std::vector<Case> cases = {
        {{"list", "--json"},
         {{"op", "list"}},
         R"({"buckets":[]})"
         "\n"},
        {{"get", "b", "k"}, {{"op", "get"}, {"bucket", "b"}, {"key", "k"}}, "v\n"},
        {{"get", "b", "k", "--timeout", "5s", "--json"},
         {{"op", "get"}, {"bucket", "b"}, {"key", "k"}},
         R"({"value":"v"})"
         "\n"},
        {{"stop", "b", "--timeout", "2s"},
         {{"op", "stop"}, {"bucket", "b"}, {"timeout_ms", 2000}},
         "stopped b\n"},
    };
    for (const auto& c : cases) {
        std::vector<Json> requests;
        std::string result = c.request["op"] == "list"  ? R"({"buckets":[]})"
                             : c.request["op"] == "get" ? R"({"value":"v"})"
                                                        : "{}";
        FakeKvd kvd(answer({R"({"id":1,"ok":true,"result":)" + result + "}"}, &requests));
        std::vector<std::string> args = c.args;
        args.insert(args.end(), {"--socket", kvd.path()});
        KvctlRun r = kvctl(args);
        EXPECT_EQ(r.status, kExitOk) << ::testing::PrintToString(c.args) << r.err;
        EXPECT_EQ(r.out, c.out) << ::testing::PrintToString(c.args);
        kvd.join();
        ASSERT_EQ(requests.size(), 1u) << ::testing::PrintToString(c.args);
        Json expected = c.request;
        expected["id"] = 1;
        EXPECT_EQ(requests[0], expected);
    }
}

TEST(Cli, KvdSocketEnvironmentIsUsedWithoutFlag) {
    std::vector<Json> requests;
    FakeKvd kvd(answer({R"({"id":1,"ok":true,"result":{"version":"0.1.0","pid":77}})"}, &requests));
    setenv("KVD_SOCKET", kvd.path().c_str(), 1);
    KvctlRun r = kvctl({"ping"});
    unsetenv("KVD_SOCKET");
    EXPECT_EQ(r.status, kExitOk) << r.err;
    EXPECT_EQ(r.out, "kvd 0.1.0 pid 77\n");
}

TEST(Cli, JsonCreateOfSeveralIsAnArray) {
    std::vector<Json> requests;
    FakeKvd kvd([&](ServerConnection& c) {
        for (int i = 0; i < 2; ++i) {
            auto line = c.read_line();
            if (!line) return;
            requests.push_back(Json::parse(*line));
        }
        c.write(R"({"id":1,"ok":true,"result":{"bucket":"a","pid":1,"created":true}})"
                "\n"
                R"({"id":2,"ok":true,"result":{"bucket":"b","pid":2,"created":true}})"
                "\n");
        c.wait_closed();
    });
    KvctlRun r = kvctl({"--socket", kvd.path(), "--json", "create", "a", "b"});
    EXPECT_EQ(r.status, kExitOk) << r.err;
    EXPECT_EQ(Json::parse(r.out), Json::parse(R"([{"bucket":"a","pid":1,"created":true},
                                                   {"bucket":"b","pid":2,"created":true}])"));
}

TEST(Cli, ArgumentsReachTheRequests) {
    struct Case {
        std::vector<std::string> args;
        Json request;
    };
    std::vector<Case> cases = {
        {{"stop", "a", "--timeout", "2s"}, {{"op", "stop"}, {"bucket", "a"}, {"timeout_ms", 2000}}},
        {{"stop", "a"}, {{"op", "stop"}, {"bucket", "a"}}},
        {{"kill", "a"}, {{"op", "kill"}, {"bucket", "a"}, {"signal", "SIGKILL"}}},
        {{"kill", "a", "--signal", "term"},
         {{"op", "kill"}, {"bucket", "a"}, {"signal", "SIGTERM"}}},
        {{"put", "a", "k", "--", "-1"},
         {{"op", "put"}, {"bucket", "a"}, {"key", "k"}, {"value", "-1"}}},
        {{"notify", "hello", R"({"world":true})", "--sync"},
         {{"op", "notify"}, {"type", "hello"}, {"data", {{"world", true}}}, {"sync", true}}},
        {{"notify", "hello"}, {{"op", "notify"}, {"type", "hello"}}},
        {{"events", "--type", "create", "--type", "exit", "--from", "3", "--count", "1"},
         {{"op", "subscribe"}, {"types", {"create", "exit"}}, {"from_seq", 3}}},
        {{"reload"}, {{"op", "reload"}}},
    };
    for (const auto& c : cases) {
        std::vector<Json> requests;
        // One reply fits every case; for events it is the subscribe reply plus one event.
        FakeKvd kvd(answer({R"({"id":1,"ok":true,"result":{}})"
                            "\n"
                            R"({"seq":3,"type":"create","bucket":"a","pid":1,"time":"T"})"},
                           &requests));
        std::vector<std::string> args = {"--socket", kvd.path()};
        args.insert(args.end(), c.args.begin(), c.args.end());
        KvctlRun r = kvctl(args);
        EXPECT_EQ(r.status, kExitOk) << r.err;
        kvd.join();
        ASSERT_EQ(requests.size(), 1u) << ::testing::PrintToString(c.args);
        Json expected = c.request;
        expected["id"] = 1;
        EXPECT_EQ(requests[0], expected) << ::testing::PrintToString(c.args);
    }
}

}  // namespace
}  // namespace kvd::ctl
