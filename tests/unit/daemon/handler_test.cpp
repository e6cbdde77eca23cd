// daemon/handler and daemon/handler_set: a handler's states (running, restarting, stopping,
// stopped) and what it owes its process across restarts, stops and reloads. A handler's
// process cannot be faked without a spawn seam, so these run the real helper program that
// plays every test handler (tests/helpers/test_handler), on the test's loop, each wait under
// a deadline.
#include "daemon/handler.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "daemon/handler_set.hpp"
#include "daemon/proc/process_table.hpp"
#include "daemon/uv/line_stream.hpp"
#include "tests/unit/daemon/event_test_support.hpp"

namespace kvd::testing {
namespace {

using Seqs = std::vector<uint64_t>;
using std::chrono::milliseconds;

// How long a handler process may take to do what a test waits for, sanitizers included.
constexpr milliseconds kProcessDeadline{10000 * KVD_TEST_TIME_SCALE};

class HandlerTest : public EventLoopTest {
  protected:
    void SetUp() override {
        EventLoopTest::SetUp();
        batcher_ = std::make_unique<uv::WriteBatcher>(&loop_);
        processes_ = std::make_unique<proc::ProcessTable>(&loop_);
    }

    void TearDown() override {
        processes_->close();
        batcher_->close();
        processes_.reset();
        batcher_.reset();
        EventLoopTest::TearDown();
    }

    HandlerEnv env() {
        return HandlerEnv{&loop_,  *batcher_,      *processes_,
                          events_, "/nonexistent", "0123456789abcdef0123456789abcdef"};
    }

    // A handler running test_handler with `args`, restarted after 1 ms (doubling to 20 ms).
    static HandlerConfig config(std::string name, std::vector<std::string> args,
                                HandlerMode mode = HandlerMode::sync) {
        HandlerConfig c;
        c.name = std::move(name);
        c.command = {KVD_TEST_HANDLER};
        c.command.insert(c.command.end(), args.begin(), args.end());
        c.mode = mode;
        c.restart_delay = milliseconds(1);
        c.restart_delay_max = milliseconds(20);
        return c;
    }

    bool wait(const std::function<bool()>& done) { return run_until(done, kProcessDeadline); }

    // Stops `h` (end of file on its stdin, if it runs) and waits until its process is gone.
    void stop(Handler& h) {
        bool stopped = false;
        const bool was_running = h.state() == Handler::State::running;
        h.stop(milliseconds(5000), [&] { stopped = true; });
        // A running handler stops once its process is gone; one between runs, at once.
        EXPECT_EQ(h.state(), was_running ? Handler::State::stopping : Handler::State::stopped);
        ASSERT_TRUE(wait([&] { return stopped; }));
        EXPECT_EQ(h.state(), Handler::State::stopped);
        EXPECT_EQ(h.pid(), 0);
    }

    uint64_t publish(std::string type = "e") {
        uint64_t seq = events_.last_seq() + 1;
        events_.publish(custom_event(std::move(type)), [this, seq] { delivered_.push_back(seq); });
        return seq;
    }

    static uint64_t info(const Handler& h, const char* key) {
        return h.info().at(key).get<uint64_t>();
    }

