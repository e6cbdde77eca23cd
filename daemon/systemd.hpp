// kvd under systemd (README "Install as a service"), through libsystemd's sd-daemon API: socket
// activation, READY=1 / STATUS= / WATCHDOG=1 notifications. Outside systemd every call here is a
// no-op: without $NOTIFY_SOCKET nothing is sent, without $LISTEN_FDS nothing is taken.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/duration.hpp"
#include "daemon/uv/timer.hpp"

namespace kvd::systemd {

// The listening socket systemd passed in (kvd.socket), if any.
struct ActivatedSocket {
    int fd = -1;                 // SD_LISTEN_FDS_START
    std::string path;            // the file it is bound to, "" if unnamed
    std::optional<gid_t> group;  // the group owning that file (systemd's SocketGroup=)
};

// What systemd passed in: nothing (not socket-activated), one usable socket, or an error
// message (kvd then exits 1).
struct Activation {
    std::optional<ActivatedSocket> socket;
    std::optional<std::string> error;
};

// Takes the sockets passed by systemd and clears $LISTEN_FDS/$LISTEN_PID so that no child
// inherits them. Exactly one listening Unix stream socket is accepted.
Activation take_activated_socket();

// Sends READY=1, keeps STATUS= current and sends WATCHDOG=1 when systemd asks for it.
//
// Contract: call ready() only once the control socket accepts connections (an earlier READY=1
// lets systemd start dependent units, and `kvctl` in them, too soon). Both timers are
// unreferenced, so they never keep the loop alive; close() them (idempotent) before the loop
// is torn down.
class Notifier {
  public:
    // `status` gives the current STATUS= text; it is polled every few seconds.
    Notifier(uv_loop_t* loop, std::function<std::string()> status);
    ~Notifier();
    Notifier(const Notifier&) = delete;
    Notifier& operator=(const Notifier&) = delete;

    // READY=1 with the first STATUS=, then the periodic STATUS= and WATCHDOG=1 timers.
    void ready();

    // Sends the current status text as STATUS= unless systemd already shows it.
    void refresh_status();
    // Stops the timers; no more pings after this.
    void close();

    // The ping interval (half of $WATCHDOG_USEC), nullopt when no watchdog is enabled.
    const std::optional<Millis>& watchdog_interval() const { return watchdog_interval_; }

  private:
    uv_loop_t* loop_;
    std::function<std::string()> status_fn_;
    std::string last_status_;
    std::optional<Millis> watchdog_interval_;
    std::unique_ptr<uv::Timer> status_timer_;
    std::unique_ptr<uv::Timer> watchdog_timer_;
};

}  // namespace kvd::systemd
