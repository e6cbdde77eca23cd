// A handler that exits is restarted according to `restart` (always | on-failure | never),
// with exponential backoff between restart_delay and restart_delay_max. "Failure" is how
// the process ended: a non-zero status or a signal; a handler that exits 0 by itself did not
// fail, even though kvd sees its socket close before it sees the exit.
#include <chrono>
#include <string>

#include "tests/e2e/harness.hpp"

namespace kvd::test {
namespace {

using Clock = std::chrono::steady_clock;

// Reads one event, acks it, and exits 0.
Json exit_zero_after_one_event() {
    return {"/bin/sh", "-c", "read -r ev; echo ok; exit 0"};
}
// Acks one event, and exits 1.
Json exit_one_after_one_event() {
    return {test_handler_path(), "exit-after", "1"};
}

class EventsRestartPolicy : public ::testing::Test {
  protected:
    void start(
        const std::string& restart, const Json& command,
        const std::string& delays = "restart_delay = \"10ms\"\nrestart_delay_max = \"50ms\"\n") {
        KvdOptions options;
        options.config = "[[handler]]\nname = \"h\"\nmode = \"sync\"\nrestart = \"" + restart +
                         "\"\n" + delays + "command = " + command.dump() + "\n";
        kvd_ = std::make_unique<KvdProcess>(dir_, options);
        ASSERT_TRUE(kvd_->ready());
        client_ = std::make_unique<Client>(kvd_->socket_path());
        ASSERT_TRUE(client_->connected()) << client_->connect_error();
    }

    Json info() {
        Json reply = client_->call("handlers");
        if (!is_ok(reply) || reply["result"]["handlers"].size() != 1) return Json::object();
        return reply["result"]["handlers"][0];
    }

    // Waits until the handler is running and returns its pid (-1 at the deadline).
    pid_t running_pid() {
        pid_t pid = -1;
        wait_until(
            [&] {
                Json h = info();
                if (!h.is_object() || h["state"] != "running" || !h["pid"].is_number_integer())
                    return false;
                pid = h["pid"];
                return true;
            },
            10s, "the handler to run");
        return pid;
    }

    // Sends the handler one event, which it acks before it exits, and waits for the process
    // to be gone.
    void make_it_exit(pid_t pid) {
        ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "bye"}, {"sync", true}})));
        ASSERT_TRUE(wait_until([&] { return !process_alive(pid); }, 10s, "the handler to exit"));
    }

    TempDir dir_;
    std::unique_ptr<KvdProcess> kvd_;
    std::unique_ptr<Client> client_;
};

TEST_F(EventsRestartPolicy, OnFailureLeavesACleanExitAlone) {
    ASSERT_NO_FATAL_FAILURE(start("on-failure", exit_zero_after_one_event()));
    pid_t pid = running_pid();
    ASSERT_GT(pid, 0);
    ASSERT_NO_FATAL_FAILURE(make_it_exit(pid));

    // Exit status 0 is not a failure: it stays stopped.
    EXPECT_TRUE(wait_until([&] { return info().value("state", "") == "stopped"; }, 10s,
                           "the handler to be stopped"))
        << info().dump();
    Json h = info();
    EXPECT_EQ(h["restarts"], 0) << h.dump();
    EXPECT_TRUE(h["pid"].is_null()) << h.dump();
    EXPECT_EQ(h["acked"], 1) << h.dump();
}

TEST_F(EventsRestartPolicy, OnFailureRestartsAFailedExit) {
    ASSERT_NO_FATAL_FAILURE(start("on-failure", exit_one_after_one_event()));
    pid_t pid = running_pid();
    ASSERT_GT(pid, 0);
    ASSERT_NO_FATAL_FAILURE(make_it_exit(pid));
    EXPECT_TRUE(wait_until(
        [&] {
            Json h = info();
            return h.value("restarts", 0) >= 1 && h["state"] == "running" && h["pid"] != pid;
        },
        10s, "the failed handler to be restarted"))
        << info().dump();
}

TEST_F(EventsRestartPolicy, AlwaysRestartsEvenACleanExit) {
    ASSERT_NO_FATAL_FAILURE(start("always", exit_zero_after_one_event()));
    pid_t pid = running_pid();
    ASSERT_GT(pid, 0);
    ASSERT_NO_FATAL_FAILURE(make_it_exit(pid));
    EXPECT_TRUE(wait_until(
        [&] {
            Json h = info();
            return h.value("restarts", 0) >= 1 && h["state"] == "running" && h["pid"] != pid;
        },
        10s, "the handler to be restarted"))
        << info().dump();
}

// A handler that will never run again neither holds up sync operations nor keeps the events
// published after it is gone.
TEST_F(EventsRestartPolicy, NeverLeavesItStoppedAndKeepsNothingForIt) {
    ASSERT_NO_FATAL_FAILURE(start("never", exit_one_after_one_event()));
    pid_t pid = running_pid();
    ASSERT_GT(pid, 0);
    ASSERT_NO_FATAL_FAILURE(make_it_exit(pid));
    ASSERT_TRUE(wait_until([&] { return info().value("state", "") == "stopped"; }, 10s,
                           "the handler to be stopped"))
        << info().dump();

    for (int i = 0; i < 50; ++i)
        ASSERT_TRUE(is_ok(client_->call("notify", {{"type", "t"}, {"data", i}, {"sync", true}})));
    ASSERT_TRUE(is_ok(client_->call("create", {{"bucket", "a"}})));
    Json h = info();
    EXPECT_EQ(h["state"], "stopped");
    EXPECT_EQ(h["restarts"], 0) << h.dump();
    EXPECT_EQ(h["queued"], 0) << "events pile up for a handler that will never run again: "
                              << h.dump();
}

// Backoff: restart_delay doubling per consecutive failure, capped at restart_delay_max. The
// first four restarts wait at least 100 + 200 + 400 + 400 ms (a lower bound only).
TEST_F(EventsRestartPolicy, BackoffDoublesUpToTheMaximum) {
    auto started = Clock::now();
    ASSERT_NO_FATAL_FAILURE(start("always", Json{test_handler_path(), "exit-after", "0"},
                                  "restart_delay = \"100ms\"\nrestart_delay_max = \"400ms\"\n"));
    ASSERT_TRUE(wait_until([&] { return info().value("restarts", 0) >= 4; }, 20s, "four restarts"))
        << info().dump();
    EXPECT_GE(Clock::now() - started, 1100ms);
    std::string log = kvd_->log();
    EXPECT_NE(log.find("restarting in 100ms"), std::string::npos) << log;
    EXPECT_NE(log.find("restarting in 200ms"), std::string::npos) << log;
    EXPECT_NE(log.find("restarting in 400ms"), std::string::npos) << log;
    EXPECT_EQ(log.find("restarting in 800ms"), std::string::npos) << log;
}

}  // namespace
}  // namespace kvd::test
