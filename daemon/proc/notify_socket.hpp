// Readiness notifications from children, with sd_notify's protocol: a child of a kind with
// `ready = "notify"` gets NOTIFY_SOCKET in its environment and sends "READY=1" (and other
// KEY=VALUE lines, which are ignored) as one datagram. The socket is a datagram socket in
// the abstract namespace with SO_PASSCRED, so the kernel tells which process sent each
// message; a message is taken only from a child's main process or a direct child of it (a
// script running `systemd-notify --ready`), as the owner decides.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <functional>
#include <string>
#include <string_view>

#include "daemon/uv/handle.hpp"

namespace kvd::proc {

class NotifySocket {
  public:
    // `on_ready(pid)` runs for each READY=1 received, with the sender's pid.
    using ReadyFn = std::function<void(pid_t sender)>;

    NotifySocket(uv_loop_t* loop, ReadyFn on_ready);
    ~NotifySocket();
    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;

    // Opens the socket (once; later calls return at once): 0 or a libuv error code.
    int open();
    // The NOTIFY_SOCKET value for children ("@kvd-notify-…"); empty before open().
    const std::string& address() const { return address_; }
    void close();

  private:
    void on_readable();

    uv_loop_t* loop_;
    int fd_ = -1;
    uv::Handle<uv_poll_t> poll_;
    std::string address_;
    ReadyFn on_ready_;
};

// Whether `datagram` (newline-separated KEY=VALUE assignments) says READY=1. Pure.
bool notify_says_ready(std::string_view datagram);

}  // namespace kvd::proc
