// kvd under systemd (README "Install as a service"), with the test playing systemd: a datagram
// socket of its own as $NOTIFY_SOCKET (READY=1, STATUS=, STOPPING=1, WATCHDOG=1), and a listening
// socket passed as fd 3 with $LISTEN_FDS/$LISTEN_PID (socket activation). Also the command line the
// service relies on: --check-config and --version.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <regex>
#include <sstream>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

using Clock = std::chrono::steady_clock;

// A bound AF_UNIX datagram socket, as systemd's notification socket is.
class NotifySocket {
  public:
    explicit NotifySocket(std::string path) : path_(std::move(path)) {
        fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
        if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            ADD_FAILURE() << "cannot bind " << path_ << ": " << std::strerror(errno);
    }
    ~NotifySocket() {
        if (fd_ >= 0) ::close(fd_);
    }
    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;

    const std::string& path() const { return path_; }

    // Reads datagrams until one has a line for which `match` holds; every line read is kept
    // in seen(). Fails after scaled(`timeout`).
    ::testing::AssertionResult wait_for(const std::function<bool(const std::string&)>& match,
                                        milliseconds timeout, std::string_view what) {
        auto deadline = Clock::now() + scaled(timeout);
        for (;;) {
            char buf[4096];
            ssize_t n = recv(fd_, buf, sizeof buf, 0);
            if (n > 0) {
                std::istringstream lines(std::string(buf, static_cast<std::size_t>(n)));
                bool found = false;
                for (std::string line; std::getline(lines, line);) {
                    seen_.push_back(line);
                    found = found || match(line);
                }
                if (found) return ::testing::AssertionSuccess();
                continue;
            }
            auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
            if (left <= 0) break;
            pollfd p{fd_, POLLIN, 0};
            poll(&p, 1, static_cast<int>(left));
        }
        std::string all;
        for (const auto& line : seen_) all += "\n  " + line;
        return ::testing::AssertionFailure()
               << "no notification " << what << " in time; got:" << all;
    }
    ::testing::AssertionResult wait_for_line(const std::string& exact, milliseconds timeout = 10s) {
        return wait_for([&](const std::string& line) { return line == exact; }, timeout, exact);
    }

    const std::vector<std::string>& seen() const { return seen_; }
    int count(const std::string& exact) const {
        return static_cast<int>(std::count(seen_.begin(), seen_.end(), exact));
    }

  private:
    std::string path_;
    int fd_ = -1;
    std::vector<std::string> seen_;
};

// A listening (or, with `type` SOCK_DGRAM, merely bound) Unix socket made by the test, the
// way systemd makes kvd.socket's.
int make_socket(const std::string& path, int type = SOCK_STREAM) {
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        (type == SOCK_STREAM && listen(fd, 16) != 0)) {
        ADD_FAILURE() << "cannot make socket " << path << ": " << std::strerror(errno);
    }
    return fd;
}

// The variables of `pid`'s environment, NAME=value each.
std::vector<std::string> environment_of(pid_t pid) {
    std::string env = read_file("/proc/" + std::to_string(pid) + "/environ");
    std::vector<std::string> vars;
    std::istringstream in(env);
    for (std::string v; std::getline(in, v, '\0');) vars.push_back(v);
    return vars;
}

bool has_variable(const std::vector<std::string>& env, const std::string& name) {
    return std::any_of(env.begin(), env.end(),
                       [&](const std::string& v) { return v.rfind(name + "=", 0) == 0; });
}

// ---- notifications ----------------------------------------------------------------------------

TEST(SystemdNotify, ReadyIsSentOnlyOnceTheSocketAnswers) {
    TempDir dir;
    NotifySocket notify(dir.file("notify.sock"));
    KvdOptions options;
    options.env["NOTIFY_SOCKET"] = notify.path();
    options.wait_ready = false;
    KvdProcess kvd(dir, options);

    ASSERT_TRUE(notify.wait_for_line("READY=1"));
    // The moment READY=1 arrives, a client must be served: systemd starts whatever is
    // ordered after kvd right then.
    Client client(kvd.socket_path());
    ASSERT_TRUE(client.connected()) << client.connect_error();
    Json reply = client.call("ping");
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(reply["result"]["pid"], kvd.pid());
    EXPECT_EQ(notify.count("READY=1"), 1);
}

TEST(SystemdNotify, StatusCarriesTheCounts) {
    TempDir dir;
    NotifySocket notify(dir.file("notify.sock"));
    KvdOptions options;
    options.env["NOTIFY_SOCKET"] = notify.path();
    KvdProcess kvd(dir, options);

    // With READY=1 comes the first STATUS=.
    ASSERT_TRUE(notify.wait_for_line("STATUS=0 buckets, 0 handlers, 0 clients"));
    Client client(kvd.socket_path());
    ASSERT_TRUE(is_ok(client.call("create", {{"bucket", "a"}})));
    ASSERT_TRUE(is_ok(client.call("create", {{"bucket", "b"}})));
    // Refreshed every few seconds while it changes.
    EXPECT_TRUE(notify.wait_for_line("STATUS=2 buckets, 0 handlers, 1 clients"));
}

