// What the event manager and receiver tests share: a fake peer standing in for a handler's or
// a client's stream, a real libuv loop for the receivers' timers that a test runs until a
// condition holds (under a deadline, never a sleep), and event helpers.
#pragma once

#include <gtest/gtest.h>
#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/event.hpp"
#include "common/protocol.hpp"
#include "daemon/event_manager.hpp"
#include "daemon/peer_stream.hpp"
#include "daemon/receiver.hpp"

namespace kvd::testing {

// A peer that records every line written to it and reads only when the test says so. The
// stream hands what is written straight to the kernel (unread by the peer until read_all());
// while stalled, it keeps it queued instead, as a LineStream does when the socket is full.
class FakePeer final : public PeerStream {
  public:
    void write(std::string_view bytes) override {
        while (!bytes.empty()) {
            std::size_t end = bytes.find('\n');
            std::size_t n = end == std::string_view::npos ? bytes.size() : end + 1;
            lines.emplace_back(bytes.substr(0, n));
            (stalled_ ? queued_ : in_kernel_) += n;
            bytes.remove_prefix(n);
        }
    }
    bool is_open() const override { return open; }
    std::size_t queued_bytes() const override { return queued_; }
    std::size_t unread_by_peer() const override { return queued_ + in_kernel_; }
    void when_drained(std::function<void()> fn) override {
        if (queued_ == 0)
            fn();
        else
            drain_waiters_.push_back(std::move(fn));
    }

    // From now on writes stay in the stream's own buffer.
    void stall() { stalled_ = true; }
    // The socket takes everything queued; who waits for that is told.
    void unstall() {
        stalled_ = false;
        in_kernel_ += queued_;
        queued_ = 0;
        auto waiters = std::move(drain_waiters_);
        drain_waiters_.clear();
        for (auto& fn : waiters) fn();
    }
    // The peer reads everything the kernel holds for it.
    void read_all() { in_kernel_ = 0; }

    // The `seq` of each line written, in order.
    std::vector<uint64_t> seqs() const {
        std::vector<uint64_t> out;
        for (const auto& l : lines) out.push_back(Json::parse(l).at("seq").get<uint64_t>());
        return out;
    }
    // The `type` of each line written, in order.
    std::vector<std::string> types() const {
        std::vector<std::string> out;
        for (const auto& l : lines) out.push_back(Json::parse(l).at("type").get<std::string>());
        return out;
    }

    std::vector<std::string> lines;
    bool open = true;

  private:
    bool stalled_ = false;
    std::size_t queued_ = 0;
    std::size_t in_kernel_ = 0;
    std::vector<std::function<void()>> drain_waiters_;
};

// A custom event of `type`, with `padding` bytes of data to make its line longer.
inline Event custom_event(std::string type, std::size_t padding = 0) {
    Event e;
    e.type = std::move(type);
    e.data = padding > 0 ? Json(std::string(padding, 'p')) : Json(nullptr);
    return e;
}

inline Event create_event(std::string bucket, pid_t pid = 4242) {
    Event e;
    e.type = "create";
    e.bucket = std::move(bucket);
    e.pid = pid;
    return e;
}

inline Event exit_event(std::string bucket, pid_t pid = 4242) {
    Event e;
    e.type = "exit";
    e.bucket = std::move(bucket);
    e.pid = pid;
    e.code = 0;
    e.reason = "exited";
    return e;
}

inline ReceiverOptions sync_options(std::string name = "sync") {
    ReceiverOptions o;
    o.name = std::move(name);
    o.mode = HandlerMode::sync;
    return o;
}

inline ReceiverOptions async_options(std::size_t queue_limit = 1000, std::string name = "async") {
    ReceiverOptions o;
    o.name = std::move(name);
    o.mode = HandlerMode::async;
    o.queue_limit = queue_limit;
    return o;
}

// A fixture owning a loop for the receivers' timers. Receivers made by the test must be
// gone before TearDown, which fails the test if the loop still holds a handle.
class EventLoopTest : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_EQ(uv_loop_init(&loop_), 0); }

    void TearDown() override {
        uv_run(&loop_, UV_RUN_DEFAULT);  // only close callbacks are left
        EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
    }

    // Runs the loop until `done()` holds, or for at most `limit`; returns whether it held. The
    // condition is looked at before each wait for I/O, so that a wait does not outlast it,
    // and every few milliseconds for what no callback of the loop tells (a peer that reads).
    bool run_until(const std::function<bool()>& done,
                   std::chrono::milliseconds limit = std::chrono::seconds(5)) {
        if (done()) return true;
        struct Wait {
            uv_prepare_t prepare;
            uv_timer_t tick;
            const std::function<bool()>* done;
            std::chrono::steady_clock::time_point deadline;
            bool met = false;
            int open = 2;
        };
        auto* wait = new Wait;
        wait->done = &done;
        wait->deadline = std::chrono::steady_clock::now() + limit;
        uv_prepare_init(&loop_, &wait->prepare);
        uv_timer_init(&loop_, &wait->tick);
        wait->prepare.data = wait->tick.data = wait;
        uv_prepare_start(&wait->prepare, [](uv_prepare_t* p) {
            auto* w = static_cast<Wait*>(p->data);
            if ((*w->done)()) {
                w->met = true;
                uv_stop(p->loop);
            }
        });
        uv_timer_start(
            &wait->tick,
            [](uv_timer_t* t) {
                if (std::chrono::steady_clock::now() >= static_cast<Wait*>(t->data)->deadline)
                    uv_stop(t->loop);
            },
            kTick, kTick);
        uv_run(&loop_, UV_RUN_DEFAULT);
        // What was seen counts: a state that held then may have passed by the time the
        // handles below are closed (a handler that crashes on each event runs only briefly).
        const bool met = wait->met;
        auto closed = [](uv_handle_t* h) {
            auto* w = static_cast<Wait*>(h->data);
            if (--w->open == 0) delete w;
        };
        uv_close(reinterpret_cast<uv_handle_t*>(&wait->prepare), closed);
        uv_close(reinterpret_cast<uv_handle_t*>(&wait->tick), closed);
        uv_run(&loop_, UV_RUN_NOWAIT);
        return met || done();
    }

    static constexpr uint64_t kTick = 2;  // ms

    uv_loop_t loop_;
};

}  // namespace kvd::testing