    EventManager events_{EventBounds{}};
    std::unique_ptr<uv::WriteBatcher> batcher_;
    std::unique_ptr<proc::ProcessTable> processes_;
    Seqs delivered_;  // the seqs whose `delivered` ran, in that order
};

TEST_F(HandlerTest, ARunningSyncHandlerAcksEachEvent) {
    Handler h(env(), config("audit", {"ack-json"}));
    h.start();
    EXPECT_EQ(h.state(), Handler::State::running);
    EXPECT_GT(h.pid(), 0);
    EXPECT_EQ(events_.handler_count(), 1u);

    publish();
    publish();
    ASSERT_TRUE(wait([&] { return delivered_.size() == 2; }));
    EXPECT_EQ(delivered_, (Seqs{1, 2}));
    EXPECT_EQ(info(h, "delivered"), 2u);
    EXPECT_EQ(info(h, "acked"), 2u);
    EXPECT_EQ(info(h, "queued"), 0u);
    EXPECT_EQ(h.info().at("state"), "running");
    stop(h);
}

TEST_F(HandlerTest, AnExitedHandlerIsRestartedAndGetsWhatItHadNotAcked) {
    Handler h(env(), config("once", {"exit-after", "1"}));  // each run acks one event
    h.start();
    const pid_t first = h.pid();
    publish();
    publish();
    publish();
    ASSERT_TRUE(wait([&] { return info(h, "acked") == 3; }));
    EXPECT_EQ(delivered_, (Seqs{1, 2, 3}));
    EXPECT_GE(info(h, "restarts"), 2u);
    EXPECT_EQ(info(h, "queued"), 0u);

    // Every run exits after its ack (or at once when nothing is queued) and is restarted.
    ASSERT_TRUE(wait([&] { return info(h, "restarts") >= 3 && h.pid() > 0 && h.pid() != first; }));
    stop(h);
}

TEST_F(HandlerTest, AHandlerThatFailsOnEveryEventGetsItAgainEachRun) {
    Handler h(env(), config("crashing", {"exit-on-event"}));
    h.start();
    publish();
    ASSERT_TRUE(wait([&] { return info(h, "delivered") >= 3; }));
    EXPECT_EQ(delivered_, (Seqs{1})) << "nobody waits on a handler that went down";
    EXPECT_EQ(info(h, "acked"), 0u);
    EXPECT_EQ(info(h, "queued"), 1u) << "kept for the next run";
    EXPECT_GE(info(h, "restarts"), 2u);
    ASSERT_TRUE(wait([&] { return h.state() == Handler::State::running; }));
    stop(h);
    EXPECT_EQ(info(h, "queued"), 0u) << "a stopped handler lets go of its events";
}

TEST_F(HandlerTest, RestartNeverLeavesAnExitedHandlerStopped) {
    HandlerConfig c = config("never", {"exit-after", "0"});
    c.restart = RestartPolicy::never;
    Handler h(env(), c);
    h.start();
    ASSERT_TRUE(wait([&] { return h.state() == Handler::State::stopped; }));
    EXPECT_EQ(h.pid(), 0);
    EXPECT_EQ(info(h, "restarts"), 0u);
    EXPECT_EQ(events_.handler_count(), 0u) << "events are not kept for it any more";
    publish();
    EXPECT_EQ(delivered_, (Seqs{1}));
}

TEST_F(HandlerTest, OnFailureRestartsAFailedRun) {
    HandlerConfig c = config("on-failure", {"exit-after", "0"});  // exits with status 1
    c.restart = RestartPolicy::on_failure;
    Handler h(env(), c);
    h.start();
    ASSERT_TRUE(wait([&] { return info(h, "restarts") >= 2; }));
    EXPECT_NE(h.state(), Handler::State::stopped);
    bool stopped = false;
    h.stop(milliseconds(5000), [&] { stopped = true; });
    ASSERT_TRUE(wait([&] { return stopped; }));
    EXPECT_EQ(h.state(), Handler::State::stopped);
}

TEST_F(HandlerTest, AMissedAckTimeoutKillsAndRestartsTheHandler) {
    HandlerConfig c = config("deaf", {"never-ack"});
    c.ack_timeout = milliseconds(20);
    Handler h(env(), c);
    h.start();
    const pid_t first = h.pid();
    publish();
    ASSERT_TRUE(wait([&] { return !delivered_.empty(); }));
    ASSERT_TRUE(wait([&] { return info(h, "restarts") == 1 && h.pid() > 0; }));
    EXPECT_NE(h.pid(), first);
    EXPECT_EQ(info(h, "acked"), 0u);
    EXPECT_GE(info(h, "delivered"), 2u) << "the event goes to the new process too";
    stop(h);
}

TEST_F(HandlerTest, AnAsyncHandlerIsWrittenToWithoutWaiting) {
    Handler h(env(), config("forwarder", {"async"}, HandlerMode::async));
    h.start();
    publish();
    publish();
    EXPECT_EQ(delivered_, (Seqs{1, 2}));
    ASSERT_TRUE(wait([&] { return info(h, "queued") == 0; })) << "the process reads them";
    EXPECT_EQ(info(h, "delivered"), 2u);
    stop(h);
}

TEST_F(HandlerTest, ReloadStartsStopsAndRestartsByDifference) {
    HandlerSet set(env());
    set.start_all({config("kept", {"ack"}), config("changed", {"ack"}), config("gone", {"ack"})});
    ASSERT_EQ(set.size(), 3u);

    ReloadSummary s = set.reload(
        {config("kept", {"ack"}), config("changed", {"ack-json"}), config("new", {"ack"})});
    EXPECT_EQ(s.started, (std::vector<std::string>{"new"}));
    EXPECT_EQ(s.stopped, (std::vector<std::string>{"gone"}));
    EXPECT_EQ(s.restarted, (std::vector<std::string>{"changed"}));
    std::vector<std::string> names;
    for (const auto& row : set.info()) names.push_back(row.at("name").get<std::string>());
    EXPECT_EQ(names, (std::vector<std::string>{"changed", "kept", "new"}));

    publish();
    ASSERT_TRUE(wait([&] { return delivered_.size() == 1; })) << "every sync handler acked";

    bool stopped = false;
    set.stop_all(milliseconds(5000), [&] { stopped = true; });
    ASSERT_TRUE(wait([&] { return stopped; }));
}

TEST_F(HandlerTest, ARestartedHandlerGetsWhatItsPredecessorOwedOnReload) {
    HandlerSet set(env());
    set.start_all({config("audit", {"never-ack"})});
    publish();
    publish();
    const Json before = set.info().at(0);
    ASSERT_TRUE(wait([&] { return set.info().at(0).at("delivered") == 1; }));

    set.reload({config("audit", {"ack"})});  // the new run acks
    ASSERT_TRUE(wait([&] { return set.info().at(0).at("acked") == 2; }));
    EXPECT_EQ(delivered_, (Seqs{1, 2}));
    EXPECT_NE(set.info().at(0).at("pid"), before.at("pid"));

    bool stopped = false;
    set.stop_all(milliseconds(5000), [&] { stopped = true; });
    ASSERT_TRUE(wait([&] { return stopped; }));
}

}  // namespace
}  // namespace kvd::testing
