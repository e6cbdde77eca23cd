// How kvd ends: graceful on SIGTERM/SIGINT, no orphans after SIGKILL, and careful with the
// socket path of a previous or a still running kvd (README "Stopping, timeouts and exit reasons").
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

using Shutdown = KvdTest;

std::vector<pid_t> create_some(Client& c, int n) {
    std::vector<pid_t> pids;
    for (int i = 0; i < n; ++i) {
        Json reply = c.call("create", {{"bucket", "s" + std::to_string(i)}});
        EXPECT_TRUE(is_ok(reply));
        pids.push_back(pid_in(reply));
    }
    return pids;
}

void expect_graceful_exit(KvdProcess& kvd, const std::vector<pid_t>& buckets,
                          const std::optional<ExitStatus>& status) {
    ASSERT_TRUE(status.has_value()) << "kvd did not exit in time";
    EXPECT_TRUE(status->success()) << status->describe();
    for (pid_t pid : buckets)
        EXPECT_FALSE(process_alive(pid)) << "bucket " << pid << " outlived kvd";
    EXPECT_FALSE(file_exists(kvd.socket_path())) << "socket file left behind";
}

TEST_F(Shutdown, SigtermStopsBucketsRemovesSocketAndExitsZero) {
    auto pids = create_some(client(), 5);
    auto status = kvd().terminate(20s);
    expect_graceful_exit(kvd(), pids, status);
}

TEST_F(Shutdown, SigintIsGracefulToo) {
    auto pids = create_some(client(), 3);
    kvd().signal(SIGINT);
    expect_graceful_exit(kvd(), pids, kvd().wait_exit(20s));
}

TEST_F(Shutdown, ConnectedClientsSeeEndOfFile) {
    auto pids = create_some(client(), 1);
    auto idle = connect();
    ASSERT_TRUE(idle->connected());
    kvd().signal(SIGTERM);
    EXPECT_TRUE(idle->wait_eof(20s)) << "an idle client was not disconnected";
    EXPECT_TRUE(client().wait_eof(20s));
    expect_graceful_exit(kvd(), pids, kvd().wait_exit(20s));
}

TEST_F(Shutdown, IdleDaemonExitsZero) {
    auto status = kvd().terminate(20s);
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(status->success()) << status->describe();
    EXPECT_FALSE(file_exists(kvd().socket_path()));
}

class ShutdownWithShortStopTimeout : public KvdTest {
  protected:
    KvdOptions options() override {
        KvdOptions o;
        o.config = "[bucket]\nstop_timeout = \"300ms\"\n";
        return o;
    }
};

TEST_F(ShutdownWithShortStopTimeout, ABucketIgnoringSigtermIsKilledAfterStopTimeout) {
    Json reply = call("create", {{"bucket", "stubborn"}});
    ASSERT_TRUE(is_ok(reply));
    pid_t stubborn = pid_in(reply);
    auto others = create_some(client(), 2);
    // Answering a request proves kv-bucket's SIGTERM handler is in place; SIGSTOP then keeps
    // that handler from running, so only the SIGKILL after stop_timeout ends the process.
    ASSERT_TRUE(is_ok(call("keys", {{"bucket", "stubborn"}})));
    ASSERT_TRUE(freeze(stubborn));
    auto start = std::chrono::steady_clock::now();
    auto status = kvd().terminate(20s);
    auto elapsed = std::chrono::steady_clock::now() - start;
    others.push_back(stubborn);
    expect_graceful_exit(kvd(), others, status);
    EXPECT_GE(elapsed, 250ms) << "kvd cannot have waited for stop_timeout";
}

