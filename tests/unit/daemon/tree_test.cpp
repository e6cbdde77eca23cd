// daemon/proc: what a Command asks of a child (working directory, user, stdio layout,
// parent-death signal, limits) and the rule that a child's tree ends with its main process,
// in cgroup mode and in process-group mode. Real processes (/bin/sh), each wait under a
// deadline. Each case runs with the spawner and with kvd starting the child itself.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/proc/child.hpp"
#include "daemon/proc/process_table.hpp"
#include "tests/unit/daemon/event_test_support.hpp"

namespace kvd::testing {
namespace {

using proc::Child;
using proc::Command;
using proc::Exit;
using proc::ProcessTable;
using proc::Stdio;
using std::chrono::milliseconds;

constexpr milliseconds kDeadline{10000 * KVD_TEST_TIME_SCALE};

Command shell(std::string script) {
    Command c;
    c.label = "tree test";
    c.argv = {"/bin/sh", "-c", std::move(script)};
    c.stdin_mode = Stdio::null;
    c.stdout_mode = Stdio::pipe_out;
    return c;
}

// Reads `fd` until end of file (under a deadline); closes it.
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

// Reads one line from `fd` (under a deadline): what a script printed, such as a pid.
std::string read_line(int fd) {
    std::string got;
    char c;
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        if (read(fd, &c, 1) != 1) break;
        if (c == '\n') return got;
        got.push_back(c);
    }
    return got;
}

// Gone: no such process, or a zombie nobody has reaped yet (an orphan's, reaped by init).
bool gone(pid_t pid) {
    if (::kill(pid, 0) != 0) return errno == ESRCH;
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto paren = stat.rfind(')');
    return paren != std::string::npos && paren + 2 < stat.size() &&
           (stat[paren + 2] == 'Z' || stat[paren + 2] == 'X');
}

bool wait_gone(pid_t pid) {
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (!gone(pid)) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        usleep(2000);
    }
    return true;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Sets (or unsets, with null) an environment variable for the test's duration.
class ScopedEnv {
  public:
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value)
            setenv(name, value, 1);
        else
            unsetenv(name);
    }
    ~ScopedEnv() {
        if (old_)
            setenv(name_, old_->c_str(), 1);
        else
            unsetenv(name_);
    }

  private:
    const char* name_;
    std::optional<std::string> old_;
};

enum class Mode { cgroup, process_group };

class TreeTest : public EventLoopTest, public ::testing::WithParamInterface<bool> {
  protected:
    void SetUp() override { EventLoopTest::SetUp(); }
    void TearDown() override {
        if (table_) table_->close();
        table_.reset();
        EventLoopTest::TearDown();
    }

    // A table in `mode` (nullopt: whatever this machine gives), with the spawner when the
    // test's parameter says so.
    void make_table(std::optional<Mode> mode = std::nullopt) {
        ScopedEnv env("KVD_CGROUP", mode == Mode::process_group ? "off" : nullptr);
        table_ = std::make_unique<ProcessTable>(&loop_);
        if (GetParam()) table_->start_spawner();
    }

    bool cgroup_mode() const { return table_->tree_mode() == "cgroup"; }

    void start(Child& child, const Command& command) {
        ASSERT_EQ(child.start(command, [this](const Exit& e) { exits_.push_back(e); }), 0);
        ASSERT_GT(child.pid(), 0);
    }

    bool wait_exits(std::size_t n) {
        return run_until([&] { return exits_.size() >= n; }, kDeadline);
    }

    std::unique_ptr<ProcessTable> table_;
    std::vector<Exit> exits_;
};

TEST_P(TreeTest, TheWorkingDirectoryIsTheCommands) {
    make_table();
    char dir[] = "/tmp/kvd-cwd-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    Child child(*table_);
    Command c = shell("pwd");
    c.cwd = dir;
    start(child, c);
    EXPECT_EQ(read_to_eof(child.take_stdout()), std::string(dir) + "\n");
    ASSERT_TRUE(wait_exits(1));
    EXPECT_EQ(exits_[0].code, 0);
    rmdir(dir);
}

TEST_P(TreeTest, AMissingWorkingDirectoryFailsTheStart) {
    make_table();
    Child child(*table_);
    Command c = shell("pwd");
    c.cwd = "/nonexistent/dir";
    EXPECT_EQ(child.start(c, [this](const Exit& e) { exits_.push_back(e); }), UV_ENOENT);
    EXPECT_FALSE(child.running());
    EXPECT_EQ(table_->size(), 0u);
}

