// daemon/systemd: what the Notifier sends to $NOTIFY_SOCKET and when, how it reads the
// watchdog settings, and that kvd outside systemd takes no activated socket. The test plays
// systemd with a datagram socket of its own; every loop must close without leaked handles.
#include "daemon/systemd.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace kvd::systemd {
namespace {

// A private $NOTIFY_SOCKET for one test; the environment is restored afterwards.
class FakeSystemd {
  public:
    FakeSystemd() {
        char templ[] = "/tmp/kvd-sd-XXXXXX";
        dir_ = mkdtemp(templ);
        path_ = dir_ + "/notify";
        fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
        EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
            << std::strerror(errno);
        setenv("NOTIFY_SOCKET", path_.c_str(), 1);
    }
    ~FakeSystemd() {
        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
        ::close(fd_);
        unlink(path_.c_str());
        rmdir(dir_.c_str());
    }

    // The next datagram, or "" if none is waiting (sd_notify sends synchronously, so
    // anything sent is already here).
    std::string next() {
        char buf[4096];
        ssize_t n = recv(fd_, buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
    }

  private:
    std::string dir_;
    std::string path_;
    int fd_ = -1;
};

class SystemdNotifier : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_EQ(uv_loop_init(&loop_), 0); }
    void TearDown() override {
        uv_run(&loop_, UV_RUN_DEFAULT);
        EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
    }
    uv_loop_t loop_{};
};

TEST_F(SystemdNotifier, ReadyCarriesTheFirstStatusAndOnlyChangesFollow) {
    FakeSystemd systemd;
    std::string status = "0 buckets";
    Notifier notifier(&loop_, [&] { return status; });
    notifier.ready();
    EXPECT_EQ(systemd.next(), "READY=1\nSTATUS=0 buckets");

    notifier.refresh_status();
    EXPECT_EQ(systemd.next(), "") << "an unchanged status was sent again";
    status = "1 buckets";
    notifier.refresh_status();
    EXPECT_EQ(systemd.next(), "STATUS=1 buckets");
    notifier.close();
}

TEST_F(SystemdNotifier, WatchdogIntervalIsHalfOfWatchdogUsecAndTheVariablesAreCleared) {
    FakeSystemd systemd;
    setenv("WATCHDOG_USEC", "5000000", 1);
    setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
    Notifier notifier(&loop_, [] { return std::string("s"); });
    ASSERT_TRUE(notifier.watchdog_interval().has_value());
    EXPECT_EQ(*notifier.watchdog_interval(), Millis(2500));
    // Children spawned later must not believe they are watched.
    EXPECT_EQ(std::getenv("WATCHDOG_USEC"), nullptr);
    EXPECT_EQ(std::getenv("WATCHDOG_PID"), nullptr);

    notifier.ready();
    EXPECT_EQ(systemd.next(), "READY=1\nSTATUS=s");
    EXPECT_EQ(systemd.next(), "WATCHDOG=1") << "the first ping comes with readiness";
    notifier.close();
}

TEST_F(SystemdNotifier, AWatchdogForAnotherProcessIsNotOurs) {
    FakeSystemd systemd;
    setenv("WATCHDOG_USEC", "5000000", 1);
    setenv("WATCHDOG_PID", "1", 1);
    Notifier notifier(&loop_, [] { return std::string("s"); });
    EXPECT_FALSE(notifier.watchdog_interval().has_value());
    notifier.ready();
    EXPECT_EQ(systemd.next(), "READY=1\nSTATUS=s");
    EXPECT_EQ(systemd.next(), "");
    notifier.close();
}

TEST_F(SystemdNotifier, TimersDoNotKeepTheLoopAlive) {
    FakeSystemd systemd;
    setenv("WATCHDOG_USEC", "5000000", 1);
    Notifier notifier(&loop_, [] { return std::string("s"); });
    notifier.ready();
    // Both timers are running but unreferenced: the loop has nothing to wait for.
    EXPECT_EQ(uv_run(&loop_, UV_RUN_NOWAIT), 0);
    notifier.close();
}

TEST(SystemdActivation, WithoutListenFdsNothingIsTaken) {
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_PID");
    Activation activation = take_activated_socket();
    EXPECT_FALSE(activation.socket.has_value());
    EXPECT_FALSE(activation.error.has_value());
}

TEST(SystemdActivation, FdsForAnotherProcessAreNotTaken) {
    setenv("LISTEN_FDS", "1", 1);
    setenv("LISTEN_PID", "1", 1);
    Activation activation = take_activated_socket();
    EXPECT_FALSE(activation.socket.has_value());
    EXPECT_FALSE(activation.error.has_value());
    EXPECT_EQ(std::getenv("LISTEN_FDS"), nullptr) << "the variables are consumed either way";
}

}  // namespace
}  // namespace kvd::systemd
