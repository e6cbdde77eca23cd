// The bucket program cannot be started any more (`[bucket] program` removed, made
// non-executable or replaced by a directory after kvd started; kvd refuses to start with one
// it cannot run, see config_runnable_test.cpp): every `create` is `spawn_failed` with a
// message naming the program and the reason, no `create` event is published (a sync handler
// sees nothing, no seq is used up), kvd keeps serving, and failing over and over costs no
// descriptor and leaves no process behind.
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

class BucketProgramFault : public ::testing::Test {
  protected:
    // A working bucket program, <dir>/name: a script that runs kv-bucket.
    std::string write_program(const std::string& name) {
        std::string file =
            dir_.write_file(name, "#!/bin/sh\nexec " + kv_bucket_path() + " \"$@\"\n");
        EXPECT_EQ(chmod(file.c_str(), 0755), 0);
        return file;
    }

    // Starts kvd with `program` as [bucket] program and a sync handler writing what it gets.
    void start(const std::string& program, EnvChanges env = {}) {
        out_ = dir_.file("handler.out");
        Json command = {test_handler_path(), "--out", out_, "ack"};
        KvdOptions options;
        options.config =
            "[bucket]\nprogram = " + Json(program).dump() +
            "\n[[handler]]\nname = \"audit\"\nmode = \"sync\"\ncommand = " + command.dump() + "\n";
        options.env = std::move(env);
        kvd_ = std::make_unique<KvdProcess>(dir_, options);
        ASSERT_TRUE(kvd_->ready());
        client_ = std::make_unique<Client>(kvd_->socket_path());
        ASSERT_TRUE(client_->connected()) << client_->connect_error();
        ASSERT_TRUE(wait_until([&] { return children_of(kvd_->pid()).size() == 1; }, 10s,
                               "the handler to start"));
    }

    // Creates fail the same way each time, and nothing is left of them.
    void expect_creates_fail(const std::string& program, const std::string& reason) {
        ASSERT_TRUE(is_ok(client_->call("ping")));
        const Footprint before = footprint_of(kvd_->pid());
        for (int i = 0; i < 20; ++i) {
            std::string bucket = "b" + std::to_string(i);
            Json reply = client_->call("create", {{"bucket", bucket}});
            ASSERT_TRUE(is_error(reply, "spawn_failed")) << bucket;
            std::string message = reply["error"]["message"];
            EXPECT_NE(message.find(program), std::string::npos) << message;
            EXPECT_NE(message.find(reason), std::string::npos) << message;
            EXPECT_NE(message.find(bucket), std::string::npos) << message;
        }
        // Nothing was registered and no event published: the handler's first event is the
        // notify below, with seq 1.
        Json list = client_->call("list");
        ASSERT_TRUE(is_ok(list));
        EXPECT_EQ(list["result"]["buckets"], Json::array());
        EXPECT_TRUE(is_error(client_->call("lookup", {{"bucket", "b0"}}), "not_found"));
        Json status = client_->call("status");
        ASSERT_TRUE(is_ok(status));
        EXPECT_EQ(status["result"]["last_seq"], 0);
        ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "after"}, {"sync", true}})));
        auto lines = read_lines(out_);
        ASSERT_EQ(lines.size(), 1u) << read_file(out_);
        Json first = Json::parse(lines[0]);
        EXPECT_EQ(first["seq"], 1);
        EXPECT_EQ(first["type"], "after");

        // kvd said so in its log, and serves on.
        EXPECT_NE(kvd_->log().find("cannot start bucket b0"), std::string::npos) << kvd_->log();
        EXPECT_TRUE(is_ok(Client(kvd_->socket_path()).call("ping")));
        EXPECT_TRUE(wait_footprint_back(kvd_->pid(), before));
    }

    TempDir dir_;
    std::string out_;
    std::unique_ptr<KvdProcess> kvd_;
    std::unique_ptr<Client> client_;
};

TEST_F(BucketProgramFault, ProgramDoesNotExist) {
    std::string program = write_program("kv-bucket");
    start(program);
    ASSERT_EQ(unlink(program.c_str()), 0);
    expect_creates_fail(program, "no such file or directory");
}

TEST_F(BucketProgramFault, ProgramIsNotExecutable) {
    std::string program = write_program("kv-bucket");
    start(program);
    ASSERT_EQ(chmod(program.c_str(), 0644), 0);
    expect_creates_fail(program, "permission denied");
}

TEST_F(BucketProgramFault, ProgramIsADirectory) {
    std::string program = write_program("kv-bucket");
    start(program);
    ASSERT_EQ(unlink(program.c_str()), 0);
    ASSERT_EQ(mkdir(program.c_str(), 0755), 0);
    expect_creates_fail(program, "permission denied");
}

// A bare name is looked up next to kvd, then on PATH; found in neither place, it is the same.
TEST_F(BucketProgramFault, ProgramNotOnPath) {
    std::string program = write_program("gone-kv-bucket");
    start("gone-kv-bucket", {{"PATH", dir_.path()}});
    ASSERT_EQ(unlink(program.c_str()), 0);
    expect_creates_fail("gone-kv-bucket", "no such file or directory");
}

}  // namespace
}  // namespace kvd::test