TEST_P(TreeTest, StdinFromDevNullStdoutToAPipe) {
    make_table();
    Child child(*table_);
    Command c = shell("cat; echo done");  // cat ends at once: /dev/null is empty
    start(child, c);
    EXPECT_EQ(child.take_stdio(), -1) << "no socket pair when neither is the socket";
    EXPECT_EQ(read_to_eof(child.take_stdout()), "done\n");
    EXPECT_EQ(child.take_stdout(), -1) << "handed over once";
    ASSERT_TRUE(wait_exits(1));
    EXPECT_EQ(exits_[0].code, 0);
}

TEST_P(TreeTest, StdinOnTheSocketStdoutToAPipe) {
    make_table();
    Child child(*table_);
    Command c = shell("read line; echo got $line");
    c.stdin_mode = Stdio::socket;
    start(child, c);
    int sock = child.take_stdio();
    ASSERT_GE(sock, 0);
    ASSERT_EQ(write(sock, "hello\n", 6), 6);
    EXPECT_EQ(read_to_eof(child.take_stdout()), "got hello\n");
    close(sock);
    ASSERT_TRUE(wait_exits(1));
}

TEST_P(TreeTest, RunsAsTheUserAndGroupsGiven) {
    if (geteuid() != 0) GTEST_SKIP() << "changing user needs kvd to run as root";
    make_table();
    Child child(*table_);
    Command c = shell("id -u; id -g; id -G");
    c.uid = 65534;
    c.gid = 65534;
    c.groups = {65534, 100};
    start(child, c);
    EXPECT_EQ(read_to_eof(child.take_stdout()), "65534\n65534\n65534 100\n");
    ASSERT_TRUE(wait_exits(1));
}

TEST(LookupUser, FindsIdsAndHome) {
    std::string error;
    auto root = proc::lookup_user("root", error);
    ASSERT_TRUE(root) << error;
    EXPECT_EQ(root->uid, 0u);
    EXPECT_EQ(root->gid, 0u);
    EXPECT_EQ(root->home, "/root");
    EXPECT_NE(std::find(root->groups.begin(), root->groups.end(), 0u), root->groups.end());
    EXPECT_FALSE(proc::lookup_user("no-such-user-kvd", error));
    EXPECT_NE(error.find("no-such-user-kvd"), std::string::npos) << error;
}

// A process holding a ProcessTable (a stand-in for kvd) starts two children, one with
// die_with_kvd, writes their pids to `report` and waits to be killed.
[[noreturn]] void stand_in_kvd(int report, bool spawner) {
    setenv("KVD_CGROUP", "off", 1);  // its SIGKILL must leave no cgroup behind
    uv_loop_t loop;
    uv_loop_init(&loop);
    ProcessTable table(&loop);
    if (spawner) table.start_spawner();
    Child watched(table), unwatched(table);
    Command c;
    c.argv = {"/bin/sh", "-c", "exec sleep 1000"};
    c.stdin_mode = Stdio::null;
    c.stdout_mode = Stdio::null;
    c.die_with_kvd = true;
    if (watched.start(c, nullptr) != 0) _exit(1);
    c.die_with_kvd = false;
    if (unwatched.start(c, nullptr) != 0) _exit(1);
    pid_t pids[2] = {watched.pid(), unwatched.pid()};
    if (write(report, pids, sizeof pids) != sizeof pids) _exit(1);
    for (;;) pause();
}

TEST_P(TreeTest, DieWithKvdEndsTheChildWhenKvdIsKilled) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t kvd = fork();
    ASSERT_GE(kvd, 0);
    if (kvd == 0) {
        close(fds[0]);
        stand_in_kvd(fds[1], GetParam());
    }
    close(fds[1]);
    pid_t pids[2] = {0, 0};
    pollfd p{fds[0], POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, static_cast<int>(kDeadline.count())), 1);
    ASSERT_EQ(read(fds[0], pids, sizeof pids), static_cast<ssize_t>(sizeof pids));
    close(fds[0]);
    ASSERT_EQ(::kill(kvd, SIGKILL), 0);
    ASSERT_EQ(waitpid(kvd, nullptr, 0), kvd);
    EXPECT_TRUE(wait_gone(pids[0])) << "the die_with_kvd child outlived kvd";
    EXPECT_FALSE(gone(pids[1])) << "without die_with_kvd a child that ignores its parent stays";
    ::kill(pids[1], SIGKILL);
    EXPECT_TRUE(wait_gone(pids[1]));
}

