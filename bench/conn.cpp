#include "bench/conn.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bench/clock.hpp"

namespace kvd::bench {

namespace {
constexpr std::size_t kReadChunk = 256 * 1024;
}

int64_t deadline_in_ms(int64_t ms) {
    return mono_ns() + ms * 1'000'000;
}

Conn::~Conn() {
    close();
}

void Conn::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void Conn::connect_unix(const std::string& path) {
    close();
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) throw BenchError("socket path too long: " + path);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw BenchError(std::string("socket: ") + std::strerror(errno));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        int e = errno;
        ::close(fd);
        throw BenchError("connect " + path + ": " + std::strerror(e));
    }
    // Non-blocking only after connect: a Unix connect then never returns EINPROGRESS.
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fd_ = fd;
    eof_ = false;
    out_.clear();
    out_off_ = 0;
    in_.clear();
    in_off_ = 0;
}

bool Conn::write_some() {
    while (out_off_ < out_.size()) {
        ssize_t n = ::send(fd_, out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            eof_ = true;
            return false;
        }
        out_off_ += static_cast<std::size_t>(n);
    }
    if (out_off_ == out_.size()) {
        out_.clear();
        out_off_ = 0;
    } else if (out_off_ > (1u << 20)) {
        out_.erase(0, out_off_);
        out_off_ = 0;
    }
    return true;
}

bool Conn::read_some() {
    if (in_off_ == in_.size()) {
        in_.clear();
        in_off_ = 0;
    } else if (in_off_ > kReadChunk) {
        in_.erase(0, in_off_);
        in_off_ = 0;
    }
    for (;;) {
        std::size_t old = in_.size();
        in_.resize(old + kReadChunk);
        ssize_t n = ::recv(fd_, in_.data() + old, kReadChunk, 0);
        in_.resize(old + static_cast<std::size_t>(n > 0 ? n : 0));
        if (n > 0) {
            if (static_cast<std::size_t>(n) < kReadChunk) return true;
            continue;  // maybe more
        }
        if (n == 0) {
            eof_ = true;
            return false;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return true;
        eof_ = true;
        return false;
    }
}

bool Conn::next_line(std::string_view& line) {
    std::string_view in = input();
    auto nl = in.find('\n');
    if (nl == std::string_view::npos) return false;
    line = in.substr(0, nl);
    in_off_ += nl + 1;
    return true;
}

void Conn::pump(int timeout_ms) {
    pollfd p{fd_, static_cast<short>(POLLIN | (wants_write() ? POLLOUT : 0)), 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r < 0 && errno != EINTR) throw BenchError(std::string("poll: ") + std::strerror(errno));
    if (r <= 0) return;
    if (p.revents & POLLOUT) write_some();
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) read_some();
}

std::string_view Conn::wait_line(int64_t deadline_ns) {
    std::string_view line;
    for (;;) {
        if (wants_write()) write_some();
        if (next_line(line)) return line;
        if (eof_) throw BenchError("connection closed by the peer");
        int64_t left = deadline_ns - mono_ns();
        if (left <= 0) throw BenchError("no reply in time");
        pump(static_cast<int>(left / 1'000'000) + 1);
    }
}

void Conn::flush(int64_t deadline_ns) {
    while (wants_write()) {
        if (!write_some()) throw BenchError("connection closed while writing");
        if (!wants_write()) return;
        int64_t left = deadline_ns - mono_ns();
        if (left <= 0) throw BenchError("could not write in time");
        pump(static_cast<int>(left / 1'000'000) + 1);
    }
}

void pump_all(const std::vector<Conn*>& conns, int timeout_ms) {
    std::vector<pollfd> fds;
    fds.reserve(conns.size());
    for (Conn* c : conns) {
        if (c->wants_write()) c->write_some();
        fds.push_back({c->fd(), static_cast<short>(POLLIN | (c->wants_write() ? POLLOUT : 0)), 0});
    }
    int r = ::poll(fds.data(), fds.size(), timeout_ms);
    if (r < 0 && errno != EINTR) throw BenchError(std::string("poll: ") + std::strerror(errno));
    if (r <= 0) return;
    for (std::size_t i = 0; i < conns.size(); ++i) {
        if (fds[i].revents & POLLOUT) conns[i]->write_some();
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) conns[i]->read_some();
    }
}

}  // namespace kvd::bench
