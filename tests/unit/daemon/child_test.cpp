// daemon/proc: a Child owns one process from its start to its one exit notice, and the
// ProcessTable reaps every child by its pid. These run real processes (/bin/sh) on the
// test's loop, each wait under a deadline.
#include "daemon/proc/child.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/proc/process_table.hpp"
#include "tests/unit/daemon/event_test_support.hpp"

namespace kvd::testing {
namespace {

using proc::Child;
using proc::Command;
using proc::Exit;
using proc::ProcessTable;
using std::chrono::milliseconds;

constexpr milliseconds kDeadline{10000 * KVD_TEST_TIME_SCALE};

Command shell(std::string script) {
    Command c;
    c.label = "test child";
    c.argv = {"/bin/sh", "-c", std::move(script)};
    return c;
}

// Reads what `fd` gives until end of file (under a deadline); closes it.
std::string read_to_eof(int fd) {
    std::string out;
    char buf[256];
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (std::chrono::steady_clock::now() >= deadline || poll(&p, 1, 100) < 0) break;
        if (!(p.revents & (POLLIN | POLLHUP))) continue;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    close(fd);
    return out;
}

// Reads from `fd` until `text` has arrived (under a deadline); whether it did.
bool read_until(int fd, const std::string& text) {
    std::string got;
    char buf[256];
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (got.find(text) == std::string::npos) {
        pollfd p{fd, POLLIN, 0};
        if (std::chrono::steady_clock::now() >= deadline || poll(&p, 1, 100) < 0) return false;
        if (!(p.revents & (POLLIN | POLLHUP))) continue;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) return false;
        got.append(buf, static_cast<std::size_t>(n));
    }
    return true;
}

class ChildTest : public EventLoopTest {
  protected:
    void SetUp() override {
        EventLoopTest::SetUp();
        table_ = std::make_unique<ProcessTable>(&loop_);
    }
    void TearDown() override {
        table_->close();
        table_.reset();
        EventLoopTest::TearDown();
    }

    // Starts `command` in `child`, recording its exits in `exits_`.
    void start(Child& child, const Command& command) {
        ASSERT_EQ(child.start(command, [this](const Exit& e) { exits_.push_back(e); }), 0);
        ASSERT_GT(child.pid(), 0);
        ASSERT_TRUE(child.running());
    }

    bool wait_exits(std::size_t n) {
        return run_until([&] { return exits_.size() >= n; }, kDeadline);
    }

