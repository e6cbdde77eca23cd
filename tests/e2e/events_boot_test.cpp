// Which kvd a client talks to (SPEC §7, identity of a run): every kvd start picks a random
// boot id, carried by `status` and the subscribe reply.
#include <regex>
#include <string>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

class EventsBoot : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!kvctl_built()) GTEST_SKIP() << "kvctl is not built";
        start_kvd();
    }

    void start_kvd() {
        kvd_ = std::make_unique<KvdProcess>(dir_);
        ASSERT_TRUE(kvd_->ready());
        client_ = std::make_unique<Client>(kvd_->socket_path());
        ASSERT_TRUE(client_->connected()) << client_->connect_error();
    }

    // Stops kvd as systemd would (SIGTERM) and starts a new one on the same socket path.
    void restart_kvd() {
        client_.reset();
        ASSERT_TRUE(kvd_->terminate());
        kvd_.reset();
        start_kvd();
    }

    std::string boot() {
        Json status = client_->call("status");
        return is_ok(status) ? status["result"].value("boot", "") : "";
    }

    std::string socket() const { return dir_.file("kvd.sock"); }

    TempDir dir_;
    std::unique_ptr<KvdProcess> kvd_;
    std::unique_ptr<Client> client_;
};

TEST_F(EventsBoot, BootIsRandomHexInStatusAndTheSubscribeReplyAndNewAtEachStart) {
    const std::regex hex32("[0-9a-f]{32}");
    std::string first = boot();
    EXPECT_TRUE(std::regex_match(first, hex32)) << first;

    Client subscriber(kvd_->socket_path());
    Json reply = subscriber.call("subscribe");
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(reply["result"], (Json{{"seq", 0}, {"boot", first}})) << reply.dump();
    subscriber.close();

    RunResult status = run_kvctl({"--socket", socket(), "status"});
    EXPECT_EQ(status.exit_code, 0) << status;
    EXPECT_NE(status.out.find("boot:           " + first + "\n"), std::string::npos) << status;

    restart_kvd();
    std::string second = boot();
    EXPECT_TRUE(std::regex_match(second, hex32)) << second;
    EXPECT_NE(second, first);
}

}  // namespace
}  // namespace kvd::test