TEST_P(TreeTest, LimitsGoToTheChildsCgroup) {
    make_table();
    if (!cgroup_mode()) GTEST_SKIP() << "no cgroup: " << table_->tree_detail();
    if (table_->limits_mode() != "memory=cgroup tasks=cgroup cpu=cgroup")
        GTEST_SKIP() << "controllers not all enabled: " << table_->tree_detail();
    Child child(*table_);
    Command c = shell("exec sleep 1000");
    c.limits.memory_max = 64 << 20;
    c.limits.tasks_max = 17;
    c.limits.cpu_weight = 50;
    start(child, c);
    std::string cg = table_->cgroup_of(child.pid());
    EXPECT_EQ(read_file(cg + "/memory.max"), std::to_string(64 << 20) + "\n");
    EXPECT_EQ(read_file(cg + "/pids.max"), "17\n");
    EXPECT_EQ(read_file(cg + "/cpu.weight"), "50\n");
    child.kill();
    ASSERT_TRUE(wait_exits(1));
}

// Without the controllers, memory_max and tasks_max become the child's rlimits.
TEST_P(TreeTest, LimitsFallBackToRlimits) {
    make_table(Mode::process_group);
    EXPECT_EQ(table_->limits_mode(), "memory=rlimit tasks=rlimit cpu=none");
    Child child(*table_);
    Command c = shell("ulimit -v; ulimit -p");  // dash: -p is the process limit
    c.limits.memory_max = uint64_t{1} << 30;
    c.limits.tasks_max = 4096;
    start(child, c);
    EXPECT_EQ(read_to_eof(child.take_stdout()), "1048576\n4096\n");  // ulimit -v is in KiB
    ASSERT_TRUE(wait_exits(1));
}

// The script forks a grandchild that leaves the session (setsid), prints its pid, and waits.
const char* kSetsidGrandchild =
    "setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $!; exec sleep 1000";
const char* kPlainGrandchild = "sleep 1000 </dev/null >/dev/null 2>&1 & echo $!; exec sleep 1000";

TEST_P(TreeTest, CgroupModeEndsASetsidGrandchildWithItsParent) {
    make_table();
    if (!cgroup_mode()) GTEST_SKIP() << "no cgroup: " << table_->tree_detail();
    Child child(*table_);
    start(child, shell(kSetsidGrandchild));
    std::string cg = table_->cgroup_of(child.pid());
    ASSERT_FALSE(cg.empty());
    pid_t grandchild = std::stoi(read_line(child.take_stdout()));
    ASSERT_GT(grandchild, 0);
    ASSERT_TRUE(run_until([&] { return getsid(grandchild) == grandchild; }, kDeadline))
        << "the grandchild is in a session of its own";
    child.stop(SIGTERM, milliseconds(60000));
    ASSERT_TRUE(wait_exits(1));
    EXPECT_EQ(exits_[0].signal, SIGTERM);
    EXPECT_TRUE(run_until([&] { return gone(grandchild); }, kDeadline)) << "the grandchild lives";
    struct stat st;
    EXPECT_TRUE(run_until([&] { return stat(cg.c_str(), &st) != 0; }, kDeadline))
        << cg << " was not removed";
    EXPECT_EQ(table_->draining(), 0u);
}

TEST_P(TreeTest, CgroupModeEndsTheTreeOfAChildThatExitedByItself) {
    make_table();
    if (!cgroup_mode()) GTEST_SKIP() << "no cgroup: " << table_->tree_detail();
    Child child(*table_);
    start(child, shell(kSetsidGrandchild));
    pid_t grandchild = std::stoi(read_line(child.take_stdout()));
    ASSERT_GT(grandchild, 0);
    EXPECT_FALSE(gone(grandchild));
    ASSERT_EQ(child.signal(SIGUSR1), 0);  // the main process dies, not by a stop
    ASSERT_TRUE(wait_exits(1));
    EXPECT_TRUE(run_until([&] { return gone(grandchild); }, kDeadline));
}

TEST_P(TreeTest, ProcessGroupModeEndsAGrandchildWithItsParent) {
    make_table(Mode::process_group);
    ASSERT_EQ(table_->tree_mode(), "process-group");
    EXPECT_EQ(table_->tree_detail(), "no cgroup: KVD_CGROUP=off");
    Child child(*table_);
    start(child, shell(kPlainGrandchild));
    EXPECT_EQ(table_->cgroup_of(child.pid()), "");
    pid_t grandchild = std::stoi(read_line(child.take_stdout()));
    ASSERT_GT(grandchild, 0);
    EXPECT_EQ(getpgid(grandchild), child.pid()) << "the child leads its process group";
    child.stop(SIGTERM, milliseconds(60000));
    ASSERT_TRUE(wait_exits(1));
    EXPECT_TRUE(run_until([&] { return gone(grandchild); }, kDeadline)) << "the grandchild lives";
}

