// Handlers that misbehave in every way the issue lists (never ack, exit on every event, flood
// their stdout with garbage, close their stdin but keep running, a program that cannot be
// started), each next to a healthy sync "witness" handler. Whatever the faulty one does:
// every operation completes, kvd keeps answering, the faulty handler is counted as
// failed and restarted, kvd says why in its log, the witness sees every event exactly once in
// seq order, and once the faulty handler is removed kvd holds no more descriptors or
// processes than before it came.
#include <sys/stat.h>

#include <string>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

// The seqs of the events in a handler's --out file, in the order it received them.
std::vector<uint64_t> seqs_in(const std::string& path) {
    std::vector<uint64_t> seqs;
    for (const auto& line : read_lines(path)) {
        Json e = Json::parse(line, nullptr, false);
        seqs.push_back(e.is_object() ? e.value("seq", uint64_t{0}) : 0);
    }
    return seqs;
}

std::vector<uint64_t> one_to(uint64_t n) {
    std::vector<uint64_t> v;
    for (uint64_t i = 1; i <= n; ++i) v.push_back(i);
    return v;
}

std::string handler_toml(const std::string& name, const std::string& mode, const Json& command,
                         const std::string& extra = "") {
    return "[[handler]]\nname = \"" + name + "\"\nmode = \"" + mode + "\"\n" + extra +
           "command = " + command.dump() + "\n";
}

// A handler program that exists and is executable, so the config passes kvd's checks
// (config_check.hpp), but that execve refuses: its #! interpreter is missing (ENOENT) or is
// not executable (EACCES). This is how a program that cannot be started still reaches kvd:
// an interpreter removed, or a program or file changed after the config was checked.
std::string unstartable_program(const TempDir& dir, const std::string& why) {
    std::string interpreter = dir.file("no-such-interpreter");
    if (why == "interpreter-not-executable") {
        interpreter = dir.write_file("not-executable-interpreter", "#!/bin/sh\nexit 0\n");
        chmod(interpreter.c_str(), 0644);
    }
    std::string path = dir.write_file("unstartable", "#!" + interpreter + "\nexit 0\n");
    chmod(path.c_str(), 0755);
    return path;
}

// What the faulty handler does, and what kvd is expected to say about it.
struct Fault {
    const char* name;
    const char* mode;                            // sync | async
    std::vector<std::string> test_handler_args;  // empty: `program` is used instead
    const char* program;                         // for unstartable_program() when there are no args
    const char* log_says;                        // a piece of kvd's log line about the failure
};

std::ostream& operator<<(std::ostream& os, const Fault& f) {
    return os << f.name;
}

class FaultyHandler : public ::testing::TestWithParam<Fault> {
  protected:
    void SetUp() override {
        witness_out_ = dir_.file("witness.out");
        faulty_out_ = dir_.file("faulty.out");
        faulty_ready_ = dir_.file("faulty.ready");
        KvdOptions options;
        options.config = witness_config();
        kvd_ = std::make_unique<KvdProcess>(dir_, options);
        ASSERT_TRUE(kvd_->ready());
        client_ = std::make_unique<Client>(kvd_->socket_path());
        ASSERT_TRUE(client_->connected()) << client_->connect_error();
    }

    std::string witness_config() const {
        return handler_toml("witness", "sync", {test_handler_path(), "--out", witness_out_, "ack"});
    }

    Json faulty_command() const {
        const Fault& f = GetParam();
        if (f.test_handler_args.empty()) return {unstartable_program(dir_, f.program)};
        Json command = {test_handler_path(), "--out", faulty_out_, "--ready", faulty_ready_};
        for (const auto& a : f.test_handler_args) command.push_back(a);
        return command;
    }

    TempDir dir_;
    std::string witness_out_, faulty_out_, faulty_ready_;
    std::unique_ptr<KvdProcess> kvd_;
    std::unique_ptr<Client> client_;
};

