// kvctl as people use it, against a real kvd: Ctrl-C on `events` (exit 130, 143 for
// SIGTERM), arguments kvctl cannot send (a usage error, never a crash), and `notify --sync`
// answering with the event's real seq.
#include <csignal>
#include <string>
#include <vector>

#include "tests/e2e/harness.hpp"
#include "tests/e2e/kvctl_process.hpp"

namespace kvd::test {
namespace {

class KvctlUsability : public KvdTest {
  protected:
    void SetUp() override {
        if (!kvctl_built()) GTEST_SKIP() << "kvctl is not built";
        KvdTest::SetUp();
    }
    std::string socket() { return kvd().socket_path(); }
    // kvctl --socket <this kvd's socket> args...
    RunResult kvctl(std::vector<std::string> args) {
        args.insert(args.begin(), {"--socket", socket()});
        return run_kvctl(args);
    }
    int64_t subscriptions() {
        Json status = call("status");
        return is_ok(status) ? status["result"]["subscriptions"].get<int64_t>() : -1;
    }
    uint64_t last_seq() {
        Json status = call("status");
        return is_ok(status) ? status["result"]["last_seq"].get<uint64_t>() : 0;
    }
};

TEST_F(KvctlUsability, InterruptedEventsExitsAsTheSignalSaysAfterPrintingWhatArrived) {
    for (int signo : {SIGINT, SIGTERM}) {
        std::string type = "ev" + std::to_string(signo);
        KvctlProcess events(dir_, type, {"--socket", socket(), "events"});
        ASSERT_TRUE(wait_until([&] { return subscriptions() == 1; }, 10s, "kvctl to subscribe"));
        ASSERT_TRUE(is_ok(call("notify", {{"type", type}})));
        ASSERT_TRUE(events.wait_output(" " + type + " "));

        events.signal(signo);
        auto exit = events.wait_exit(10s);
        ASSERT_TRUE(exit);
        EXPECT_EQ(exit->describe(), "exit " + std::to_string(128 + signo));
        EXPECT_NE(events.out().find(" " + type + " "), std::string::npos) << events.out();
        EXPECT_EQ(events.err(), "");
        ASSERT_TRUE(wait_until([&] { return subscriptions() == 0; }, 10s, "kvctl to unsubscribe"));
    }
}

TEST_F(KvctlUsability, ArgumentsKvctlCannotSendAreUsageErrorsNotCrashes) {
    for (std::vector<std::string> args : {
             std::vector<std::string>{"notify", "hello", "1e999"},
             std::vector<std::string>{"notify", "hello", "[1, -1e400]"},
             std::vector<std::string>{"notify", "hello",
                                      std::string(60'000, '[') + std::string(60'000, ']')},
             std::vector<std::string>{"events", "--count", "0"},
             std::vector<std::string>{"events", "--count", "99999999999999999999999"},
             std::vector<std::string>{"events", "--from", "99999999999999999999999"},
             std::vector<std::string>{"--timeout", "99999999999h", "ping"},
             std::vector<std::string>{"stop", "b", "--timeout", "99999999999h"},
         }) {
        RunResult r = kvctl(args);
        EXPECT_EQ(r.exit_code, 2) << args[0] << " " << args[1] << ": " << r;
        // One short line that says what is wrong.
        EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r;
        EXPECT_LT(r.err.size(), 200u) << r;
        EXPECT_EQ(r.err.find("terminate"), std::string::npos) << r;
    }
    EXPECT_EQ(last_seq(), 0u);
}

// Without a sync receiver for its type, the completion of a sync notify runs inside the
// publish; the reply still names the event's seq.
TEST_F(KvctlUsability, NotifySyncRepliesWithTheEventsSeq) {
    ASSERT_TRUE(is_ok(call("notify", {{"type", "first"}})));
    Json reply = call("notify", {{"type", "second"}, {"sync", true}});
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(reply["result"], (Json{{"seq", 2}})) << reply.dump();
    // A type with an escape takes the general path rather than the fast one.
    reply = call("notify", {{"type", "say \"hi\""}, {"data", {1, 2}}, {"sync", true}});
    ASSERT_TRUE(is_ok(reply));
    EXPECT_EQ(reply["result"], (Json{{"seq", 3}})) << reply.dump();

    RunResult r = kvctl({"notify", "--sync", "fourth"});
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(r.out, "published fourth (seq 4)\n");
}

}  // namespace
}  // namespace kvd::test
