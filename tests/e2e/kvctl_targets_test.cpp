// kvctl stop and kill of several buckets against a real kvd: names, glob patterns and --all,
// the exit statuses (0 all done, 1 any failed or a pattern matched nothing, 2 usage), and that
// the processes really end.
#include <csignal>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

class KvctlTargets : public KvdTest {
  protected:
    void SetUp() override {
        if (!kvctl_built()) GTEST_SKIP() << "kvctl is not built";
        KvdTest::SetUp();
    }
    RunResult kvctl(std::vector<std::string> args) {
        args.insert(args.begin(), {"--socket", kvd().socket_path()});
        return run_kvctl(args);
    }
    // Creates each bucket and returns their pids in the same order.
    std::vector<pid_t> create_all(const std::vector<std::string>& names) {
        std::vector<pid_t> pids;
        for (const auto& name : names) pids.push_back(create(name));
        return pids;
    }
    ::testing::AssertionResult all_gone(const std::vector<pid_t>& pids) {
        return wait_until(
            [&] {
                for (pid_t pid : pids)
                    if (process_alive(pid)) return false;
                return true;
            },
            10s, "the bucket processes to end");
    }
};

TEST_F(KvctlTargets, StopSeveralNames) {
    auto pids = create_all({"a", "b", "c"});
    auto r = kvctl({"stop", "a", "c", "--timeout", "2s"});
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(r.err, "");
    EXPECT_NE(r.out.find("stopped a"), std::string::npos) << r;
    EXPECT_NE(r.out.find("stopped c"), std::string::npos) << r;
    EXPECT_EQ(lookup_pid("a"), -1);
    EXPECT_EQ(lookup_pid("c"), -1);
    EXPECT_EQ(lookup_pid("b"), pids[1]);
    EXPECT_TRUE(all_gone({pids[0], pids[2]}));
}

TEST_F(KvctlTargets, StopAGlobLeavesTheOthers) {
    auto pids = create_all({"worker-1", "worker-2", "worker-10", "db"});
    auto r = kvctl({"stop", "worker-*"});
    EXPECT_EQ(r.exit_code, 0) << r;
    // One line each, in name order: "stopped worker-1 (pid N, exit code 0)".
    std::vector<std::string> lines;
    for (std::size_t start = 0, end; (end = r.out.find('\n', start)) != std::string::npos;
         start = end + 1)
        lines.push_back(r.out.substr(start, end - start));
    ASSERT_EQ(lines.size(), 3u) << r;
    EXPECT_EQ(lines[0].rfind("stopped worker-1 (pid " + std::to_string(pids[0]), 0), 0u) << r;
    EXPECT_EQ(lines[1].rfind("stopped worker-10 (pid " + std::to_string(pids[2]), 0), 0u) << r;
    EXPECT_EQ(lines[2].rfind("stopped worker-2 (pid " + std::to_string(pids[1]), 0), 0u) << r;
    for (std::string name : {"worker-1", "worker-2", "worker-10"}) EXPECT_EQ(lookup_pid(name), -1);
    EXPECT_EQ(lookup_pid("db"), pids[3]);
}

TEST_F(KvctlTargets, StopAllWithJson) {
    auto pids = create_all({"x", "y"});
    auto r = kvctl({"--json", "stop", "--all"});
    EXPECT_EQ(r.exit_code, 0) << r;
    Json doc = Json::parse(r.out, nullptr, false);
    ASSERT_TRUE(doc.is_array()) << r;
    ASSERT_EQ(doc.size(), 2u) << r;
    EXPECT_EQ(doc[0]["bucket"], "x");
    EXPECT_EQ(doc[0]["ok"], true);
    EXPECT_EQ(doc[1]["bucket"], "y");
    EXPECT_EQ(doc[1]["result"]["pid"], pids[1]);
    EXPECT_TRUE(is_ok(call("list")));
    EXPECT_EQ(call("list")["result"]["buckets"], Json::array());
    EXPECT_TRUE(all_gone(pids));

    // Nothing left: --all has nothing to do, and that is not an error.
    auto again = kvctl({"stop", "--all"});
    EXPECT_EQ(again.exit_code, 0) << again;
    EXPECT_EQ(again.out, "no buckets\n");
}

// A failure does not keep the others from being acted on; each is one line naming it.
TEST_F(KvctlTargets, AMissingNameOrAnUnmatchedGlobIsExit1) {
    auto pids = create_all({"a", "b"});
    auto r = kvctl({"kill", "a", "nope", "cache-*", "b"});
    EXPECT_EQ(r.exit_code, 1) << r;
    EXPECT_EQ(r.err,
              "kvctl: no bucket matches 'cache-*'\n"
              "kvctl: cannot kill nope: not_found: no bucket named 'nope'\n")
        << r;
    EXPECT_NE(r.out.find("sent SIGKILL to a"), std::string::npos) << r;
    EXPECT_NE(r.out.find("sent SIGKILL to b"), std::string::npos) << r;
    EXPECT_TRUE(all_gone(pids));
}

TEST_F(KvctlTargets, KillAGlobWithASignal) {
    auto pids = create_all({"w-1", "w-2", "other"});
    auto r = kvctl({"kill", "w-?", "--signal", "TERM"});
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(r.out.find("other"), std::string::npos) << r;
    EXPECT_TRUE(all_gone({pids[0], pids[1]}));
    EXPECT_TRUE(process_alive(pids[2]));
}

TEST_F(KvctlTargets, UsageErrorsSendNothing) {
    pid_t pid = create("a");
    for (std::vector<std::string> args :
         {std::vector<std::string>{"stop"}, {"kill", "--all", "a"}, {"restart"}}) {
        auto r = kvctl(args);
        EXPECT_EQ(r.exit_code, 2) << r;
    }
    EXPECT_EQ(lookup_pid("a"), pid);
}

TEST_F(KvctlTargets, UnreachableIsExit3) {
    auto r = run_kvctl({"--socket", dir_.file("nothing.sock"), "stop", "--all"});
    EXPECT_EQ(r.exit_code, 3) << r;
}

}  // namespace
}  // namespace kvd::test