TEST(SystemdNotify, StoppingIsSentOnSigterm) {
    TempDir dir;
    NotifySocket notify(dir.file("notify.sock"));
    KvdOptions options;
    options.env["NOTIFY_SOCKET"] = notify.path();
    KvdProcess kvd(dir, options);
    ASSERT_TRUE(notify.wait_for_line("READY=1"));

    kvd.signal(SIGTERM);
    EXPECT_TRUE(notify.wait_for_line("STOPPING=1"));
    auto status = kvd.wait_exit(20s);
    ASSERT_TRUE(status.has_value()) << "kvd did not exit after SIGTERM";
    EXPECT_TRUE(status->success()) << status->describe();
}

TEST(SystemdNotify, WatchdogIsPingedAtHalfTheInterval) {
    TempDir dir;
    NotifySocket notify(dir.file("notify.sock"));
    KvdOptions options;
    options.env["NOTIFY_SOCKET"] = notify.path();
    options.env["WATCHDOG_USEC"] = "200000";
    options.env_own_pid = {"WATCHDOG_PID"};
    KvdProcess kvd(dir, options);
    ASSERT_TRUE(notify.wait_for_line("READY=1"));

    // Every 100 ms: five pings take at least 400 ms, and well under the 3 s allowed.
    auto start = Clock::now();
    int pings = 0;
    ASSERT_TRUE(notify.wait_for(
        [&](const std::string& line) { return line == "WATCHDOG=1" && ++pings >= 5; }, 3s,
        "WATCHDOG=1 five times"));
    EXPECT_GE(Clock::now() - start, milliseconds(300));

    // The watchdog is kvd's alone: a bucket does not inherit the variables.
    Client client(kvd.socket_path());
    Json reply = client.call("create", {{"bucket", "b"}});
    ASSERT_TRUE(is_ok(reply));
    auto env = environment_of(pid_in(reply));
    ASSERT_FALSE(env.empty());
    EXPECT_FALSE(has_variable(env, "WATCHDOG_USEC"));
    EXPECT_FALSE(has_variable(env, "WATCHDOG_PID"));
}

TEST(SystemdNotify, NoWatchdogPingsWhenTheWatchdogIsForAnotherProcess) {
    TempDir dir;
    NotifySocket notify(dir.file("notify.sock"));
    KvdOptions options;
    options.env["NOTIFY_SOCKET"] = notify.path();
    options.env["WATCHDOG_USEC"] = "200000";
    options.env["WATCHDOG_PID"] = "1";
    KvdProcess kvd(dir, options);
    ASSERT_TRUE(notify.wait_for_line("READY=1"));
    // The next STATUS= comes a few seconds later: time for many pings, were any due.
    Client client(kvd.socket_path());
    ASSERT_TRUE(is_ok(client.call("create", {{"bucket", "b"}})));
    ASSERT_TRUE(notify.wait_for_line("STATUS=1 buckets, 0 handlers, 1 clients"));
    EXPECT_EQ(notify.count("WATCHDOG=1"), 0);
}

// ---- socket activation ------------------------------------------------------------------------

TEST(SocketActivation, ServesOnThePassedSocketAndLeavesItsFile) {
    TempDir dir;
    std::string path = dir.file("kvd.sock");
    int listener = make_socket(path);
    KvdOptions options;
    options.pass_fds = {listener};
    options.env["LISTEN_FDS"] = "1";
    options.env_own_pid = {"LISTEN_PID"};
    KvdProcess kvd(dir, options);
    ::close(listener);  // kvd holds its own copy now, as it would systemd's

    Client client(path);
    Json reply = client.call("ping");
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(reply["result"]["pid"], kvd.pid());
    EXPECT_NE(kvd.log().find("socket activation"), std::string::npos) << kvd.log();

    // The variables are consumed: a bucket does not see them.
    reply = client.call("create", {{"bucket", "b"}});
    ASSERT_TRUE(is_ok(reply));
    auto env = environment_of(pid_in(reply));
    ASSERT_FALSE(env.empty());
    EXPECT_FALSE(has_variable(env, "LISTEN_FDS"));
    EXPECT_FALSE(has_variable(env, "LISTEN_PID"));
    client.close();

    auto status = kvd.terminate();
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(status->success()) << status->describe();
    // The file is systemd's (kvd.socket): kvd must not remove it.
    EXPECT_TRUE(file_exists(path));
}

