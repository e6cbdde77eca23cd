// What a Receiver needs of the stream to its peer (a handler process or a subscribed client):
// write event lines, and learn how far the peer is behind. An interface so that receivers
// can be unit-tested against a fake peer; UvPeerStream is the one kvd runs with.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

#include "daemon/uv/line_stream.hpp"

namespace kvd {

class PeerStream {
  public:
    virtual ~PeerStream() = default;

    // Queues one or more complete lines for the peer.
    virtual void write(std::string_view lines) = 0;
    // Whether lines can still be written (the stream has not ended).
    virtual bool is_open() const = 0;
    // Bytes queued that the stream has not handed to the kernel yet.
    virtual std::size_t queued_bytes() const = 0;
    // Bytes written that the peer has not read yet: queued_bytes() and what the kernel
    // holds for it. Never less than the truth; 0 once the peer read everything.
    virtual std::size_t unread_by_peer() const = 0;
    // Calls `fn` once everything queued so far was handed to the kernel (at once if nothing
    // is queued).
    virtual void when_drained(std::function<void()> fn) = 0;
};

// A PeerStream over a LineStream, which must outlive it (or at least its attachment to a
// receiver).
class UvPeerStream final : public PeerStream {
  public:
    explicit UvPeerStream(uv::LineStream& stream) : stream_(stream) {}

    void write(std::string_view lines) override { stream_.write(lines); }
    bool is_open() const override { return stream_.is_open(); }
    std::size_t queued_bytes() const override { return stream_.queued_bytes(); }
    std::size_t unread_by_peer() const override { return stream_.unread_by_peer(); }
    void when_drained(std::function<void()> fn) override { stream_.when_drained(std::move(fn)); }

  private:
    uv::LineStream& stream_;
};

}  // namespace kvd
