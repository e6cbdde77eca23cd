// `kvctl logs`: the request, the lines printed (bare, set apart on a terminal, or JSON), lost
// lines told on stderr, and following until kvd closes the stream.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <sstream>

#include "ctl/cli.hpp"
#include "ctl/commands.hpp"
#include "ctl/exit_status.hpp"
#include "fake_kvd.hpp"
#include "kvctl_run.hpp"

namespace kvd::ctl {
namespace {

using testing::FakeKvd;
using testing::kvctl;
using testing::KvctlRun;
using testing::ServerConnection;

constexpr const char* kTwoLines =
    R"({"id":1,"ok":true,"result":{"lines":[)"
    R"({"stream":"stdout","line":"listening on :80","time":"2026-11-23T19:40:00.000001Z"},)"
    R"({"stream":"stderr","line":"warning: no cache","time":"2026-11-23T19:40:00.000002Z"}],)"
    R"("dropped":0}})"
    "\n";

// Answers the logs request with `reply`, then writes `then` (the follow stream) and closes.
FakeKvd::Script logs_reply(std::string reply, std::string then, std::optional<Json>* request) {
    return [reply = std::move(reply), then = std::move(then), request](ServerConnection& c) {
        auto line = c.read_line();
        if (!line) return;
        *request = Json::parse(*line);
        c.write(reply);
        c.write(then);
    };
}

TEST(Logs, Request) {
    EXPECT_EQ(make_logs_request("w", {}), (Json{{"op", "logs"}, {"bucket", "w"}}));
    LogsOptions o;
    o.lines = 0;
    o.follow = true;
    o.stream = "stderr";
    EXPECT_EQ(make_logs_request("w", o), (Json{{"op", "logs"},
                                               {"bucket", "w"},
                                               {"lines", 0},
                                               {"follow", true},
                                               {"stream", "stderr"}}));
}

TEST(Logs, OptionsReachTheRequest) {
    struct Case {
        std::vector<std::string> args;
        Json request;
    };
    std::vector<Case> cases = {
        {{"logs", "w"}, {{"op", "logs"}, {"bucket", "w"}}},
        {{"logs", "w", "-n", "5", "--stdout"},
         {{"op", "logs"}, {"bucket", "w"}, {"lines", 5}, {"stream", "stdout"}}},
        {{"logs", "--lines", "0", "--stderr", "w", "-f"},
         {{"op", "logs"}, {"bucket", "w"}, {"lines", 0}, {"follow", true}, {"stream", "stderr"}}},
    };
    for (const auto& c : cases) {
        std::optional<Json> request;
        FakeKvd kvd(logs_reply(kTwoLines, "", &request));
        std::vector<std::string> args = {"--socket", kvd.path()};
        args.insert(args.end(), c.args.begin(), c.args.end());
        KvctlRun r = kvctl(args);
        EXPECT_EQ(r.status, kExitOk) << ::testing::PrintToString(c.args) << r.err;
        kvd.join();
        ASSERT_TRUE(request);
        Json expected = c.request;
        expected["id"] = 1;
        EXPECT_EQ(*request, expected) << ::testing::PrintToString(c.args);
    }
}

TEST(Logs, BadOptionsAreUsageErrors) {
    testing::TempDir dir;
    for (std::vector<std::string> args : {std::vector<std::string>{"logs"},
                                          {"logs", "w", "--stderr", "--stdout"},
                                          {"logs", "w", "-n", "-1"},
                                          {"logs", "w", "-n", "many"}}) {
        args.insert(args.begin(), {"--socket", dir.file("kvd.sock")});
        KvctlRun r = kvctl(args);
        EXPECT_EQ(r.status, kExitUsage) << ::testing::PrintToString(args) << r.err;
        EXPECT_EQ(r.out, "");
    }
}

// Off a terminal the lines come bare, as the program wrote them.
TEST(Logs, PrintsTheLinesBare) {
    std::optional<Json> request;
    FakeKvd kvd(logs_reply(kTwoLines, "", &request));
    KvctlRun r = kvctl({"--socket", kvd.path(), "logs", "w"});
    EXPECT_EQ(r.status, kExitOk) << r.err;
    EXPECT_EQ(r.out, "listening on :80\nwarning: no cache\n");
    EXPECT_EQ(r.err, "");
}

TEST(Logs, OnATerminalStderrLinesAreRedOrPrefixedWithoutColour) {
    {
        std::optional<Json> request;
        FakeKvd kvd(logs_reply(kTwoLines, "", &request));
        KvctlRun r = kvctl({"--socket", kvd.path(), "logs", "w"}, {.stdout_is_terminal = true});
        EXPECT_EQ(r.out, "listening on :80\n\x1b[31mwarning: no cache\x1b[0m\n");
    }
    {
        std::optional<Json> request;
        FakeKvd kvd(logs_reply(kTwoLines, "", &request));
        KvctlRun r = kvctl({"--socket", kvd.path(), "logs", "w"},
                           {.stdout_is_terminal = true, .no_color = "1"});
        EXPECT_EQ(r.out, "listening on :80\nstderr| warning: no cache\n");
    }
}

TEST(Logs, JsonPrintsTheLineObjects) {
    std::optional<Json> request;
    FakeKvd kvd(logs_reply(kTwoLines, "", &request));
    KvctlRun r =
        kvctl({"--socket", kvd.path(), "--json", "logs", "w"}, {.stdout_is_terminal = true});
    EXPECT_EQ(r.status, kExitOk) << r.err;
    std::istringstream lines(r.out);
    std::string first, second, rest;
    ASSERT_TRUE(std::getline(lines, first));
    ASSERT_TRUE(std::getline(lines, second));
    EXPECT_FALSE(std::getline(lines, rest));
    EXPECT_EQ(Json::parse(second), (Json{{"stream", "stderr"},
                                         {"line", "warning: no cache"},
                                         {"time", "2026-11-23T19:40:00.000002Z"}}));
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
}

TEST(Logs, LostLinesAreToldOnStderr) {
    std::optional<Json> request;
    FakeKvd kvd(logs_reply(
        R"({"id":1,"ok":true,"result":{"lines":[{"stream":"stdout","line":"x","time":"T"}],"dropped":250}})"
        "\n",
        "", &request));
    KvctlRun r = kvctl({"--socket", kvd.path(), "logs", "w"});
    EXPECT_EQ(r.status, kExitOk) << r.err;
    EXPECT_EQ(r.out, "x\n");
    EXPECT_EQ(r.err, "kvctl: 250 lines lost\n");
}

// -f: the lines that follow the reply are printed as they come, a follower's own loss is told,
// and kvd closing the stream (the bucket is gone) ends logs with exit 0.
TEST(Logs, FollowPrintsUntilKvdClosesTheStream) {
    std::optional<Json> request;
    FakeKvd kvd(logs_reply(kTwoLines,
                           R"({"stream":"stdout","line":"third","time":"T3"})"
                           "\n"
                           R"({"dropped":7})"
                           "\n"
                           R"({"stream":"stdout","line":"after the gap","time":"T4"})"
                           "\n",
                           &request));
    KvctlRun r = kvctl({"--socket", kvd.path(), "logs", "-f", "w"});
    EXPECT_EQ(r.status, kExitOk) << r.err;
    EXPECT_EQ(r.out, "listening on :80\nwarning: no cache\nthird\nafter the gap\n");
    EXPECT_EQ(r.err, "kvctl: 7 lines lost\n");
}

TEST(Logs, FollowWithJsonKeepsTheLossInTheStream) {
    std::optional<Json> request;
    FakeKvd kvd(logs_reply(R"({"id":1,"ok":true,"result":{"lines":[],"dropped":0}})"
                           "\n",
                           R"({"dropped":7})"
                           "\n"
                           R"({"stream":"stderr","line":"e","time":"T"})"
                           "\n",
                           &request));
    KvctlRun r = kvctl({"--socket", kvd.path(), "--json", "logs", "-f", "w"});
    EXPECT_EQ(r.status, kExitOk) << r.err;
    EXPECT_EQ(r.out, "{\"dropped\":7}\n{\"line\":\"e\",\"stream\":\"stderr\",\"time\":\"T\"}\n");
    EXPECT_EQ(r.err, "kvctl: 7 lines lost\n");
}

TEST(Logs, AnUnknownBucketIsExit1) {
    std::optional<Json> request;
    FakeKvd kvd(logs_reply(
        R"({"id":1,"ok":false,"error":{"code":"not_found","message":"no bucket named 'w'"}})"
        "\n",
        "", &request));
    KvctlRun r = kvctl({"--socket", kvd.path(), "logs", "-f", "w"});
    EXPECT_EQ(r.status, kExitDaemonError);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "kvctl: not_found: no bucket named 'w'\n");
}

// Interrupted while following (the wake fd, as Ctrl-C sets it): 128 + the signal.
TEST(Logs, FollowEndsOnInterrupt) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    FakeKvd kvd([&](ServerConnection& c) {
        if (!c.read_line()) return;
        c.write(kTwoLines);
        char byte = SIGINT;  // the user presses Ctrl-C while kvctl follows
        EXPECT_EQ(write(fds[1], &byte, 1), 1);
        c.wait_closed();
    });
    std::ostringstream out, err;
    Context ctx{.socket_path = kvd.path(), .out = out, .err = err, .wake_fd = fds[0]};
    LogsOptions options;
    options.follow = true;
    EXPECT_EQ(cmd_logs(ctx, "w", options), 128 + SIGINT);
    EXPECT_EQ(err.str(), "");
    kvd.join();
    close(fds[0]);
    close(fds[1]);
}

}  // namespace
}  // namespace kvd::ctl
