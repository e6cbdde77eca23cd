// daemon/uv/line_stream: what a stream holds for a peer that does not read (its output once,
// not a copy beside it), and how much it can tell the peer has not read yet (unread_by_peer).
// Each test runs a real loop over a socket pair, and the loop must close without leaked
// handles.
#include "daemon/uv/line_stream.hpp"

#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>

namespace kvd::uv {
namespace {

std::size_t heap_in_use() {
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

class LineStreamTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_EQ(uv_loop_init(&loop_), 0);
        int fds[2];
        ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        peer_ = fds[1];
        batcher_ = std::make_unique<WriteBatcher>(&loop_);
        stream_ = std::make_unique<LineStream>(&loop_, *batcher_, 1024);
        ASSERT_EQ(stream_->open(fds[0]), 0);
    }

    void TearDown() override {
        stream_.reset();
        batcher_.reset();
        ::close(peer_);
        uv_run(&loop_, UV_RUN_DEFAULT);
        EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
    }

    // What one loop iteration of kvd does, without blocking: the batcher flushes what was
    // written (called here: its handles do not keep a loop alive by themselves), and write
    // completions run.
    void turn() {
        batcher_->flush_all();
        uv_run(&loop_, UV_RUN_NOWAIT);
    }

    // Reads everything the peer has been sent so far.
    std::size_t drain_peer() {
        std::size_t total = 0;
        char buf[65536];
        for (;;) {
            ssize_t n = recv(peer_, buf, sizeof buf, MSG_DONTWAIT);
            if (n <= 0) return total;
            total += static_cast<std::size_t>(n);
        }
    }

    uv_loop_t loop_;
    int peer_ = -1;
    std::unique_ptr<WriteBatcher> batcher_;
    std::unique_ptr<LineStream> stream_;
};

// A line whose callback pauses the stream and resumes it at once (a request that fails at
// once and so lifts the backpressure it set) must not make delivery recurse: every line of a
// long pipelined batch is delivered at the same depth of the stack. Recursing, a client
// pipelining requests to a dead bucket overflowed kvd's stack.
TEST_F(LineStreamTest, ResumingFromALineCallbackDoesNotRecurse) {
    constexpr int kLines = 20000;
    std::string batch;
    for (int i = 0; i < kLines; ++i) batch += "r\n";
    ASSERT_EQ(send(peer_, batch.data(), batch.size(), 0), static_cast<ssize_t>(batch.size()));
    int delivered = 0;
    std::uintptr_t lowest = UINTPTR_MAX, highest = 0;
    stream_->start(
        [&](std::string_view) {
            char here = 0;
            auto at = reinterpret_cast<std::uintptr_t>(&here);
            lowest = std::min(lowest, at);
            highest = std::max(highest, at);
            ++delivered;
            stream_->pause();
            stream_->resume();
        },
        [](StreamEnd, int) {});
    for (int i = 0; i < 10000 && delivered < kLines; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
    EXPECT_EQ(delivered, kLines);
    EXPECT_LT(highest - lowest, 64u * 1024)
        << "delivery recursed: the stack grew by " << (highest - lowest) << " bytes";
}

TEST_F(LineStreamTest, OutputThePeerDoesNotReadIsHeldOnce) {
    const std::string line(1023, 'x');
    constexpr std::size_t kBytes = 8 * 1024 * 1024;
    const std::size_t before = heap_in_use();
    {
        std::string batch;
        for (std::size_t n = 0; n < kBytes; n += 1024) batch += line + "\n";
        stream_->write(batch);
    }
    turn();  // the socket takes a part, a write is queued for the rest
    turn();
    EXPECT_GT(stream_->queued_bytes(), kBytes / 2);
    const std::size_t held = heap_in_use() - before;
    EXPECT_LT(held, kBytes + kBytes / 8) << "the unwritten output is held more than once";

    // Everything arrives once the peer reads.
    std::size_t received = 0;
    while (received < kBytes) {
        received += drain_peer();
        turn();
    }
    EXPECT_EQ(received, kBytes);
    EXPECT_EQ(stream_->queued_bytes(), 0u);
}

TEST_F(LineStreamTest, UnreadByPeerCountsWhatTheKernelHoldsUntilThePeerReads) {
    EXPECT_EQ(stream_->unread_by_peer(), 0u);
    for (int i = 0; i < 3; ++i) stream_->write(std::string(99, 'e') + "\n");
    EXPECT_GE(stream_->unread_by_peer(), 300u);  // still in the stream's own buffer
    turn();
    EXPECT_EQ(stream_->queued_bytes(), 0u);
    EXPECT_GE(stream_->unread_by_peer(), 300u);  // now in the socket, unread
    EXPECT_EQ(drain_peer(), 300u);
    EXPECT_EQ(stream_->unread_by_peer(), 0u);
}

}  // namespace
}  // namespace kvd::uv