// Shutdown keeps its contract for a bucket whose own `stop` allowed it far longer: SIGTERM,
// then SIGKILL after stop_timeout. The bucket program here ignores SIGTERM and does not
// watch kvd, so only kvd's SIGKILL ends it.
TEST(ShutdownStopInProgress, ALongerStopDoesNotOutlastShutdown) {
    TempDir dir;
    const std::string ready = dir.file("ready");
    std::string program = dir.write_file(
        "stubborn.sh", "#!/bin/sh\ntrap '' TERM\n: > " + ready + "\nexec sleep 600\n");
    ASSERT_EQ(::chmod(program.c_str(), 0755), 0);
    KvdOptions options;
    options.config = "[bucket]\nstop_timeout = \"300ms\"\nprogram = \"" + program + "\"\n";
    KvdProcess kvd(dir, options);
    ASSERT_TRUE(kvd.ready());
    Client c(kvd.socket_path());
    Json created = c.call("create", {{"bucket", "stubborn"}});
    ASSERT_TRUE(is_ok(created));
    pid_t pid = pid_in(created);
    ASSERT_TRUE(
        wait_until([&] { return file_exists(ready); }, 10s, "the bucket to ignore SIGTERM"));
    // An hour before SIGKILL: this stop is still in progress when kvd is asked to stop.
    Client stopper(kvd.socket_path());
    ASSERT_TRUE(stopper.send_json(
        {{"id", 1}, {"op", "stop"}, {"bucket", "stubborn"}, {"timeout_ms", 3600000}}));
    ASSERT_TRUE(
        wait_until([&] { return kvd.log().find("stopping bucket stubborn") != std::string::npos; },
                   10s, "kvd to take the stop"));
    auto status = kvd.terminate(30s);
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(status->success()) << status->describe();
    EXPECT_TRUE(wait_until([&] { return !process_alive(pid); }, 5s, "the bucket to be gone"));
    EXPECT_EQ(kvd.log().find("shutdown deadline passed"), std::string::npos) << kvd.log();
    EXPECT_NE(kvd.log().find("sending SIGKILL"), std::string::npos) << kvd.log();
}

TEST_F(Shutdown, SigkillOfKvdLeavesNoBucketBehind) {
    auto pids = create_some(client(), 10);
    for (pid_t pid : pids) ASSERT_TRUE(process_alive(pid));
    kvd().kill9();
    // README "Stopping, timeouts and exit reasons": every bucket process ends within a second.
    EXPECT_TRUE(wait_until(
        [&] {
            for (pid_t pid : pids)
                if (process_alive(pid)) return false;
            return true;
        },
        1s, "every bucket to end after kvd was SIGKILLed"));
}

TEST_F(Shutdown, StaleSocketFileIsReplaced) {
    // A kvd killed with SIGKILL leaves its socket file; the next kvd must start anyway.
    create_some(client(), 1);
    kvd().kill9();
    ASSERT_TRUE(file_exists(kvd().socket_path())) << "expected the stale socket to remain";
    KvdProcess second(dir_);
    ASSERT_TRUE(second.ready());
    Client c(second.socket_path());
    Json ping = c.call("ping");
    ASSERT_TRUE(is_ok(ping));
    EXPECT_EQ(pid_in(ping), second.pid());
    EXPECT_TRUE(is_ok(c.call("list")));
    EXPECT_EQ(c.call("list")["result"]["buckets"], Json::array()) << "a fresh daemon starts empty";
}

TEST_F(Shutdown, ASecondKvdDoesNotStealALiveSocket) {
    KvdOptions o;
    o.wait_ready = false;
    KvdProcess second(dir_, o);
    auto status = second.wait_exit(10s);
    ASSERT_TRUE(status.has_value()) << "a second kvd on a live socket kept running";
    EXPECT_FALSE(status->success()) << status->describe();
    // The first kvd still owns the path.
    Json ping = connect()->call("ping");
    ASSERT_TRUE(is_ok(ping));
    EXPECT_EQ(pid_in(ping), kvd().pid());
    EXPECT_TRUE(file_exists(kvd().socket_path()));
}

TEST(ShutdownStartup, SocketPathTooLongIsRefused) {
    TempDir dir;
    KvdOptions o;
    o.pass_socket = false;
    o.wait_ready = false;
    o.args = {"--socket", dir.path() + "/" + std::string(120, 's') + ".sock"};
    KvdProcess kvd(dir, o);
    auto status = kvd.wait_exit(10s);
    ASSERT_TRUE(status.has_value()) << "kvd started on a path that cannot be a socket";
    EXPECT_FALSE(status->success());
    EXPECT_FALSE(kvd.log().empty()) << "kvd said nothing about why it did not start";
}

}  // namespace
}  // namespace kvd::test
