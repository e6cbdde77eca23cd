// The harness and the test handler checked on their own, without kvd, so that a failing
// scenario points at kvd and not at the tools that observe it.
#include "tests/e2e/harness.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>

namespace kvd::test {
namespace {

TEST(Harness, TimeScaleIsPositive) {
    EXPECT_GT(time_scale(), 0.0);
    EXPECT_EQ(scaled(0ms), 0ms);
    EXPECT_GE(scaled(100ms), 100ms);
}

TEST(Harness, WaitUntilSucceedsAndNamesWhatTimedOut) {
    int calls = 0;
    EXPECT_TRUE(wait_until([&] { return ++calls >= 3; }, 1s, "three calls"));
    EXPECT_EQ(calls, 3);
    auto r = wait_until([] { return false; }, 20ms, "the impossible");
    EXPECT_FALSE(r);
    EXPECT_NE(std::string(r.message()).find("the impossible"), std::string::npos) << r.message();
}

TEST(Harness, TempDirIsShortAndRemoved) {
    std::string path;
    {
        TempDir dir;
        path = dir.path();
        EXPECT_LT(dir.file("kvd.sock").size(), 107u);
        dir.write_file("a", "hello\nworld\npartial");
        EXPECT_EQ(read_file(dir.file("a")), "hello\nworld\npartial");
        EXPECT_EQ(read_lines(dir.file("a")), (std::vector<std::string>{"hello", "world"}));
        EXPECT_TRUE(file_exists(path));
    }
    EXPECT_FALSE(file_exists(path));
}

TEST(Harness, RunProgramCollectsOutputAndStatus) {
    auto r = run_program(test_handler_path(), {"--stderr", "hello stderr", "ack"}, {}, 10s,
                         "{\"seq\":1}\n{\"seq\":2}\n");
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(r.out, "ok\nok\n") << r;
    EXPECT_EQ(r.err, "hello stderr\n") << r;
    EXPECT_FALSE(r.timed_out);
}

TEST(Harness, RunProgramKillsAtTheDeadline) {
    auto slow = run_program(test_handler_path(), {"slow", "60000"}, {}, 200ms, "{\"seq\":1}\n");
    EXPECT_TRUE(slow.timed_out) << slow;
    EXPECT_EQ(slow.exit_code, -1);
}

TEST(Harness, RunProgramEnvironment) {
    TempDir dir;
    std::string ready = dir.file("ready");
    auto r =
        run_program(test_handler_path(),
                    {"--ready", ready, "--env", "KVD_E2E_SET", "--env", "KVD_E2E_UNSET", "ack"},
                    {{"KVD_E2E_SET", "yes"}, {"KVD_E2E_UNSET", std::nullopt}});
    EXPECT_EQ(r.exit_code, 0) << r;
    auto lines = read_lines(ready);
    ASSERT_EQ(lines.size(), 3u) << read_file(ready);
    EXPECT_EQ(lines[0].rfind("pid=", 0), 0u);
    EXPECT_EQ(lines[1], "KVD_E2E_SET=yes");
    EXPECT_EQ(lines[2], "KVD_E2E_UNSET");
}

TEST(TestHandler, AckJsonEchoesTheSeq) {
    auto r = run_program(test_handler_path(), {"ack-json"}, {}, 10s,
                         "{\"seq\":7,\"type\":\"x\"}\n{\"seq\":8,\"type\":\"y\"}\n");
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(r.out, "{\"ack\":7}\n{\"ack\":8}\n") << r;
}

TEST(TestHandler, ExitAfterAcksNThenFails) {
    TempDir dir;
    auto r = run_program(test_handler_path(), {"--out", dir.file("seen"), "exit-after", "2"}, {},
                         10s, "{\"seq\":1}\n{\"seq\":2}\n{\"seq\":3}\n");
    EXPECT_EQ(r.exit_code, 1) << r;
    EXPECT_EQ(r.out, "ok\nok\n") << r;
    EXPECT_EQ(read_lines(dir.file("seen")),
              (std::vector<std::string>{"{\"seq\":1}", "{\"seq\":2}"}));

    auto at_once = run_program(test_handler_path(), {"exit-after", "0"}, {}, 10s, "{\"seq\":1}\n");
    EXPECT_EQ(at_once.exit_code, 1) << at_once;
    EXPECT_EQ(at_once.out, "") << at_once;
}

TEST(TestHandler, NeverAckRecordsButStaysSilent) {
    TempDir dir;
    auto r = run_program(test_handler_path(), {"--out", dir.file("seen"), "never-ack"}, {}, 10s,
                         "{\"seq\":1}\n{\"seq\":2}\n");
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(read_lines(dir.file("seen")).size(), 2u);
}

TEST(TestHandler, SlowWaitsBeforeEachAck) {
    auto start = std::chrono::steady_clock::now();
    auto r =
        run_program(test_handler_path(), {"slow", "50"}, {}, 10s, "{\"seq\":1}\n{\"seq\":2}\n");
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(r.out, "ok\nok\n");
    EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
}

TEST(TestHandler, GarbageFloodsUntilTheReaderGoesAway) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    // Run it through a socket as kvd does: read some junk, then close our end.
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        dup2(sv[1], 0);
        dup2(sv[1], 1);
        ::signal(SIGPIPE, SIG_DFL);
        execl(test_handler_path().c_str(), "test_handler", "garbage", static_cast<char*>(nullptr));
        _exit(127);
    }
    close(sv[1]);
    std::string got;
    char buf[4096];
    while (got.size() < 100'000) {
        ssize_t n = read(sv[0], buf, sizeof buf);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
    }
    EXPECT_GE(got.size(), 100'000u);
    EXPECT_NE(got.find("not an ack"), std::string::npos);
    close(sv[0]);
    EXPECT_TRUE(wait_until([&] { return !process_alive(pid); }, 5s, "garbage handler to exit"));
    int status = 0;
    waitpid(pid, &status, 0);
}

TEST(Harness, ProcHelpers) {
    EXPECT_TRUE(process_alive(getpid()));
    EXPECT_FALSE(process_alive(0));
    EXPECT_GT(count_open_fds(getpid()), 2);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        pause();
        _exit(0);
    }
    auto children = children_of(getpid());
    EXPECT_NE(std::find(children.begin(), children.end(), pid), children.end());
    EXPECT_TRUE(process_alive(pid));
    kill(pid, SIGKILL);
    // A zombie does not count as alive.
    EXPECT_TRUE(wait_until([&] { return !process_alive(pid); }, 5s, "the child to die"));
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_FALSE(process_alive(pid));
}

