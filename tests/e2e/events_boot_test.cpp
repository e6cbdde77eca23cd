// Which kvd a client talks to (README "The control protocol", identity of a run): every kvd start
// picks a random boot id, carried by `status` and the subscribe reply. `kvctl events` tells a lost
// connection on stderr (exit 3), and with --retry follows kvd across a restart, going on from
// the new run's first event since seq began again at 1.
#include <regex>
#include <string>
#include <vector>

#include "tests/e2e/harness.hpp"
#include "tests/e2e/kvctl_process.hpp"

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

    int64_t subscriptions() {
        Json status = client_->call("status");
        return is_ok(status) ? status["result"]["subscriptions"].get<int64_t>() : -1;
    }

    void notify(const std::string& type) {
        EXPECT_TRUE(is_ok(client_->call("notify", {{"type", type}})));
    }

    std::string socket() const { return dir_.file("kvd.sock"); }

    TempDir dir_;
    std::unique_ptr<KvdProcess> kvd_;
    std::unique_ptr<Client> client_;
};

std::size_t occurrences(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

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

TEST_F(EventsBoot, WithoutRetryKvdStoppingEndsEventsWithExit3AndSaysSo) {
    KvctlProcess events(dir_, "events", {"--socket", socket(), "events"});
    ASSERT_TRUE(wait_until([&] { return subscriptions() == 1; }, 10s, "kvctl to subscribe"));
    notify("one");
    ASSERT_TRUE(events.wait_output("#1 one"));

    client_.reset();
    ASSERT_TRUE(kvd_->terminate());
    auto exit = events.wait_exit(10s);
    ASSERT_TRUE(exit) << events.err();
    EXPECT_EQ(exit->describe(), "exit 3");
    EXPECT_EQ(events.err(), "kvctl: kvd went away (connection closed) after seq 1\n");
    EXPECT_EQ(split_lines(events.out()).size(), 1u) << events.out();
}

TEST_F(EventsBoot, RetryFollowsKvdAcrossARestartFromTheNewBootsFirstEvent) {
    // --count spans the reconnection: one event from this kvd, three from the next.
    KvctlProcess events(dir_, "events",
                        {"--socket", socket(), "--json", "events", "--retry", "--count", "4"});
    ASSERT_TRUE(wait_until([&] { return subscriptions() == 1; }, 10s, "kvctl to subscribe"));
    notify("before");
    ASSERT_TRUE(events.wait_output(R"("type":"before")"));

    restart_kvd();
    std::string new_boot = boot();
    // Published whether or not kvctl is back yet: it asks for them from seq 1 either way.
    for (const char* type : {"after1", "after2", "after3"}) notify(type);

    auto exit = events.wait_exit(20s);
    ASSERT_TRUE(exit) << events.out() << events.err();
    EXPECT_TRUE(exit->success()) << exit->describe() << "\n" << events.err();
    auto lines = split_lines(events.out());
    ASSERT_EQ(lines.size(), 4u) << events.out();
    std::vector<std::pair<uint64_t, std::string>> got;
    for (const auto& line : lines) {
        Json e = Json::parse(line, nullptr, false);
        ASSERT_TRUE(e.is_object()) << line;
        got.emplace_back(e.value("seq", uint64_t{0}), e.value("type", ""));
    }
    EXPECT_EQ(got, (std::vector<std::pair<uint64_t, std::string>>{
                       {1, "before"}, {1, "after1"}, {2, "after2"}, {3, "after3"}}));

    std::string err = events.err();
    // Said once, however many attempts kvctl made while no kvd was there.
    EXPECT_EQ(occurrences(err, "kvctl: kvd went away"), 1u) << err;
    EXPECT_NE(err.find("kvctl: kvd went away (connection closed) after seq 1; reconnecting\n"),
              std::string::npos)
        << err;
    EXPECT_NE(
        err.find("kvctl: kvd restarted (boot " + new_boot + "); continuing from its first event\n"),
        std::string::npos)
        << err;
}

}  // namespace
}  // namespace kvd::test
