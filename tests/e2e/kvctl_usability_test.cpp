// kvctl as people use it, against a real kvd: global options after the command, `help`,
// "did you mean", Ctrl-C on `events` (exit 130, 143 for SIGTERM), `put ... -` from stdin and
// the 1 MiB request line, arguments kvctl cannot send (a usage error, never a crash), and
// `notify --sync` answering with the event's real seq.
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
    // kvctl --socket <socket> put BUCKET KEY - with `value` on its stdin.
    RunResult put_from_stdin(const std::string& bucket, const std::string& key,
                             const std::string& value) {
        return run_program(kvctl_path(), {"--socket", socket(), "put", bucket, key, "-"}, {}, 20s,
                           value);
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

TEST_F(KvctlUsability, GlobalOptionsWorkAfterTheCommand) {
    ASSERT_GT(create("b"), 0);
    ASSERT_TRUE(is_ok(call("put", {{"bucket", "b"}, {"key", "k"}, {"value", "v"}})));

    RunResult list = run_kvctl({"list", "--json", "--socket", socket()});
    EXPECT_EQ(list.exit_code, 0) << list;
    Json result = Json::parse(list.out, nullptr, false);
    ASSERT_TRUE(result.is_object()) << list;
    EXPECT_EQ(result["buckets"][0]["bucket"], "b") << list;

    RunResult get = run_kvctl({"get", "b", "k", "--socket", socket(), "--timeout", "5s"});
    EXPECT_EQ(get.exit_code, 0) << get;
    EXPECT_EQ(get.out, "v\n");
}

TEST_F(KvctlUsability, HelpAndAMistypedCommand) {
    RunResult help = kvctl({"help"});
    EXPECT_EQ(help.exit_code, 0) << help;
    EXPECT_NE(help.out.find("Exit status"), std::string::npos) << help;

    RunResult events_help = kvctl({"help", "events"});
    EXPECT_EQ(events_help.exit_code, 0) << events_help;
    EXPECT_NE(events_help.out.find("--retry"), std::string::npos) << events_help;

    RunResult unknown_help = kvctl({"help", "nosuch"});
    EXPECT_EQ(unknown_help.exit_code, 2) << unknown_help;

    RunResult typo = kvctl({"lsit"});
    EXPECT_EQ(typo.exit_code, 2) << typo;
    EXPECT_EQ(typo.err, "kvctl: unknown command 'lsit'; did you mean 'list'? (see kvctl --help)\n");
}

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

TEST_F(KvctlUsability, PutDashReadsTheWholeValueFromStdin) {
    ASSERT_GT(create("b"), 0);
    std::string text("line 1\nline \"2\" caf\xc3\xa9 \xe2\x82\xac\n\0nul \x01 ctrl\ttab\n", 38);
    // Over 128 KiB: too long for one argument of exec, fine on stdin.
    std::string big(300 * 1024, 'x');
    // What fits in the 1 MiB request line, with room for the rest of the request.
    std::string near_limit(1024 * 1024 - 100, 'n');
    for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
             {"text", text}, {"big", big}, {"near_limit", near_limit}}) {
        RunResult put = put_from_stdin("b", key, value);
        EXPECT_EQ(put.exit_code, 0) << key << ": " << put;
        Json got = call("get", {{"bucket", "b"}, {"key", key}});
        ASSERT_TRUE(is_ok(got)) << key;
        EXPECT_TRUE(got["result"]["value"] == value) << key;
    }
    RunResult get = kvctl({"get", "b", "text"});
    EXPECT_EQ(get.out, text + "\n");
}

TEST_F(KvctlUsability, PutDashOfMoreThanARequestLineIsAUsageErrorAndSendsNothing) {
    ASSERT_GT(create("b"), 0);
    // More bytes than a request line holds.
    RunResult big = put_from_stdin("b", "k", std::string(2 * 1024 * 1024, 'x'));
    EXPECT_EQ(big.exit_code, 2) << big;
    EXPECT_EQ(big.err,
              "kvctl: cannot take the value from stdin: it is more than 1048576 bytes (1 MiB), "
              "the most one request line to kvd can hold\n");
    // Under 1 MiB of input, but control characters take six bytes each once JSON-escaped.
    RunResult escaped = put_from_stdin("b", "k", std::string(600 * 1024, '\x01'));
    EXPECT_EQ(escaped.exit_code, 2) << escaped;
    EXPECT_NE(escaped.err.find("more than the 1048576 bytes (1 MiB) kvd accepts in one line; "
                               "nothing was sent"),
              std::string::npos)
        << escaped;
    // Not valid UTF-8: it could not be kept as it is.
    RunResult binary = put_from_stdin("b", "k", "\xff\xfe");
    EXPECT_EQ(binary.exit_code, 2) << binary;
    EXPECT_TRUE(is_error(call("get", {{"bucket", "b"}, {"key", "k"}}), "not_found"));
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
