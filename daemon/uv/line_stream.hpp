// A connected stream socket spoken in lines: client connections, bucket and handler sockets.
//
// Reading: every complete line is handed to on_line; over-long lines and end of file end the
// stream through on_close. Writing: write() only appends to a buffer; the WriteBatcher flushes
// every dirty stream once per loop iteration, so the replies to a burst of pipelined requests
// leave in one syscall. At most one uv_write is in flight per stream.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/lifetime.hpp"
#include "common/line_buffer.hpp"
#include "daemon/uv/handle.hpp"

namespace kvd::uv {

class LineStream;

// Flushes the output of every stream that was written to, once before and once after each
// poll phase of the loop. One per loop, owned by the daemon.
class WriteBatcher {
  public:
    explicit WriteBatcher(uv_loop_t* loop);
    ~WriteBatcher();
    WriteBatcher(const WriteBatcher&) = delete;
    WriteBatcher& operator=(const WriteBatcher&) = delete;

    void mark_dirty(LineStream* s);
    void forget(LineStream* s);
    void flush_all();
    void close();

  private:
    Handle<uv_prepare_t> prepare_;
    Handle<uv_check_t> check_;
    std::vector<LineStream*> dirty_;
};

// Why a stream ended.
enum class StreamEnd { eof, error, line_too_long, closed_by_us };

class LineStream {
  public:
    using LineFn = std::function<void(std::string_view line)>;
    using CloseFn = std::function<void(StreamEnd why, int uv_error)>;

    LineStream(uv_loop_t* loop, WriteBatcher& batcher, std::size_t max_line_bytes);
    ~LineStream();
    LineStream(const LineStream&) = delete;
    LineStream& operator=(const LineStream&) = delete;

    // Wraps an open fd; returns a libuv error code (0 on success). The fd is ours either way.
    int open(int fd);
    // Accepts a pending connection from a listening pipe.
    int accept_from(uv_stream_t* server);

    // Starts delivering lines. on_close is called once, when the stream ends for any reason
    // other than close() (after which nothing is called). On a read or write error the
    // handle is already closed; on end of file or an over-long line reading has stopped but
    // queued output can still be flushed before the owner closes.
    void start(LineFn on_line, CloseFn on_close);
    // Stops/resumes reading (backpressure); lines already buffered wait too.
    void pause();
    void resume();

    // Queues bytes for writing (one or more complete lines).
    void write(std::string_view bytes);
    // Whether bytes were read that have not been delivered as lines yet.
    bool has_unread_input() const { return in_.pending_bytes() > 0; }
    // Bytes queued and not yet written.
    std::size_t queued_bytes() const { return out_.size() + in_flight_; }
    // Bytes written to this stream that the peer has not read yet, as far as kvd can tell:
    // queued_bytes() plus what the kernel holds for the peer (SIOCOUTQ). The kernel counts
    // its own overhead per write too, so this is never less than the truth; it reaches 0
    // once the peer read everything.
    std::size_t unread_by_peer() const;
    // Calls `fn` once everything queued so far was written (at once if nothing is queued).
    void when_drained(std::function<void()> fn);

    // Half-closes: no more writes; the peer sees end of file after the queued bytes.
    void shutdown_write();
    // Closes now; queued output not yet handed to the kernel is dropped.
    void close();
    bool is_open() const { return !handle_.closed(); }
    int fd() const;

    // Called by the WriteBatcher.
    void flush();

  private:
    static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
    void deliver_lines();
    void end(StreamEnd why, int err);
    void on_write_done(int status);
    // A write failed: ends the stream as an error (telling the owner) and closes it.
    void fail_write(int err);

    uv_loop_t* loop_;
    WriteBatcher& batcher_;
    Handle<uv_pipe_t> handle_;
    LineBuffer in_;
    LineFn on_line_;
    CloseFn on_close_;
    bool reading_ = false;
    bool paused_ = false;
    bool delivering_ = false;  // inside deliver_lines(): resume() does not deliver again
    bool dirty_ = false;
    bool shutdown_pending_ = false;
    std::string out_;
    std::size_t in_flight_ = 0;
    std::vector<std::function<void()>> drained_;
    // Expires when this object dies, so a callback that destroyed it can tell.
    Lifetime lifetime_;  // see common/lifetime.hpp
};

}  // namespace kvd::uv