TEST_P(FaultyHandler, KvdKeepsServingAndTheWitnessSeesEveryEventInOrder) {
    const Fault& fault = GetParam();
    const bool runs = !fault.test_handler_args.empty();
    ASSERT_TRUE(wait_until(
        [&] { return handler_info(*client_, "witness").value("state", "") == "running"; }, 10s,
        "the witness handler to run"));
    ASSERT_TRUE(is_ok(client_->call("ping")));
    const pid_t witness_pid = handler_info(*client_, "witness").value("pid", -1);
    const Footprint before = footprint_of(kvd_->pid());
    ASSERT_GT(before.fds, 0);

    // The faulty handler comes in by a reload, so that the footprint above is without it.
    std::string extra = std::string(fault.mode) == "sync" ? "ack_timeout = \"300ms\"\n" : "";
    extra += "restart = \"always\"\nrestart_delay = \"10ms\"\nrestart_delay_max = \"50ms\"\n";
    dir_.write_file("kvd.toml",
                    witness_config() + handler_toml("faulty", fault.mode, faulty_command(), extra));
    Json reloaded = client_->call("reload");
    ASSERT_TRUE(is_ok(reloaded));
    EXPECT_EQ(reloaded["result"]["started"], Json::array({"faulty"})) << reloaded.dump();
    if (runs) {
        ASSERT_TRUE(wait_until([&] { return file_exists(faulty_ready_); }, 10s,
                               "the faulty handler to start"));
    }

    // Work that publishes events, each held by the sync handlers: every operation completes.
    auto other = std::make_unique<Client>(kvd_->socket_path());
    constexpr int kRounds = 4;
    for (int i = 0; i < kRounds; ++i) {
        std::string bucket = "f" + std::to_string(i);
        ASSERT_TRUE(is_ok(client_->call("create", {{"bucket", bucket}}))) << bucket;
        ASSERT_TRUE(is_ok(other->call("ping"))) << "kvd stopped answering";
        ASSERT_TRUE(
            is_ok(client_->call("notify", {{"type", "tick"}, {"data", i}, {"sync", true}})));
        ASSERT_TRUE(is_ok(client_->call("stop", {{"bucket", bucket}}))) << bucket;
    }
    const uint64_t events = 3 * kRounds;
    Json status = client_->call("status");
    ASSERT_TRUE(is_ok(status));
    EXPECT_EQ(status["result"]["last_seq"], events);

    // The faulty handler was counted as failed and restarted, and kvd said why.
    ASSERT_TRUE(
        wait_until([&] { return handler_info(*client_, "faulty").value("restarts", 0) >= 1; }, 10s,
                   "the faulty handler to be restarted"));
    ASSERT_TRUE(wait_until([&] { return kvd_->log().find(fault.log_says) != std::string::npos; },
                           10s, std::string("kvd to log '") + fault.log_says + "'"));
    EXPECT_NE(kvd_->log().find("handler faulty"), std::string::npos);

    // The witness saw every event exactly once, in order, and was never disturbed.
    ASSERT_TRUE(wait_until([&] { return seqs_in(witness_out_).size() >= events; }, 10s,
                           "the witness to receive every event"));
    EXPECT_EQ(seqs_in(witness_out_), one_to(events)) << read_file(witness_out_);
    Json witness = handler_info(*client_, "witness");
    EXPECT_EQ(witness["restarts"], 0) << witness.dump();
    EXPECT_EQ(witness["pid"], witness_pid) << witness.dump();
    // What the faulty one did get, it got in order (at least once: repeats, never going back).
    std::vector<uint64_t> faulty_seqs = seqs_in(faulty_out_);
    for (std::size_t i = 1; i < faulty_seqs.size(); ++i)
        EXPECT_LE(faulty_seqs[i - 1], faulty_seqs[i]) << read_file(faulty_out_);

    // Removing it gives back everything it cost: descriptors, processes, no zombie.
    other.reset();
    dir_.write_file("kvd.toml", witness_config());
    Json removed = client_->call("reload");
    ASSERT_TRUE(is_ok(removed));
    EXPECT_EQ(removed["result"]["stopped"], Json::array({"faulty"})) << removed.dump();
    EXPECT_TRUE(wait_footprint_back(kvd_->pid(), before, 15s));
    EXPECT_EQ(children_of(kvd_->pid()), std::vector<pid_t>{witness_pid});
    EXPECT_TRUE(is_ok(client_->call("ping")));
    EXPECT_TRUE(is_ok(Client(kvd_->socket_path()).call("ping")));
}

