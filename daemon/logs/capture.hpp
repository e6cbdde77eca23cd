// Reads one output pipe of a bucket (its stderr, or its stdout) and feeds the lines to the
// bucket's log.
//
// A bucket that floods its output costs kvd bounded memory and bounded CPU, and loses
// nothing: kvd reads at most one buffer (64 KiB) from a pipe per loop turn, so other work
// (clients, other pipes, timers) runs between two reads; and at most kRateBytesPerSec per
// bucket and kTotalRateBytesPerSec for all buckets together (token buckets, with a burst of
// one second's worth). Past that, kvd stops reading the pipe until tokens are back; the
// bucket's writes then block on its full pipe (backpressure), as they would on a slow
// terminal. Memory per pipe: the line being assembled (at most kMaxLineBytes).
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>

#include "common/lifetime.hpp"
#include "daemon/logs/log_line.hpp"
#include "daemon/uv/handle.hpp"
#include "daemon/uv/next_tick.hpp"
#include "daemon/uv/timer.hpp"

namespace kvd::logs {

class BucketLog;

// A rate in bytes per second with a burst. Pure: the caller gives the loop time.
class TokenBucket {
  public:
    TokenBucket(uint64_t bytes_per_sec, uint64_t burst)
        : rate_(bytes_per_sec), burst_(burst), tokens_(static_cast<int64_t>(burst)) {}
    void refill(uint64_t now_ms);
    void take(std::size_t bytes) { tokens_ -= static_cast<int64_t>(bytes); }
    bool has_tokens() const { return tokens_ > 0; }
    // How long until has_tokens(), at least 1 ms once they are out.
    uint64_t wait_ms() const;

  private:
    uint64_t rate_;
    uint64_t burst_;
    int64_t tokens_;
    uint64_t last_ms_ = 0;
    bool started_ = false;
};

inline constexpr uint64_t kRateBytesPerSec = 16ull << 20;
inline constexpr uint64_t kTotalRateBytesPerSec = 32ull << 20;

class Capture {
  public:
    // `total` is shared by every capture and must outlive them.
    Capture(uv_loop_t* loop, BucketLog& log, Stream stream, TokenBucket& total);
    ~Capture();
    Capture(const Capture&) = delete;
    Capture& operator=(const Capture&) = delete;

    // Starts reading `fd` (the read end of a pipe, taken over whatever happens): 0 or a
    // libuv error code.
    int start(int fd);
    Stream stream() const { return stream_; }

  private:
    static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
    void take(std::string_view bytes);
    void pace();
    void schedule_read();
    void resume();
    void end();

    uv_loop_t* loop_;
    BucketLog& log_;
    Stream stream_;
    TokenBucket& total_;
    TokenBucket own_;
    LineSplitter splitter_;
    uv::Handle<uv_pipe_t> pipe_;
    std::unique_ptr<uv::NextTick> next_turn_;
    std::unique_ptr<uv::Timer> refill_;
    Lifetime lifetime_;
};

}  // namespace kvd::logs
