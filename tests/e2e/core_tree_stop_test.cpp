// A child's whole tree ends with it. A bucket program that leaves a grandchild behind (one
// that even called setsid) loses it at `kvctl stop`, in cgroup mode; in process-group mode
// (KVD_CGROUP=off) a grandchild that stayed in the process group goes too. A handler's
// background grandchild does not survive kvd's shutdown. `status` says which mode is used.
#include <sys/stat.h>

#include <string>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

struct Case {
    const char* name;
    bool cgroup;  // else process-group mode, forced by KVD_CGROUP=off
};

class TreeStop : public ::testing::TestWithParam<Case> {
  protected:
    // Starts kvd with `config` in the mode of the test; false (test skipped) when cgroup
    // mode was asked for and kvd has no usable cgroup here.
    bool start(const std::string& config) {
        KvdOptions options;
        options.config = config;
        if (!GetParam().cgroup) options.env["KVD_CGROUP"] = "off";
        kvd_ = std::make_unique<KvdProcess>(dir_, options);
        EXPECT_TRUE(kvd_->ready());
        if (!kvd_->ready()) return false;
        Json status = Client(kvd_->socket_path()).call("status");
        EXPECT_TRUE(is_ok(status));
        std::string tree = status["result"]["tree"];
        if (GetParam().cgroup && tree != "cgroup") {
            skip_reason_ = "kvd found no usable cgroup v2 subtree here: " + kvd_->log();
            return false;
        }
        EXPECT_EQ(tree, GetParam().cgroup ? "cgroup" : "process-group");
        EXPECT_NE(kvd_->log().find("process trees: " + tree + " mode"), std::string::npos)
            << kvd_->log();
        return true;
    }

    // The pid a script wrote to `file`, once it has.
    pid_t wait_pid_file(const std::string& file) {
        pid_t pid = 0;
        wait_until(
            [&] {
                std::string text = read_file(file);
                if (text.empty() || text.back() != '\n') return false;
                pid = std::stoi(text);
                return true;
            },
            10s, file);
        return pid;
    }

    // A grandchild that leaves the session in cgroup mode (only a cgroup can still reach
    // it), one that stays in the process group otherwise.
    std::string grandchild_command() const {
        return std::string(GetParam().cgroup ? "setsid " : "") +
               "sleep 1000 </dev/null >/dev/null 2>&1 &";
    }

    TempDir dir_;
    std::unique_ptr<KvdProcess> kvd_;
    std::string skip_reason_;
};

TEST_P(TreeStop, StopEndsTheBucketsGrandchild) {
    std::string program = dir_.write_file(
        "bucket.sh", "#!/bin/sh\n" + grandchild_command() + "\necho $! > " + dir_.path() +
                         "/$1.grandchild\nexec " + kv_bucket_path() + " \"$@\"\n");
    ASSERT_EQ(chmod(program.c_str(), 0755), 0);
    if (!start("[bucket]\nprogram = " + Json(program).dump() + "\n")) {
        if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
        return;
    }
    Client c(kvd_->socket_path());
    ASSERT_TRUE(is_ok(c.call("create", {{"bucket", "b"}})));
    pid_t grandchild = wait_pid_file(dir_.file("b.grandchild"));
    ASSERT_GT(grandchild, 0);
    ASSERT_TRUE(process_alive(grandchild));

    RunResult stop = run_kvctl({"--socket", kvd_->socket_path(), "stop", "b"});
    EXPECT_EQ(stop.exit_code, 0) << stop;
    EXPECT_TRUE(wait_until([&] { return !process_alive(grandchild); }, 10s,
                           "the bucket's grandchild to end"));
    // kvd serves on, and a bucket made the same way again works.
    ASSERT_TRUE(is_ok(c.call("create", {{"bucket", "b2"}})));
    EXPECT_TRUE(is_ok(c.call("put", {{"bucket", "b2"}, {"key", "k"}, {"value", "v"}})));
}

TEST_P(TreeStop, AHandlersGrandchildDoesNotSurviveShutdown) {
    std::string script = dir_.write_file(
        "handler.sh", "#!/bin/sh\n" + grandchild_command() + "\necho $! > " + dir_.path() +
                          "/handler.grandchild\nexec " + test_handler_path() + " async\n");
    ASSERT_EQ(chmod(script.c_str(), 0755), 0);
    Json command = {script};
    if (!start("[[handler]]\nname = \"h\"\nmode = \"async\"\ncommand = " + command.dump() + "\n")) {
        if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
        return;
    }
    pid_t grandchild = wait_pid_file(dir_.file("handler.grandchild"));
    ASSERT_GT(grandchild, 0);
    ASSERT_TRUE(process_alive(grandchild));

    auto status = kvd_->terminate(20s);
    ASSERT_TRUE(status) << "kvd did not exit after SIGTERM";
    EXPECT_TRUE(status->success()) << status->describe();
    EXPECT_TRUE(wait_until([&] { return !process_alive(grandchild); }, 10s,
                           "the handler's grandchild to end"));
}

INSTANTIATE_TEST_SUITE_P(Modes, TreeStop,
                         ::testing::Values(Case{"Cgroup", true}, Case{"ProcessGroup", false}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                             return std::string(info.param.name);
                         });

}  // namespace
}  // namespace kvd::test