TEST(Harness, ClientReportsConnectErrors) {
    TempDir dir;
    Client c(dir.file("nothing.sock"));
    EXPECT_FALSE(c.connected());
    EXPECT_NE(c.connect_error().find("nothing.sock"), std::string::npos);
}

TEST(Harness, ClientLinesAndEof) {
    // A one-connection server in this process: a listening socket we accept from by hand.
    TempDir dir;
    std::string path = dir.file("s.sock");
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(listen(lfd, 4), 0);
    Client c(path);
    ASSERT_TRUE(c.connected()) << c.connect_error();
    int sfd = accept(lfd, nullptr, nullptr);
    ASSERT_GE(sfd, 0);
    EXPECT_TRUE(c.send_line("{\"op\":\"ping\"}"));
    char buf[64];
    ssize_t n = read(sfd, buf, sizeof buf);
    EXPECT_EQ(std::string(buf, static_cast<std::size_t>(std::max<ssize_t>(n, 0))),
              "{\"op\":\"ping\"}\n");
    EXPECT_EQ(c.read_line(20ms), std::nullopt);
    EXPECT_FALSE(c.eof());
    ASSERT_EQ(write(sfd, "one\ntw", 6), 6);
    ASSERT_EQ(write(sfd, "o\n{\"id\":1}\n", 11), 11);
    EXPECT_EQ(c.read_line(), "one");
    EXPECT_EQ(c.read_line(), "two");
    EXPECT_EQ(c.read_json(), Json::parse("{\"id\":1}"));
    close(sfd);
    EXPECT_TRUE(c.wait_eof(5s));
    EXPECT_TRUE(c.eof());
    EXPECT_EQ(c.read_line(), std::nullopt);
    close(lfd);
}

TEST(Harness, ReplyChecks) {
    EXPECT_TRUE(is_ok(Json::parse(R"({"id":1,"ok":true,"result":{}})")));
    EXPECT_FALSE(is_ok(Json::parse(R"({"id":1,"ok":false,"error":{"code":"x","message":"m"}})")));
    EXPECT_FALSE(is_ok(Json()));
    EXPECT_TRUE(is_error(Json::parse(R"({"ok":false,"error":{"code":"not_found","message":"m"}})"),
                         "not_found"));
    EXPECT_FALSE(is_error(Json::parse(R"({"ok":false,"error":{"code":"not_found","message":""}})"),
                          "not_found"));
    EXPECT_FALSE(is_error(Json::parse(R"({"ok":false,"error":{"code":1}})"), "not_found"));
    EXPECT_FALSE(is_error(Json::parse("[]"), "not_found"));
}

}  // namespace
}  // namespace kvd::test
