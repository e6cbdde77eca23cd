// stop, kill and restart of several buckets: names, glob patterns and --all expanded against
// kvd's list, the requests pipelined on one connection, and the exit status and output for
// each mix of outcomes.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <sstream>

#include "ctl/cli.hpp"
#include "ctl/commands.hpp"
#include "ctl/exit_status.hpp"
#include "fake_kvd.hpp"
#include "kvctl_run.hpp"

namespace kvd::ctl {
namespace {

using testing::Captured;
using testing::FakeKvd;
using testing::FakeRegistry;
using testing::kvctl;
using testing::KvctlRun;

Json entry(const std::string& name, int pid) {
    return {{"bucket", name}, {"pid", pid}, {"started", "2026-11-23T19:40:00Z"}};
}

// worker-1, worker-2, worker-10 and db, as an older kvd lists them (no state fields).
std::vector<Json> four_buckets() {
    return {entry("worker-2", 12), entry("db", 5), entry("worker-10", 20), entry("worker-1", 11)};
}

// The (op, bucket) of each request, in the order kvd got them.
std::vector<std::string> ops(const std::vector<Json>& requests) {
    std::vector<std::string> out;
    for (const auto& r : requests)
        out.push_back(r.value("op", "") +
                      (r.contains("bucket") ? " " + r.value("bucket", "") : ""));
    return out;
}

TEST(Targets, PatternsAreWordsWithGlobCharacters) {
    EXPECT_FALSE(is_pattern("worker-1"));
    EXPECT_FALSE(is_pattern("a.b:c_d"));
    EXPECT_TRUE(is_pattern("worker-*"));
    EXPECT_TRUE(is_pattern("w?"));
    EXPECT_TRUE(is_pattern("[ab]"));
    EXPECT_FALSE(needs_listing({.words = {"a", "b"}}));
    EXPECT_TRUE(needs_listing({.words = {"a", "b*"}}));
    EXPECT_TRUE(needs_listing({.all = true}));
}

TEST(Targets, ExpansionKeepsTheOrderGivenSortsMatchesAndDropsRepeats) {
    std::vector<std::string> listed = {"worker-2", "db", "worker-10", "worker-1"};
    Expansion e = expand_targets({.words = {"db", "worker-*", "worker-1", "nope", "x*"}}, listed);
    EXPECT_EQ(e.buckets,
              (std::vector<std::string>{"db", "worker-1", "worker-10", "worker-2", "nope"}));
    EXPECT_EQ(e.unmatched, (std::vector<std::string>{"x*"}));

    e = expand_targets({.words = {"worker-?", "[d]*"}}, listed);
    EXPECT_EQ(e.buckets, (std::vector<std::string>{"worker-1", "worker-2", "db"}));
    EXPECT_TRUE(e.unmatched.empty());

    e = expand_targets({.all = true}, listed);
    EXPECT_EQ(e.buckets, (std::vector<std::string>{"db", "worker-1", "worker-10", "worker-2"}));
    EXPECT_TRUE(expand_targets({.all = true}, {}).buckets.empty());
}

// Both stops are sent before either reply: the fake answers only once it has both.
TEST(Targets, SeveralNamesArePipelinedOnOneConnection) {
    FakeRegistry registry(four_buckets(), /*batch=*/2);
    FakeKvd kvd(registry.script());
    Captured run(kvd.path());
    EXPECT_EQ(cmd_stop(run.ctx, {.words = {"worker-1", "db"}}, Millis(1500)), kExitOk);
    EXPECT_EQ(run.out.str(), "stopped worker-1 (pid 11)\nstopped db (pid 5)\n");
    EXPECT_EQ(run.err.str(), "");
    kvd.join();
    EXPECT_EQ(ops(registry.requests), (std::vector<std::string>{"stop worker-1", "stop db"}));
    EXPECT_EQ(registry.requests[1]["timeout_ms"], 1500);
}

TEST(Targets, AGlobIsExpandedAgainstListFirst) {
    FakeRegistry registry(four_buckets(), /*batch=*/3);
    FakeKvd kvd(registry.script());
    Captured run(kvd.path());
    EXPECT_EQ(cmd_kill(run.ctx, {.words = {"worker-*"}}, "SIGTERM"), kExitOk);
    EXPECT_EQ(run.out.str(),
              "sent SIGTERM to worker-1 (pid 11)\n"
              "sent SIGTERM to worker-10 (pid 20)\n"
              "sent SIGTERM to worker-2 (pid 12)\n");
    kvd.join();
    EXPECT_EQ(
        ops(registry.requests),
        (std::vector<std::string>{"list", "kill worker-1", "kill worker-10", "kill worker-2"}));
    EXPECT_EQ(registry.requests[1]["signal"], "SIGTERM");
}

TEST(Targets, AllActsOnEveryBucket) {
    FakeRegistry registry(four_buckets(), /*batch=*/4);
    FakeKvd kvd(registry.script());
    Captured run(kvd.path());
    EXPECT_EQ(cmd_restart(run.ctx, {.all = true}, std::nullopt), kExitOk);
    EXPECT_EQ(run.out.str(),
              "restarted db (pid 5, 1 restart)\n"
              "restarted worker-1 (pid 11, 1 restart)\n"
              "restarted worker-10 (pid 20, 1 restart)\n"
              "restarted worker-2 (pid 12, 1 restart)\n");
    kvd.join();
    ASSERT_EQ(registry.requests.size(), 5u);
    EXPECT_EQ(registry.requests[1], (Json{{"id", 2}, {"op", "restart"}, {"bucket", "db"}}));
}

TEST(Targets, AllWithNoBucketsDoesNothingAndSucceeds) {
    FakeRegistry registry({});
    FakeKvd kvd(registry.script());
    Captured run(kvd.path());
    EXPECT_EQ(cmd_stop(run.ctx, {.all = true}, std::nullopt), kExitOk);
    EXPECT_EQ(run.out.str(), "no buckets\n");
    kvd.join();
    EXPECT_EQ(ops(registry.requests), (std::vector<std::string>{"list"}));
}

// The others are still acted on; each failure is one line naming its bucket; exit 1.
TEST(Targets, AFailureOrAnUnmatchedPatternIsExit1WithOneLineEach) {
    FakeRegistry registry(four_buckets(), /*batch=*/3);
    FakeKvd kvd(registry.script());
    Captured run(kvd.path());
    EXPECT_EQ(cmd_stop(run.ctx, {.words = {"db", "gone", "cache-*", "worker-1?"}}, std::nullopt),
              kExitDaemonError);
    EXPECT_EQ(run.out.str(), "stopped db (pid 5)\nstopped worker-10 (pid 20)\n");
    EXPECT_EQ(run.err.str(),
              "kvctl: no bucket matches 'cache-*'\n"
              "kvctl: cannot stop gone: not_found: no bucket named 'gone'\n");
    kvd.join();
    EXPECT_EQ(ops(registry.requests),
              (std::vector<std::string>{"list", "stop db", "stop gone", "stop worker-10"}));
}

TEST(Targets, JsonIsOneArrayOfPerBucketOutcomes) {
    FakeRegistry registry(four_buckets(), /*batch=*/2);
    FakeKvd kvd(registry.script());
    Captured run(kvd.path(), /*json=*/true);
    EXPECT_EQ(cmd_kill(run.ctx, {.words = {"db", "gone", "x*"}}, "SIGKILL"), kExitDaemonError);
    EXPECT_EQ(Json::parse(run.out.str()), Json::parse(R"([
        {"pattern":"x*","ok":false,
         "error":{"code":"not_found","message":"no bucket matches 'x*'"}},
        {"bucket":"db","ok":true,"result":{"bucket":"db","pid":5,"signal":"SIGKILL"}},
        {"bucket":"gone","ok":false,
         "error":{"code":"not_found","message":"no bucket named 'gone'"}}])"));
    EXPECT_EQ(run.out.str().find('\n'), run.out.str().size() - 1) << "one JSON document";
}

TEST(Targets, JsonOfAGlobIsAnArrayEvenForOneMatch) {
    FakeRegistry registry(four_buckets());
    FakeKvd kvd(registry.script());
    Captured run(kvd.path(), /*json=*/true);
    EXPECT_EQ(cmd_stop(run.ctx, {.words = {"d*"}}, std::nullopt), kExitOk);
    EXPECT_EQ(Json::parse(run.out.str()),
              Json::parse(R"([{"bucket":"db","ok":true,"result":{"bucket":"db","pid":5}}])"));
}

// One name given plainly prints exactly as before several names were possible.
TEST(Targets, OnePlainNameKeepsItsFormerOutput) {
    {
        FakeRegistry registry(four_buckets());
        FakeKvd kvd(registry.script());
        Captured run(kvd.path());
        EXPECT_EQ(cmd_stop(run.ctx, {.words = {"gone"}}, std::nullopt), kExitDaemonError);
        EXPECT_EQ(run.out.str(), "");
        EXPECT_EQ(run.err.str(), "kvctl: not_found: no bucket named 'gone'\n");
        kvd.join();
        EXPECT_EQ(ops(registry.requests), (std::vector<std::string>{"stop gone"}));
    }
    {
        FakeRegistry registry(four_buckets());
        FakeKvd kvd(registry.script());
        Captured run(kvd.path(), /*json=*/true);
        EXPECT_EQ(cmd_stop(run.ctx, {.words = {"db"}}, std::nullopt), kExitOk);
        EXPECT_EQ(Json::parse(run.out.str()), (Json{{"bucket", "db"}, {"pid", 5}}));
    }
}

TEST(Targets, UnreachableKvdIsExit3) {
    testing::TempDir dir;
    Captured run(dir.file("kvd.sock"));
    EXPECT_EQ(cmd_stop(run.ctx, {.words = {"a", "b"}}, std::nullopt), kExitUnreachable);
    EXPECT_EQ(run.out.str(), "");
    EXPECT_NE(run.err.str().find("cannot connect"), std::string::npos) << run.err.str();
}

// kvd answers the first stop and goes away: what was done is printed, then exit 3.
TEST(Targets, KvdLostHalfWayIsExit3AfterWhatWasDone) {
    FakeKvd kvd([](testing::ServerConnection& c) {
        for (int i = 0; i < 2; ++i)
            if (!c.read_line()) return;
        c.write(R"({"id":1,"ok":true,"result":{"bucket":"a","pid":1}})"
                "\n");
    });
    Captured run(kvd.path(), /*json=*/true);
    EXPECT_EQ(cmd_stop(run.ctx, {.words = {"a", "b"}}, std::nullopt), kExitUnreachable);
    EXPECT_EQ(Json::parse(run.out.str()),
              Json::parse(R"([{"bucket":"a","ok":true,"result":{"bucket":"a","pid":1}}])"));
    EXPECT_NE(run.err.str().find("closed the connection"), std::string::npos) << run.err.str();
}

// A `list` kvd refuses ends the command before anything is acted on.
TEST(Targets, AListErrorIsReported) {
    std::vector<std::string> seen;
    FakeKvd kvd([&](testing::ServerConnection& c) {
        auto line = c.read_line();
        if (!line) return;
        seen.push_back(*line);
        c.write(R"({"id":1,"ok":false,"error":{"code":"unavailable","message":"shutting down"}})"
                "\n");
        c.wait_closed();
    });
    Captured run(kvd.path());
    EXPECT_EQ(cmd_stop(run.ctx, {.all = true}, std::nullopt), kExitDaemonError);
    EXPECT_EQ(run.err.str(), "kvctl: unavailable: shutting down\n");
    kvd.join();
    EXPECT_EQ(seen.size(), 1u);
}

// Usage errors are exit 2 and nothing is sent: the socket does not even exist.
TEST(TargetsCli, NoNameOrBothNamesAndAllIsAUsageError) {
    testing::TempDir dir;
    std::string socket = dir.file("kvd.sock");
    for (const char* verb : {"stop", "kill", "restart"}) {
        KvctlRun none = kvctl({"--socket", socket, verb});
        EXPECT_EQ(none.status, kExitUsage) << verb;
        EXPECT_EQ(none.err, fmt::format("kvctl: {}: name the buckets, or give --all (see kvctl "
                                        "{} --help)\n",
                                        verb, verb));
        KvctlRun both = kvctl({"--socket", socket, verb, "a", "--all"});
        EXPECT_EQ(both.status, kExitUsage) << verb;
        EXPECT_EQ(both.err, fmt::format("kvctl: {}: give bucket names or --all, not both (see "
                                        "kvctl {} --help)\n",
                                        verb, verb));
    }
}

TEST(TargetsCli, ArgumentsReachTheRequests) {
    FakeRegistry registry(four_buckets(), /*batch=*/2);
    FakeKvd kvd(registry.script());
    KvctlRun r = kvctl({"--socket", kvd.path(), "restart", "worker-1", "gone", "--timeout", "3s"});
    EXPECT_EQ(r.status, kExitDaemonError) << r.err;
    EXPECT_EQ(r.out, "restarted worker-1 (pid 11, 1 restart)\n");
    EXPECT_EQ(r.err, "kvctl: cannot restart gone: not_found: no bucket named 'gone'\n");
    kvd.join();
    ASSERT_EQ(registry.requests.size(), 2u);
    EXPECT_EQ(registry.requests[0],
              (Json{{"id", 1}, {"op", "restart"}, {"bucket", "worker-1"}, {"timeout_ms", 3000}}));
}

TEST(TargetsCli, KillAllWithASignal) {
    FakeRegistry registry({entry("a", 1), entry("b", 2)}, /*batch=*/2);
    FakeKvd kvd(registry.script());
    KvctlRun r = kvctl({"--socket", kvd.path(), "kill", "--all", "--signal", "hup"});
    EXPECT_EQ(r.status, kExitOk) << r.err;
    EXPECT_EQ(r.out, "sent SIGHUP to a (pid 1)\nsent SIGHUP to b (pid 2)\n");
    kvd.join();
    EXPECT_EQ(ops(registry.requests), (std::vector<std::string>{"list", "kill a", "kill b"}));
    EXPECT_EQ(registry.requests[2]["signal"], "SIGHUP");
}

}  // namespace
}  // namespace kvd::ctl
