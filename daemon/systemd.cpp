#include "daemon/systemd.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace kvd::systemd {

namespace {

// How often STATUS= is refreshed. It is read by people (`systemctl status kvd`), so a few
// seconds of lag is fine; an unchanged text is not sent again.
constexpr Millis kStatusInterval{2000};

// The filesystem path `fd` is bound to; "" for an unnamed or abstract socket.
std::string bound_path(int fd) {
    sockaddr_un addr{};
    socklen_t len = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return {};
    constexpr auto header = offsetof(sockaddr_un, sun_path);
    if (len <= header || addr.sun_path[0] == '\0') return {};
    return std::string(addr.sun_path, strnlen(addr.sun_path, len - header));
}

}  // namespace

Activation take_activated_socket() {
    Activation result;
    int n = sd_listen_fds(1);
    if (n < 0) {
        result.error = fmt::format("socket activation: {}", std::strerror(-n));
        return result;
    }
    if (n == 0) return result;
    if (n > 1) {
        for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; ++fd) ::close(fd);
        result.error = fmt::format(
            "socket activation: systemd passed {} sockets, kvd serves on exactly one "
            "(kvd.socket needs a single ListenStream=)",
            n);
        return result;
    }
    int fd = SD_LISTEN_FDS_START;
    int r = sd_is_socket_unix(fd, SOCK_STREAM, 1, nullptr, 0);
    if (r <= 0) {
        ::close(fd);
        result.error = r < 0 ? fmt::format("socket activation: fd {}: {}", fd, std::strerror(-r))
                             : fmt::format(
                                   "socket activation: fd {} is not a listening Unix stream socket "
                                   "(kvd.socket needs ListenStream=/path/to/socket)",
                                   fd);
        return result;
    }
    ActivatedSocket s;
    s.fd = fd;
    s.path = bound_path(fd);
    struct stat st {};
    if (!s.path.empty() && stat(s.path.c_str(), &st) == 0) s.group = st.st_gid;
    result.socket = std::move(s);
    return result;
}

Notifier::Notifier(uv_loop_t* loop, std::function<std::string()> status)
    : loop_(loop), status_fn_(std::move(status)) {
    // Read once and cleared from the environment, so that buckets and handlers spawned later
    // do not believe they are watched.
    uint64_t usec = 0;
    int r = sd_watchdog_enabled(1, &usec);
    if (r < 0) spdlog::warn("ignoring $WATCHDOG_USEC: {}", std::strerror(-r));
    if (r > 0 && usec > 0) {
        // systemd's advice: ping at half the interval, so one late loop turn is not fatal.
        watchdog_interval_ = std::max(Millis(1), Millis(usec / 2 / 1000));
    }
}

Notifier::~Notifier() {
    close();
}

void Notifier::ready() {
    std::string text = status_fn_();
    sd_notifyf(0, "READY=1\nSTATUS=%s", text.c_str());
    last_status_ = std::move(text);

    if (watchdog_interval_) {
        spdlog::info("systemd watchdog: pinging every {} ms", watchdog_interval_->count());
        sd_notify(0, "WATCHDOG=1");
        // The pings come from the loop itself: a loop that is stuck stops them, and systemd
        // restarts kvd.
        watchdog_timer_ = std::make_unique<uv::Timer>(loop_);
        watchdog_timer_->start(
            *watchdog_interval_, [] { sd_notify(0, "WATCHDOG=1"); }, *watchdog_interval_);
        watchdog_timer_->unref();
    }
    // Outside systemd there is nobody to tell.
    if (std::getenv("NOTIFY_SOCKET")) {
        status_timer_ = std::make_unique<uv::Timer>(loop_);
        status_timer_->start(
            kStatusInterval, [this] { refresh_status(); }, kStatusInterval);
        status_timer_->unref();
    }
}

void Notifier::refresh_status() {
    std::string text = status_fn_();
    if (text == last_status_) return;
    sd_notifyf(0, "STATUS=%s", text.c_str());
    last_status_ = std::move(text);
}

void Notifier::close() {
    if (watchdog_timer_) watchdog_timer_->close();
    if (status_timer_) status_timer_->close();
}

}  // namespace kvd::systemd
