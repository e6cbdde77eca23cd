// One client of the control socket. Requests may be pipelined; each gets a reply slot in
// arrival order and replies leave strictly in that order, even when a later request (a
// `get`) finishes before an earlier one (a `create` waiting on sync handlers).
//
// Bound ([daemon] client_buffer_bytes): what a connection holds for its client, counted in
// bytes, is its replies not yet taken by the kernel, its finished replies waiting behind an
// unfinished one, and room for the reply of each request still under way (as large as its
// recent replies, at least kMinReplyRoom: see complete()). While that is at the bound kvd reads
// nothing more from the client; it reads again once the client has read enough. Requests
// under way still finish, so the bound can be passed by their replies.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/protocol.hpp"
#include "daemon/outcome.hpp"
#include "daemon/reply.hpp"
#include "daemon/uv/line_stream.hpp"
#include "daemon/uv/next_tick.hpp"

namespace kvd {

class Connection;

// What a connection carries instead of replies once a request turned it into a stream
// (`subscribe`, `logs` with `follow`). It lives as long as the connection.
class ConnectionStream {
  public:
    virtual ~ConnectionStream() = default;
    // The reply to the request that made it was written: the stream may start.
    virtual void go_live() = 0;
    // A line the client wrote.
    virtual void on_line(std::string_view line) = 0;
};

struct PeerCredentials {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
};

class Connection : public ReplySink, public std::enable_shared_from_this<Connection> {
  public:
    // `dispatch` runs each well-formed request line; `on_gone` runs once when the connection
    // is finished (the owner then drops it).
    using DispatchFn = std::function<void(Connection&, std::string_view line, Responder reply)>;
    using GoneFn = std::function<void(Connection&)>;

    // The room kept for the reply of a request under way, before any larger reply was seen.
    static constexpr std::size_t kMinReplyRoom = 64 * 1024;

    Connection(uv_loop_t* loop, uv::WriteBatcher& batcher, uint64_t number,
               std::size_t buffer_limit);
    ~Connection();

    int accept_from(uv_stream_t* server);
    void start(DispatchFn dispatch, GoneFn on_gone);
    // Sends one line and closes (a refused peer).
    void refuse(const std::string& line);

    uint64_t number() const { return number_; }
    std::optional<PeerCredentials> peer() const;
    uv::LineStream& stream() { return stream_; }

    // After `subscribe` or `logs follow`: the connection carries only the stream's lines (and
    // the client's, such as acks) from the moment every earlier reply was written. The stream
    // lives as long as the connection; a client that hangs up ends it.
    void attach_stream(std::unique_ptr<ConnectionStream> stream);
    bool streaming() const { return stream_mode_ != nullptr; }

    // Called through Responder.
    void complete(uint64_t serial, std::string&& reply_line) override;
    // Stops taking requests and closes once every pending reply was written.
    void finish();
    void close_now();

    // [daemon] client_buffer_bytes (see above); a reload may change it.
    void set_buffer_limit(std::size_t bytes);
    // The bytes counted against it now.
    std::size_t held_bytes() const;

  private:
    void on_line(std::string_view line);
    // A reply that is ready at once (not through a Responder), in order after the others.
    void push_answered(std::string line);
    void flush_ready();
    // Calls flush_ready() once everything queued on the stream was written.
    void flush_when_drained();
    void update_backpressure();
    void yield_if_busy();

    uv_loop_t* loop_;
    uv::LineStream stream_;
    uint64_t number_;
    DispatchFn dispatch_;
    GoneFn on_gone_;
    // Pending and completed-but-not-yet-sent replies, oldest first.
    struct Slot {
        uint64_t serial;
        std::optional<std::string> line;
    };
    std::deque<Slot> slots_;
    uint64_t next_serial_ = 0;
    std::size_t buffer_limit_;
    std::size_t unanswered_ = 0;      // slots without a reply yet
    std::size_t answered_bytes_ = 0;  // the replies in slots_
    std::size_t reply_room_ = kMinReplyRoom;
    bool finishing_ = false;
    std::unique_ptr<ConnectionStream> stream_mode_;
    bool live_ = false;
    bool waiting_for_drain_ = false;
    bool gone_ = false;
    // Reading is paused until the next loop iteration, because this round of callbacks has
    // already kept the loop busy too long (see yield_if_busy).
    bool yielding_ = false;
    std::unique_ptr<uv::NextTick> resume_;
};

}  // namespace kvd
