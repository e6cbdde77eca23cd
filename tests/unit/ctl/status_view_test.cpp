// kvctl's views of bucket state: `ps` and `list` with the fields a newer kvd sends (and
// without them), the human units of their cells, and colour only where it is wanted.
#include <gtest/gtest.h>

#include <sstream>

#include "common/size.hpp"
#include "ctl/cli.hpp"
#include "ctl/commands.hpp"
#include "ctl/exit_status.hpp"
#include "ctl/output.hpp"
#include "fake_kvd.hpp"
#include "kvctl_run.hpp"

namespace kvd::ctl {
namespace {

using std::chrono::system_clock;
using testing::FakeKvd;
using testing::KvctlRun;
using testing::ServerConnection;

system_clock::time_point at(const char* rfc3339) {
    return *parse_rfc3339(rfc3339);
}

TEST(Units, CompactDuration) {
    EXPECT_EQ(compact_duration(-5), "0s");
    EXPECT_EQ(compact_duration(999), "0s");
    EXPECT_EQ(compact_duration(42'900), "42s");
    EXPECT_EQ(compact_duration(192'000), "3m12s");
    EXPECT_EQ(compact_duration(120'500), "2m");
    EXPECT_EQ(compact_duration(3'600'000), "1h");
    EXPECT_EQ(compact_duration(3 * 3'600'000 + 12 * 60'000 + 59'000), "3h12m");
    EXPECT_EQ(compact_duration(2 * 86'400'000LL + 3 * 3'600'000 + 1), "2d3h");
}

TEST(Units, Bytes) {
    EXPECT_EQ(human_bytes(0), "0B");
    EXPECT_EQ(human_bytes(1023), "1023B");
    EXPECT_EQ(human_bytes(1024), "1.0K");
    EXPECT_EQ(human_bytes(12'897'485), "12.3M");
    EXPECT_EQ(human_bytes(123 * kMiB), "123M");
    EXPECT_EQ(human_bytes(1023 * kKiB + 1000), "1.0M");  // not "1024K"
    EXPECT_EQ(human_bytes(3 * kGiB / 2), "1.5G");
}

TEST(Units, Cpu) {
    EXPECT_EQ(human_cpu(0), "0.0s");
    EXPECT_EQ(human_cpu(1234), "1.2s");
    EXPECT_EQ(human_cpu(59'999), "59.9s");
    EXPECT_EQ(human_cpu(192'000), "3m12s");
}

TEST(Units, Rfc3339) {
    auto t = at("2026-11-23T19:40:00.123456Z");
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count() %
                  1'000'000,
              123456);
    EXPECT_EQ(parse_rfc3339("2026-11-23T20:40:00+01:00"), at("2026-11-23T19:40:00Z"));
    EXPECT_EQ(parse_rfc3339("2026-11-23T19:40:00"), std::nullopt);
    EXPECT_EQ(parse_rfc3339("yesterday"), std::nullopt);
    EXPECT_EQ(parse_rfc3339("2026-13-23T19:40:00Z"), std::nullopt);
}

TEST(Units, LastExit) {
    auto now = at("2026-11-23T19:42:00Z");
    EXPECT_EQ(human_last_exit(nullptr, now), "-");
    EXPECT_EQ(human_last_exit({{"code", 1},
                               {"signal", nullptr},
                               {"reason", "exited"},
                               {"time", "2026-11-23T19:40:00Z"}},
                              now),
              "code 1, 2m ago");
    EXPECT_EQ(human_last_exit({{"code", nullptr},
                               {"signal", "SIGKILL"},
                               {"reason", "killed"},
                               {"time", "2026-11-23T19:41:55.5Z"}},
                              now),
              "SIGKILL (killed), 4s ago");
    EXPECT_EQ(human_last_exit({{"code", 0}, {"signal", nullptr}, {"reason", "stopped"}}, now),
              "code 0 (stopped)");
    // A clock kvd and kvctl disagree on is not "-3s ago".
    EXPECT_EQ(human_last_exit({{"code", 2}, {"time", "2026-11-23T19:43:00Z"}}, now),
              "code 2, 0s ago");
}

Json full_list() {
    return {{"buckets",
             {{{"bucket", "web"},
               {"pid", 4242},
               {"started", "2026-11-23T16:30:00Z"},
               {"kind", "worker"},
               {"state", "running"},
               {"restarts", 2},
               {"uptime_ms", 3 * 3'600'000 + 12 * 60'000},
               {"last_exit",
                {{"code", 1},
                 {"signal", nullptr},
                 {"reason", "exited"},
                 {"time", "2026-11-23T19:40:00Z"}}},
               {"rss_bytes", 12'897'485},
               {"cpu_ms", 1234}},
              {{"bucket", "crashy"},
               {"pid", nullptr},
               {"started", nullptr},
               {"kind", "worker"},
               {"state", "backoff"},
               {"restarts", 5},
               {"uptime_ms", nullptr},
               {"last_exit",
                {{"code", nullptr},
                 {"signal", "SIGKILL"},
                 {"reason", "killed"},
                 {"time", "2026-11-23T19:41:55Z"}}},
               {"rss_bytes", nullptr},
               {"cpu_ms", nullptr}}}}};
}

TEST(Ps, IsATableInHumanUnits) {
    EXPECT_EQ(
        human_ps(full_list(), at("2026-11-23T19:42:00Z")),
        "NAME    KIND    STATE    PID   UPTIME  RESTARTS  LAST-EXIT                 RSS    CPU\n"
        "web     worker  running  4242  3h12m   2         code 1, 2m ago            12.3M  1.2s\n"
        "crashy  worker  backoff  -     -       5         SIGKILL (killed), 5s ago  -      -\n");
    EXPECT_EQ(human_ps({{"buckets", Json::array()}}, system_clock::now()), "no buckets\n");
}

// Today's kvd sends bucket, pid and started only: every other column is "-".
TEST(Ps, EntriesWithoutTheNewFieldsShowDashes) {
    Json old = {
        {"buckets", {{{"bucket", "shopping"}, {"pid", 7}, {"started", "2026-11-23T19:40:00Z"}}}}};
    EXPECT_EQ(human_ps(old, system_clock::now()),
              "NAME      KIND  STATE  PID  UPTIME  RESTARTS  LAST-EXIT  RSS  CPU\n"
              "shopping  -     -      7    -       -         -          -    -\n");
    // Odd values from another program are not trusted either.
    Json odd = {{"buckets",
                 {{{"bucket", "x"}, {"uptime_ms", "long"}, {"rss_bytes", -1}, {"last_exit", 3}}}}};
    EXPECT_EQ(human_ps(odd, system_clock::now()),
              "NAME  KIND  STATE  PID  UPTIME  RESTARTS  LAST-EXIT  RSS  CPU\n"
              "x     -     -      -    -       -         -          -    -\n");
    EXPECT_NO_THROW(human_ps(Json::array(), system_clock::now()));
}

TEST(Ps, ColourPaintsTheStateAndKeepsTheColumnsAligned) {
    std::string plain = human_ps(full_list(), at("2026-11-23T19:42:00Z"), false);
    std::string coloured = human_ps(full_list(), at("2026-11-23T19:42:00Z"), true);
    EXPECT_NE(coloured.find("\x1b[32mrunning\x1b[0m  4242"), std::string::npos) << coloured;
    EXPECT_NE(coloured.find("\x1b[31mbackoff\x1b[0m  -"), std::string::npos) << coloured;
    // Without the escapes it is the plain table, to the space.
    std::string stripped;
    for (std::size_t i = 0; i < coloured.size(); ++i) {
        if (coloured[i] == '\x1b') {
            i = coloured.find('m', i);
            continue;
        }
        stripped += coloured[i];
    }
    EXPECT_EQ(stripped, plain);
}

TEST(Colour, StatesAndWhenItIsWanted) {
    EXPECT_EQ(state_colour("running", false), "running");
    EXPECT_EQ(state_colour("running", true), "\x1b[32mrunning\x1b[0m");
    EXPECT_EQ(state_colour("starting", true), "\x1b[33mstarting\x1b[0m");
    EXPECT_EQ(state_colour("stopping", true), "\x1b[33mstopping\x1b[0m");
    EXPECT_EQ(state_colour("restarting", true), "\x1b[33mrestarting\x1b[0m");
    EXPECT_EQ(state_colour("failed", true), "\x1b[31mfailed\x1b[0m");
    EXPECT_EQ(state_colour("stopped", true), "stopped");
    EXPECT_EQ(state_colour("-", true), "-");

    EXPECT_TRUE(colour_wanted(true, nullptr, "xterm-256color"));
    EXPECT_TRUE(colour_wanted(true, "", nullptr));  // NO_COLOR set but empty: colour
    EXPECT_FALSE(colour_wanted(true, "1", "xterm"));
    EXPECT_FALSE(colour_wanted(false, nullptr, "xterm"));
    EXPECT_FALSE(colour_wanted(true, nullptr, "dumb"));
}

TEST(List, ShowsKindAndStateWhenKvdSendsThem) {
    EXPECT_EQ(human_list(full_list()),
              "BUCKET  PID   STARTED               KIND    STATE\n"
              "web     4242  2026-11-23T16:30:00Z  worker  running\n"
              "crashy  -     -                     worker  backoff\n");
}

TEST(Status, ShowsTheProcessTreeModeWhenPresent) {
    std::string s = human_status({{"version", "1"}, {"tree", "cgroup"}});
    EXPECT_NE(s.find("process trees:  cgroup\n"), std::string::npos) << s;
    EXPECT_EQ(human_status({{"version", "1"}}).find("process trees"), std::string::npos);
}

TEST(Restart, Line) {
    EXPECT_EQ(human_restart("w", {{"bucket", "w"}, {"pid", 9}, {"restarts", 3}}),
              "restarted w (pid 9, 3 restarts)\n");
    EXPECT_EQ(human_restart("w", Json::object()), "restarted w\n");
}

// kvctl ARGS against a kvd that answers every request with `result`.
KvctlRun kvctl_answered(std::vector<std::string> args, const Json& result,
                        const OutputEnvironment& output) {
    FakeKvd kvd([result](ServerConnection& c) {
        while (auto line = c.read_line()) {
            Json request = Json::parse(*line);
            c.write(dump_line({{"id", request["id"]}, {"ok", true}, {"result", result}}) + "\n");
        }
    });
    args.insert(args.begin(), {"kvctl", "--socket", kvd.path()});
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    std::ostringstream out, err;
    int status = run(static_cast<int>(argv.size()), argv.data(), out, err, output);
    return {status, out.str(), err.str()};
}

// The whole command line decides: a terminal without NO_COLOR gets colour, in ps, list and
// handlers; NO_COLOR, a pipe, or --json get none.
TEST(Colour, OnlyOnATerminalWithoutNoColorAndNeverWithJson) {
    Json handlers = {{"handlers", {{{"name", "audit"}, {"state", "running"}}}}};
    OutputEnvironment terminal{.stdout_is_terminal = true, .no_color = "", .term = "xterm"};
    OutputEnvironment no_color{.stdout_is_terminal = true, .no_color = "1", .term = "xterm"};
    OutputEnvironment pipe{};
    for (const auto& [command, result] :
         {std::pair{"ps", full_list()}, std::pair{"list", full_list()},
          std::pair{"handlers", handlers}}) {
        KvctlRun r = kvctl_answered({command}, result, terminal);
        EXPECT_EQ(r.status, kExitOk) << r.err;
        EXPECT_NE(r.out.find("\x1b[32mrunning\x1b[0m"), std::string::npos) << command << r.out;
        for (const auto& env : {no_color, pipe}) {
            r = kvctl_answered({command}, result, env);
            EXPECT_EQ(r.status, kExitOk) << r.err;
            EXPECT_NE(r.out.find("running"), std::string::npos) << command;
            EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << command << r.out;
        }
        r = kvctl_answered({"--json", command}, result, terminal);
        EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << command << r.out;
        // --json prints kvd's result unchanged.
        EXPECT_EQ(Json::parse(r.out), result) << command;
    }
}

TEST(Create, KindIsSentOnlyWhenGiven) {
    std::vector<Json> requests;
    FakeKvd kvd([&](ServerConnection& c) {
        while (auto line = c.read_line()) {
            requests.push_back(Json::parse(*line));
            c.write(
                dump_line(
                    {{"id", requests.back()["id"]},
                     {"ok", true},
                     {"result",
                      {{"bucket", requests.back()["bucket"]}, {"pid", 1}, {"created", true}}}}) +
                "\n");
        }
    });
    std::vector<std::string> args = {"kvctl",  "--socket", kvd.path(), "create",
                                     "--kind", "worker",   "w-1",      "w-2"};
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    std::ostringstream out, err;
    EXPECT_EQ(run(static_cast<int>(argv.size()), argv.data(), out, err), kExitOk) << err.str();
    EXPECT_EQ(out.str(), "created w-1 (pid 1)\ncreated w-2 (pid 1)\n");
    kvd.join();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[1],
              (Json{{"id", 2}, {"op", "create"}, {"bucket", "w-2"}, {"kind", "worker"}}));
    EXPECT_EQ(make_create_request("a", std::nullopt), (Json{{"op", "create"}, {"bucket", "a"}}));
}

}  // namespace
}  // namespace kvd::ctl