    std::unique_ptr<ProcessTable> table_;
    std::vector<Exit> exits_;
};

TEST_F(ChildTest, ExitCodeIsNoticedOnce) {
    Child child(*table_);
    start(child, shell("exit 3"));
    ASSERT_TRUE(wait_exits(1));
    EXPECT_EQ(exits_[0].pid, child.pid());
    EXPECT_FALSE(exits_[0].signaled);
    EXPECT_EQ(exits_[0].code, 3);
    EXPECT_FALSE(child.running());
    EXPECT_EQ(table_->size(), 0u);
    // No second notice, however long the loop runs on.
    EXPECT_FALSE(run_until([&] { return exits_.size() > 1; }, milliseconds(50)));
    EXPECT_EQ(child.signal(SIGTERM), UV_ESRCH) << "no signal to a pid that was reaped";
}

TEST_F(ChildTest, StopSendsTheSignalFirst) {
    Child child(*table_);
    start(child, shell("exec sleep 30"));
    child.stop(SIGTERM, milliseconds(60000));
    EXPECT_TRUE(child.stopping());
    ASSERT_TRUE(wait_exits(1));
    EXPECT_TRUE(exits_[0].signaled);
    EXPECT_EQ(exits_[0].signal, SIGTERM);
}

TEST_F(ChildTest, StopWithoutASignalKillsAfterTheGrace) {
    Child child(*table_);
    start(child, shell("exec sleep 30"));
    child.stop(0, milliseconds(20));
    ASSERT_TRUE(wait_exits(1));
    EXPECT_TRUE(exits_[0].signaled);
    EXPECT_EQ(exits_[0].signal, SIGKILL);
}

TEST_F(ChildTest, AShorterStopBringsTheKillForward) {
    Child child(*table_);
    // Ignores SIGTERM: only the SIGKILL ends it.
    start(child, shell("trap '' TERM; echo ready; exec sleep 30"));
    int fd = child.take_stdio();
    ASSERT_TRUE(read_until(fd, "ready\n")) << "the trap is set";
    child.stop(SIGTERM, milliseconds(600000));
    // A second, longer stop changes nothing; a shorter one brings the SIGKILL forward.
    child.stop(SIGTERM, milliseconds(900000));
    EXPECT_FALSE(run_until([&] { return !exits_.empty(); }, milliseconds(50)));
    child.stop(SIGTERM, milliseconds(10));
    ASSERT_TRUE(wait_exits(1));
    EXPECT_TRUE(exits_[0].signaled);
    EXPECT_EQ(exits_[0].signal, SIGKILL);
    close(fd);
}

// The exit is learnt from the process, not from its stdio: a child that closes its socket
// goes on running, and its exit comes when it really exits.
TEST_F(ChildTest, ClosingStdioIsNotAnExit) {
    Child child(*table_);
    start(child, shell("exec 0<&- 1>&-; exec sleep 30"));
    int fd = child.take_stdio();
    ASSERT_GE(fd, 0);
    EXPECT_EQ(child.take_stdio(), -1) << "handed over once";
    EXPECT_EQ(read_to_eof(fd), "");  // its end closed
    EXPECT_FALSE(run_until([&] { return !exits_.empty(); }, milliseconds(100)));
    EXPECT_TRUE(child.running());
    ASSERT_EQ(child.signal(SIGUSR1), 0);
    ASSERT_TRUE(wait_exits(1));
    EXPECT_EQ(exits_[0].signal, SIGUSR1);
}

TEST_F(ChildTest, CapturedStderrIsAPipe) {
    Child child(*table_);
    Command c = shell("echo oops >&2");
    c.capture_stderr = true;
    start(child, c);
    int err = child.take_stderr();
    ASSERT_GE(err, 0);
    EXPECT_EQ(read_to_eof(err), "oops\n");
    ASSERT_TRUE(wait_exits(1));
    EXPECT_EQ(exits_[0].code, 0);
}

TEST_F(ChildTest, AProgramThatCannotStartLeavesNothing) {
    Child child(*table_);
    Command c;
    c.argv = {"/nonexistent/program"};
    EXPECT_EQ(child.start(c, [this](const Exit& e) { exits_.push_back(e); }), UV_ENOENT);
    EXPECT_FALSE(child.running());
    EXPECT_EQ(table_->size(), 0u);
    EXPECT_FALSE(run_until([&] { return !exits_.empty(); }, milliseconds(50)));
}

TEST_F(ChildTest, ADestroyedChildIsKilledAndReaped) {
    pid_t pid = 0;
    {
        Child child(*table_);
        start(child, shell("exec sleep 30"));
        pid = child.pid();
    }
    ASSERT_TRUE(run_until([&] { return table_->size() == 0; }, kDeadline));
    EXPECT_TRUE(exits_.empty()) << "no notice to an owner that is gone";
    EXPECT_EQ(::kill(pid, 0), -1) << "reaped, not a zombie";
}

TEST_F(ChildTest, AChildMayBeStartedAgainAfterItsExit) {
    Child child(*table_);
    start(child, shell("exit 1"));
    ASSERT_TRUE(wait_exits(1));
    pid_t first = child.pid();
    start(child, shell("exit 2"));
    EXPECT_NE(child.pid(), first);
    EXPECT_FALSE(child.stopping());
    ASSERT_TRUE(wait_exits(2));
    EXPECT_EQ(exits_[1].code, 2);
}

// Past the pidfd budget, children are reaped from SIGCHLD, and every exit still comes once.
TEST_F(ChildTest, ChildrenOverThePidfdBudgetAreReapedToo) {
    table_->close();
    table_ = std::make_unique<ProcessTable>(&loop_, 1);
    std::vector<std::unique_ptr<Child>> children;
    for (int i = 0; i < 4; ++i) {
        children.push_back(std::make_unique<Child>(*table_));
        start(*children.back(), shell("read line; exit " + std::to_string(10 + i)));
    }
    EXPECT_EQ(table_->size(), 4u);
    EXPECT_EQ(table_->with_pidfd(), 1u);
    // Each ends when its stdin closes.
    for (auto& c : children) close(c->take_stdio());
    ASSERT_TRUE(wait_exits(4));
    std::vector<int> codes;
    for (const auto& e : exits_) codes.push_back(e.code);
    std::sort(codes.begin(), codes.end());
    EXPECT_EQ(codes, (std::vector<int>{10, 11, 12, 13}));
    EXPECT_EQ(table_->size(), 0u);
    EXPECT_EQ(table_->with_pidfd(), 0u);
}

// An owner's hint (its socket closed) finds a child without a pidfd at its SIGCHLD, and a
// child nobody hinted at is still found there.
TEST_F(ChildTest, AHintFindsAChildWithoutAPidfd) {
    table_->close();
    table_ = std::make_unique<ProcessTable>(&loop_, 0);
    Child hinted(*table_), silent(*table_);
    start(hinted, shell("read line; exit 21"));
    start(silent, shell("read line; exit 22"));
    EXPECT_EQ(table_->with_pidfd(), 0u);
    close(hinted.take_stdio());
    close(silent.take_stdio());
    hinted.hint_exited();  // usually before it is a zombie: kept until its SIGCHLD
    ASSERT_TRUE(wait_exits(2));
    std::vector<int> codes{exits_[0].code, exits_[1].code};
    std::sort(codes.begin(), codes.end());
    EXPECT_EQ(codes, (std::vector<int>{21, 22}));
    EXPECT_EQ(table_->size(), 0u);
}

}  // namespace
}  // namespace kvd::testing