// The documented limit of process-group mode: a grandchild that left the process group.
TEST_P(TreeTest, ProcessGroupModeCannotReachASetsidGrandchild) {
    make_table(Mode::process_group);
    Child child(*table_);
    start(child, shell(kSetsidGrandchild));
    pid_t grandchild = std::stoi(read_line(child.take_stdout()));
    ASSERT_GT(grandchild, 0);
    ASSERT_TRUE(run_until([&] { return getsid(grandchild) == grandchild; }, kDeadline));
    child.stop(SIGTERM, milliseconds(60000));
    ASSERT_TRUE(wait_exits(1));
    EXPECT_FALSE(run_until([&] { return gone(grandchild); }, milliseconds(100)));
    ::kill(grandchild, SIGKILL);
    EXPECT_TRUE(wait_gone(grandchild));
}

// The stop's signal reaches the main process alone; the SIGKILL at its deadline, the tree.
TEST_P(TreeTest, TheDeadlineKillsTheWholeTree) {
    make_table();
    Child child(*table_);
    // Both ignore SIGTERM; only the SIGKILL ends them.
    // An ignored signal stays ignored across fork and exec.
    start(child, shell("trap '' TERM; sh -c 'echo $$; exec sleep 1000' & exec sleep 1000"));
    pid_t grandchild = std::stoi(read_line(child.take_stdout()));
    ASSERT_GT(grandchild, 0);
    child.stop(SIGTERM, milliseconds(100));
    ASSERT_TRUE(wait_exits(1));
    EXPECT_EQ(exits_[0].signal, SIGKILL);
    EXPECT_TRUE(run_until([&] { return gone(grandchild); }, kDeadline));
}

TEST_P(TreeTest, ADestroyedChildsTreeIsKilled) {
    make_table();
    pid_t grandchild = 0;
    {
        Child child(*table_);
        start(child, shell(cgroup_mode() ? kSetsidGrandchild : kPlainGrandchild));
        grandchild = std::stoi(read_line(child.take_stdout()));
        ASSERT_GT(grandchild, 0);
    }
    EXPECT_TRUE(run_until([&] { return table_->size() == 0 && gone(grandchild); }, kDeadline));
    EXPECT_TRUE(exits_.empty());
}

// close() (kvd's exit) ends every tree and removes every cgroup it made.
TEST_P(TreeTest, CloseEndsEveryTree) {
    make_table();
    std::vector<std::unique_ptr<Child>> children;
    std::vector<pid_t> grandchildren;
    std::vector<std::string> cgroups;
    for (int i = 0; i < 3; ++i) {
        children.push_back(std::make_unique<Child>(*table_));
        start(*children.back(), shell(cgroup_mode() ? kSetsidGrandchild : kPlainGrandchild));
        cgroups.push_back(table_->cgroup_of(children.back()->pid()));
        grandchildren.push_back(std::stoi(read_line(children.back()->take_stdout())));
        ASSERT_GT(grandchildren.back(), 0);
    }
    table_->close();
    for (pid_t g : grandchildren) EXPECT_TRUE(wait_gone(g)) << g;
    struct stat st;
    for (const auto& cg : cgroups) {
        if (!cg.empty()) {
            EXPECT_NE(stat(cg.c_str(), &st), 0) << cg << " left behind";
        }
    }
    children.clear();
}

TEST(CgroupName, KeepsWhatADirectoryNameMayHold) {
    EXPECT_EQ(proc::cgroup_name("bucket shopping/1"), "bucket-shopping-1");
    EXPECT_EQ(proc::cgroup_name("handler ../x"), "handler----x");
    EXPECT_EQ(proc::cgroup_name(""), "child");
    EXPECT_EQ(proc::cgroup_name(std::string(100, 'a')).size(), 48u);
}

TEST(Cgroups, OffMeansNone) {
    std::string why;
    EXPECT_FALSE(proc::Cgroups::detect("off", why));
    EXPECT_EQ(why, "KVD_CGROUP=off");
}

INSTANTIATE_TEST_SUITE_P(Spawner, TreeTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                             return info.param ? "Spawner" : "Direct";
                         });

}  // namespace
}  // namespace kvd::testing