INSTANTIATE_TEST_SUITE_P(
    Faults, FaultyHandler,
    ::testing::Values(
        Fault{"NeverAcks", "sync", {"never-ack"}, "", "did not acknowledge within 300ms"},
        Fault{"ExitsOnEveryEvent", "sync", {"exit-on-event"}, "", "exited with code 1"},
        Fault{"CrashesEveryThreeEvents", "sync", {"exit-after", "3"}, "", "exited with code 1"},
        Fault{"FloodsStdoutWithGarbage", "sync", {"garbage"}, "", "unexpected line"},
        Fault{"FloodsStdoutWithGarbageAsync",
              "async",
              {"garbage"},
              "",
              "lines in a row that are not acks"},
        Fault{"ClosesStdinKeepsRunning",
              "sync",
              {"close-stdin"},
              "",
              "did not acknowledge within 300ms"},
        Fault{"ShutsDownStdinKeepsRunning", "sync", {"shutdown-stdin"}, "", "broken pipe"},
        Fault{"ShutsDownStdinKeepsRunningAsync", "async", {"shutdown-stdin"}, "", "broken pipe"},
        Fault{"InterpreterDoesNotExist",
              "sync",
              {},
              "interpreter-missing",
              "no such file or directory"},
        Fault{"InterpreterIsNotExecutable",
              "sync",
              {},
              "interpreter-not-executable",
              "permission denied"}),
    [](const ::testing::TestParamInfo<Fault>& info) { return std::string(info.param.name); });

// A handler whose program cannot be started, in the config kvd starts with: kvd starts and
// serves all the same, says in its log which program could not be started and why, shows the
// handler as restarting (no pid), tries again with backoff, and the failed attempts cost
// nothing. (A program that does not exist at all keeps kvd from starting:
// config_runnable_test.cpp.)
TEST(FaultyHandlerAtStart, ProgramThatCannotStartIsRetriedWithBackoff) {
    TempDir dir;
    std::string missing = unstartable_program(dir, "interpreter-missing");
    std::string witness_out = dir.file("witness.out");
    KvdOptions options;
    options.config =
        handler_toml("witness", "sync", {test_handler_path(), "--out", witness_out, "ack"}) +
        handler_toml("faulty", "sync", {missing},
                     "restart_delay = \"10ms\"\nrestart_delay_max = \"20ms\"\n");
    KvdProcess kvd(dir, options);
    ASSERT_TRUE(kvd.ready());
    Client client(kvd.socket_path());
    ASSERT_TRUE(is_ok(client.call("ping")));
    auto faulty = [&] { return handler_info(client, "faulty"); };
    ASSERT_TRUE(wait_until([&] { return faulty().value("restarts", 0) >= 3; }, 10s,
                           "kvd to try the handler again"));
    Json h = faulty();
    EXPECT_EQ(h["state"], "restarting") << h.dump();
    EXPECT_TRUE(h["pid"].is_null()) << h.dump();
    EXPECT_NE(kvd.log().find("handler faulty cannot start " + missing +
                             ": no such file or directory; restarting in"),
              std::string::npos)
        << kvd.log();

    // It holds nothing up: creates and stops complete, the witness sees them.
    const Footprint before = footprint_of(kvd.pid());
    ASSERT_TRUE(is_ok(client.call("create", {{"bucket", "b"}})));
    ASSERT_TRUE(is_ok(client.call("stop", {{"bucket", "b"}})));
    EXPECT_EQ(seqs_in(witness_out), one_to(2)) << read_file(witness_out);
    // Many more failed attempts later, kvd holds no more than before them.
    uint64_t restarts = faulty().value("restarts", uint64_t{0});
    ASSERT_TRUE(wait_until([&] { return faulty().value("restarts", uint64_t{0}) >= restarts + 10; },
                           10s, "ten more attempts"));
    // (Each attempt forks a child that fails to exec and is reaped at once, so a child may
    // show up for an instant; wait_footprint_back waits for the count to settle.)
    EXPECT_TRUE(wait_footprint_back(kvd.pid(), before));
}

// The same with restart = "never": one attempt, then the handler is shown stopped.
TEST(FaultyHandlerAtStart, ProgramThatCannotStartWithRestartNever) {
    TempDir dir;
    std::string missing = unstartable_program(dir, "interpreter-missing");
    KvdOptions options;
    options.config = handler_toml("faulty", "sync", {missing}, "restart = \"never\"\n");
    KvdProcess kvd(dir, options);
    ASSERT_TRUE(kvd.ready());
    Client client(kvd.socket_path());
    Json reply = client.call("handlers");
    ASSERT_TRUE(is_ok(reply));
    Json h = reply["result"]["handlers"][0];
    EXPECT_EQ(h["state"], "stopped") << h.dump();
    EXPECT_EQ(h["restarts"], 0) << h.dump();
    EXPECT_NE(kvd.log().find("handler faulty cannot start " + missing +
                             ": no such file or directory; not restarted (restart = never)"),
              std::string::npos)
        << kvd.log();
    EXPECT_TRUE(is_ok(client.call("create", {{"bucket", "b"}})));
    EXPECT_EQ(children_of(kvd.pid()).size(), 1u);
}

}  // namespace
}  // namespace kvd::test
