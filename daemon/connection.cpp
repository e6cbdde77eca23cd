#include "daemon/connection.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>

#include "common/wire.hpp"

namespace kvd {

namespace {
// How long one round of loop callbacks may spend on requests before the connection lets the
// loop look at timers and other sockets again.
constexpr uint64_t kBusyBudgetMs = 20;
}  // namespace

// ---- Connection --------------------------------------------------------------------------

Connection::Connection(uv_loop_t* loop, uv::WriteBatcher& batcher, uint64_t number,
                       std::size_t buffer_limit)
    : loop_(loop),
      stream_(loop, batcher, wire::kMaxLineBytes),
      number_(number),
      buffer_limit_(buffer_limit) {}

Connection::~Connection() {
    stream_mode_.reset();  // leaves the event manager before the stream goes
    if (resume_) resume_->close();
    stream_.close();
}

void Connection::attach_stream(std::unique_ptr<ConnectionStream> stream) {
    stream_mode_ = std::move(stream);
}

int Connection::accept_from(uv_stream_t* server) {
    return stream_.accept_from(server);
}

std::optional<PeerCredentials> Connection::peer() const {
    struct ucred cred {};
    socklen_t len = sizeof cred;
    int fd = stream_.fd();
    if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return std::nullopt;
    return PeerCredentials{cred.pid, cred.uid, cred.gid};
}

void Connection::start(DispatchFn dispatch, GoneFn on_gone) {
    dispatch_ = std::move(dispatch);
    on_gone_ = std::move(on_gone);
    stream_.start([this](std::string_view line) { on_line(line); },
                  [this](uv::StreamEnd why, int err) {
                      if (why == uv::StreamEnd::line_too_long) {
                          // Answer in order after what is pending, then hang up.
                          push_answered(reply_error(
                              nullptr, wire::ErrorCode::limit,
                              fmt::format("request line longer than {} bytes; closing the "
                                          "connection",
                                          wire::kMaxLineBytes)));
                          flush_ready();
                          finish();
                          return;
                      }
                      if (why == uv::StreamEnd::error)
                          spdlog::debug("client {}: {}", number_, uv_strerror(err));
                      // End of file: the client may have only half-closed; still answer it.
                      // A subscriber that hangs up is gone, though.
                      if (why == uv::StreamEnd::eof && !stream_mode_)
                          finish();
                      else
                          close_now();
                  });
}

void Connection::refuse(const std::string& line) {
    finishing_ = true;
    stream_.write(line);
    finish();
}

void Connection::on_line(std::string_view line) {
    if (stream_mode_) {
        stream_mode_->on_line(line);
        return;
    }
    if (finishing_) return;
    uint64_t serial = next_serial_++;
    slots_.push_back({serial, std::nullopt});
    ++unanswered_;
    update_backpressure();
    // The dispatcher parses the line; a malformed one is answered through the reply.
    std::weak_ptr<Connection> alive = weak_from_this();
    dispatch_(*this, line, Responder(alive, serial, "null"));
    if (!alive.expired()) yield_if_busy();
}

// Some requests block the loop for a while (a create waits in uv_spawn until the child has
// exec'ed, which takes milliseconds, or much longer on a loaded machine), and a client can
// pipeline thousands of them in one read. Handled in one go, they would keep kvd from reading
// anything else for seconds: handlers' acks and buckets' replies would sit unread while
// their timers (ack_timeout, a stop's SIGKILL) ran out against a loop clock that had not
// moved, so prompt handlers were killed as unresponsive, buckets were SIGKILLed before they
// could answer, and pings went unanswered. So once this round of callbacks has run past the
// budget, the rest of this client's lines wait for the next loop iteration; the loop polls
// every socket (and updates its clock) in between.
void Connection::yield_if_busy() {
    // With nothing more from this client at hand there is nothing to put off.
    if (yielding_ || finishing_ || gone_ || stream_mode_ || !stream_.has_unread_input()) return;
    // uv_now() is the loop time taken when this round of callbacks began.
    uint64_t busy_ms = uv_hrtime() / 1'000'000 - uv_now(loop_);
    if (busy_ms < kBusyBudgetMs) return;
    yielding_ = true;
    stream_.pause();
    if (!resume_) resume_ = std::make_unique<uv::NextTick>(loop_);
    std::weak_ptr<Connection> weak = weak_from_this();
    resume_->schedule([weak] {
        auto self = weak.lock();  // held while buffered lines are handled
        if (!self || self->gone_) return;
        self->yielding_ = false;
        self->update_backpressure();
    });
}

void Connection::complete(uint64_t serial, std::string&& reply_line) {
    if (gone_ || slots_.empty() || serial < slots_.front().serial) return;
    std::size_t index = serial - slots_.front().serial;
    if (index >= slots_.size() || slots_[index].line) return;  // answered twice: first wins
    --unanswered_;
    answered_bytes_ += reply_line.size();
    // The room a request under way is counted for follows the replies: a large one raises it
    // at once, and each smaller one after it halves it, so one large `keys` does not hold
    // this connection's pipelining down for good.
    reply_room_ = std::max({kMinReplyRoom, reply_line.size(), reply_room_ / 2});
    slots_[index].line = std::move(reply_line);
    if (index == 0)
        flush_ready();
    else
        update_backpressure();  // it waits behind an earlier one: counted by its own size now
}

void Connection::push_answered(std::string line) {
    answered_bytes_ += line.size();
    slots_.push_back({next_serial_++, std::move(line)});
}

std::size_t Connection::held_bytes() const {
    return stream_.queued_bytes() + answered_bytes_ + unanswered_ * reply_room_;
}

// Takes effect at the next request, reply or drain: a paused connection always has one
// coming, and resuming here could run this client's requests inside someone else's.
void Connection::set_buffer_limit(std::size_t bytes) {
    buffer_limit_ = bytes;
}

void Connection::flush_ready() {
    while (!slots_.empty() && slots_.front().line) {
        // The write queue takes replies up to the bound; the rest wait where they are (counted
        // all the same) until it drains, rather than be copied into it all at once.
        if (stream_.queued_bytes() >= buffer_limit_) {
            flush_when_drained();
            break;
        }
        stream_.write(*slots_.front().line);
        answered_bytes_ -= slots_.front().line->size();
        slots_.pop_front();
    }
    update_backpressure();
    if (stream_mode_ && !live_ && slots_.empty()) {
        live_ = true;
        stream_mode_->go_live();
    }
    if (finishing_ && slots_.empty()) {
        // Everything answered: close once the bytes are out.
        auto self = weak_from_this();
        stream_.when_drained([self] {
            if (auto c = self.lock()) c->close_now();
        });
    }
}

void Connection::update_backpressure() {
    if (finishing_ || yielding_) return;
    if (stream_mode_) {
        stream_.resume();  // a subscriber's acks must always be read
        return;
    }
    if (held_bytes() >= buffer_limit_) {
        stream_.pause();
        if (stream_.queued_bytes() > 0) flush_when_drained();
    } else {
        stream_.resume();
    }
}

void Connection::flush_when_drained() {
    if (waiting_for_drain_) return;
    waiting_for_drain_ = true;
    auto self = weak_from_this();
    stream_.when_drained([self] {
        if (auto c = self.lock()) {
            c->waiting_for_drain_ = false;
            c->flush_ready();  // and reads again if it is under the bound
        }
    });
}

void Connection::finish() {
    finishing_ = true;
    flush_ready();
}

void Connection::close_now() {
    if (gone_) return;
    gone_ = true;
    stream_mode_.reset();  // removed the moment the client is gone
    stream_.close();
    slots_.clear();
    unanswered_ = 0;
    answered_bytes_ = 0;
    if (on_gone_) {
        auto fn = std::move(on_gone_);
        on_gone_ = nullptr;
        fn(*this);  // may destroy this object
    }
}

}  // namespace kvd