TEST(SocketActivation, TwoSocketsAreRefused) {
    TempDir dir;
    int a = make_socket(dir.file("a.sock"));
    int b = make_socket(dir.file("b.sock"));
    KvdOptions options;
    options.pass_fds = {a, b};
    options.env["LISTEN_FDS"] = "2";
    options.env_own_pid = {"LISTEN_PID"};
    options.wait_ready = false;
    KvdProcess kvd(dir, options);
    ::close(a);
    ::close(b);

    auto status = kvd.wait_exit(10s);
    ASSERT_TRUE(status.has_value()) << "kvd kept running with two sockets";
    EXPECT_TRUE(status->exited && status->code == 1) << status->describe();
    EXPECT_NE(kvd.log().find("exactly one"), std::string::npos) << kvd.log();
}

TEST(SocketActivation, ADatagramSocketIsRefused) {
    TempDir dir;
    int dgram = make_socket(dir.file("dgram.sock"), SOCK_DGRAM);
    KvdOptions options;
    options.pass_fds = {dgram};
    options.env["LISTEN_FDS"] = "1";
    options.env_own_pid = {"LISTEN_PID"};
    options.wait_ready = false;
    KvdProcess kvd(dir, options);
    ::close(dgram);

    auto status = kvd.wait_exit(10s);
    ASSERT_TRUE(status.has_value()) << "kvd kept running on a datagram socket";
    EXPECT_TRUE(status->exited && status->code == 1) << status->describe();
    EXPECT_NE(kvd.log().find("not a listening Unix stream socket"), std::string::npos) << kvd.log();
}

TEST(SocketActivation, FdsMeantForAnotherProcessAreIgnored) {
    TempDir dir;
    int listener = make_socket(dir.file("other.sock"));
    KvdOptions options;
    options.pass_fds = {listener};
    options.env["LISTEN_FDS"] = "1";
    options.env["LISTEN_PID"] = "1";  // not kvd: it makes its own socket as usual
    KvdProcess kvd(dir, options);
    ::close(listener);
    ASSERT_TRUE(kvd.ready());
    Client client(kvd.socket_path());
    EXPECT_TRUE(is_ok(client.call("ping")));
}

// ---- the command line the service uses --------------------------------------------------------

TEST(KvdCommandLine, VersionPrintsTheVersion) {
    RunResult r = run_program(kvd_path(), {"--version"});
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(^kvd \d+\.\d+\.\d+)"))) << r;
}

TEST(KvdCommandLine, KvctlVersionPrintsTheVersion) {
    if (!kvctl_built()) GTEST_SKIP() << "kvctl is not built";
    RunResult r = run_program(kvctl_path(), {"--version"});
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(^kvctl \d+\.\d+\.\d+)"))) << r;
}

TEST(KvdCommandLine, CheckConfigAcceptsAValidConfig) {
    TempDir dir;
    std::string config = dir.write_file("kvd.toml", "[daemon]\nsocket_mode = \"0600\"\n");
    RunResult r = run_program(kvd_path(), {"--check-config", "--config", config});
    EXPECT_EQ(r.exit_code, 0) << r;
}

TEST(KvdCommandLine, CheckConfigAcceptsTheExampleConfig) {
    RunResult r = run_program(kvd_path(), {"--check-config", "--config",
                                           std::string(KVD_SOURCE_DIR) + "/config/kvd.toml"});
    EXPECT_EQ(r.exit_code, 0) << r;
}

TEST(KvdCommandLine, CheckConfigReportsEveryErrorWithItsPosition) {
    TempDir dir;
    std::string config = dir.write_file("kvd.toml",
                                        "[daemon]\n"
                                        "socket_mode = \"0660\"\n"
                                        "bogus = 1\n"
                                        "max_buckets = \"many\"\n");
    RunResult r = run_program(kvd_path(), {"--check-config", "--config", config});
    EXPECT_EQ(r.exit_code, 2) << r;
    std::vector<std::string> lines;
    std::istringstream err(r.err);
    for (std::string line; std::getline(err, line);) lines.push_back(line);
    ASSERT_EQ(lines.size(), 2u) << r;
    EXPECT_TRUE(std::regex_match(lines[0], std::regex(config + R"(:3:\d+: .*bogus.*)"))) << r;
    EXPECT_TRUE(std::regex_match(lines[1], std::regex(config + R"(:4:\d+: .*max_buckets.*)"))) << r;
}

TEST(KvdCommandLine, AnInvalidConfigKeepsKvdFromStarting) {
    TempDir dir;
    KvdOptions options;
    options.config = "[daemon]\nbogus = 1\n";
    options.wait_ready = false;
    KvdProcess kvd(dir, options);
    auto status = kvd.wait_exit(10s);
    ASSERT_TRUE(status.has_value()) << "kvd started on an invalid config";
    EXPECT_TRUE(status->exited && status->code == 2) << status->describe();
    EXPECT_FALSE(file_exists(kvd.socket_path()));
    EXPECT_TRUE(std::regex_search(kvd.log(), std::regex(R"(kvd\.toml:2:\d+: )"))) << kvd.log();
}

}  // namespace
}  // namespace kvd::test
