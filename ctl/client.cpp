// kvctl's socket client: connect with a timeout, queued writes, line reads under a deadline.
#include "ctl/client.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "common/socket_path.hpp"
#include "ctl/exit_status.hpp"

namespace kvd::ctl {

int exit_status_for(const ClientError& error) {
    switch (error.kind) {
        case ClientErrorKind::path_too_long:
        case ClientErrorKind::too_long:
            return kExitUsage;
        case ClientErrorKind::interrupted:
            return exit_status_for_signal(error.signal > 0 ? error.signal : SIGINT);
        default:
            return kExitUnreachable;
    }
}

int read_wake_signal(int wake_fd) {
    unsigned char byte = 0;
    if (::read(wake_fd, &byte, 1) != 1) return SIGINT;
    return byte == SIGTERM ? SIGTERM : SIGINT;
}

std::optional<ClientError> sleep_unless_woken(int wake_fd, Millis wait) {
    auto deadline = SteadyClock::now() + wait;
    for (;;) {
        auto left = std::chrono::ceil<Millis>(deadline - SteadyClock::now());
        if (left.count() <= 0) return std::nullopt;
        pollfd p{wake_fd, POLLIN, 0};
        int n = poll(&p, wake_fd >= 0 ? 1 : 0, static_cast<int>(left.count()));
        if (n > 0 && (p.revents & POLLIN))
            return ClientError{ClientErrorKind::interrupted, "interrupted",
                               read_wake_signal(wake_fd)};
    }
}

ClientError connect_error(const std::string& path, int errno_value, Millis timeout) {
    auto fail = [&](ClientErrorKind kind, std::string_view why) {
        return ClientError{kind, fmt::format("cannot connect to {}: {}", path, why)};
    };
    switch (errno_value) {
        case ENOENT:
        case ENOTDIR:
            return fail(ClientErrorKind::no_socket, "no such file (is kvd running?)");
        case EACCES:
        case EPERM:
            return fail(ClientErrorKind::access_denied, "permission denied");
        case ECONNREFUSED:
            return fail(ClientErrorKind::refused, "connection refused (is kvd running?)");
        // A full listen backlog: the socket's send timeout expired in connect(2).
        case EAGAIN:
        case EINPROGRESS:
        case ETIMEDOUT:
            return fail(ClientErrorKind::timeout,
                        fmt::format("timed out after {}", format_duration(timeout)));
        default:
            return fail(ClientErrorKind::io, std::strerror(errno_value));
    }
}

Client::~Client() {
    if (fd_ >= 0) close(fd_);
}

std::optional<ClientError> Client::connect(const std::string& path, Millis timeout) {
    timeout_ = timeout;
    if (path.size() > max_socket_path_bytes()) {
        return ClientError{ClientErrorKind::path_too_long,
                           fmt::format("socket path is too long ({} bytes, at most {}): {}",
                                       path.size(), max_socket_path_bytes(), path)};
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return ClientError{ClientErrorKind::io, fmt::format("socket: {}", std::strerror(errno))};
    // A Unix-socket connect(2) only blocks on a full backlog, and then honours SO_SNDTIMEO.
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    int rc;
    do {
        rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        int saved = errno;
        close(fd);
        return connect_error(path, saved, timeout);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fd_ = fd;
    return std::nullopt;
}

int64_t Client::send(Json request) {
    int64_t id = next_id_++;
    request["id"] = id;
    std::string line = dump_line(request);
    // kvd would answer `limit` and close the connection; say so without sending it.
    if (line.size() > wire::kMaxLineBytes) {
        if (!unsent_)
            unsent_ = ClientError{
                ClientErrorKind::too_long,
                fmt::format("the request would be {} bytes, more than the {} bytes (1 MiB) kvd "
                            "accepts in one line; nothing was sent",
                            line.size(), wire::kMaxLineBytes)};
        return id;
    }
    out_ += line;
    out_ += '\n';
    return id;
}

void Client::send_line(std::string_view line) {
    out_ += line;
    out_ += '\n';
}

ClientError Client::timeout_error() const {
    return ClientError{ClientErrorKind::timeout, fmt::format("timed out after {} waiting for kvd",
                                                             format_duration(timeout_))};
}

std::optional<ClientError> Client::pump(Deadline deadline) {
    int wait_ms = -1;
    if (deadline) {
        auto left = std::chrono::ceil<Millis>(*deadline - SteadyClock::now());
        if (left.count() <= 0) return timeout_error();
        wait_ms = static_cast<int>(std::min<int64_t>(left.count(), 1'000'000'000));
    }
    bool idle = false;
    auto error = pump_for(wait_ms, idle);
    if (!error && idle) return timeout_error();
    return error;
}

std::optional<ClientError> Client::pump_for(int wait_ms, bool& idle) {
    idle = false;
    pollfd fds[2] = {{fd_, static_cast<short>(POLLIN | (out_.empty() ? 0 : POLLOUT)), 0},
                     {wake_fd_, POLLIN, 0}};
    int n = poll(fds, wake_fd_ >= 0 ? 2 : 1, wait_ms);
    if (n < 0) {
        if (errno == EINTR) return std::nullopt;  // the caller loops; a signal also wakes wake_fd
        return ClientError{ClientErrorKind::io, fmt::format("poll: {}", std::strerror(errno))};
    }
    if (n == 0) {
        idle = true;
        return std::nullopt;
    }
    if (wake_fd_ >= 0 && (fds[1].revents & POLLIN))
        return ClientError{ClientErrorKind::interrupted, "interrupted", read_wake_signal(wake_fd_)};

    if (fds[0].revents & POLLOUT) {
        ssize_t w = ::send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL);
        if (w > 0) {
            out_.erase(0, static_cast<std::size_t>(w));
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            // kvd is gone for writing, but a reply it sent before closing (such as
            // permission_denied) may still be waiting to be read: keep reading.
            out_.clear();
            write_failed_ = true;
        }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        char buf[64 * 1024];
        ssize_t r = ::read(fd_, buf, sizeof buf);
        if (r > 0) {
            in_.append(std::string_view(buf, static_cast<std::size_t>(r)));
        } else if (r == 0 || errno == ECONNRESET || errno == EPIPE) {
            eof_ = true;
        } else if (errno != EAGAIN && errno != EINTR) {
            return ClientError{ClientErrorKind::io, fmt::format("read: {}", std::strerror(errno))};
        }
    }
    return std::nullopt;
}

std::optional<ClientError> Client::read_line(std::string& line, Deadline deadline) {
    for (;;) {
        if (in_.next_line(line)) return std::nullopt;
        if (in_.overflowed())
            return ClientError{
                ClientErrorKind::protocol,
                fmt::format("reply from kvd is longer than {} bytes", kMaxReplyBytes)};
        if (eof_) return ClientError{ClientErrorKind::closed, "kvd closed the connection"};
        if (auto error = pump(deadline)) return error;
    }
}

std::optional<ClientError> Client::read_line_now(std::string& line, bool& got) {
    got = false;
    if (unsent_) return unsent_;
    // Each round reads at most one buffer's worth; go on while the socket has more, so that a
    // burst is taken now rather than one buffer per wakeup of the caller.
    for (;;) {
        if (in_.next_line(line)) {
            got = true;
            return std::nullopt;
        }
        if (in_.overflowed())
            return ClientError{
                ClientErrorKind::protocol,
                fmt::format("reply from kvd is longer than {} bytes", kMaxReplyBytes)};
        if (eof_) return ClientError{ClientErrorKind::closed, "kvd closed the connection"};
        bool idle = false;
        if (auto error = pump_for(0, idle)) return error;
        if (idle) return std::nullopt;
    }
}

std::optional<ClientError> Client::read_reply(Reply& reply, int64_t id, Deadline deadline) {
    if (unsent_) return unsent_;
    std::string line;
    if (auto error = read_line(line, deadline)) {
        if (error->kind == ClientErrorKind::closed)
            error->message = "kvd closed the connection before replying";
        return error;
    }
    auto parsed = parse_reply(line);
    if (!parsed) {
        return ClientError{ClientErrorKind::protocol,
                           fmt::format("malformed reply from kvd: {}", line.substr(0, 200))};
    }
    if (!parsed->ok && parsed->error.code == "permission_denied") {
        return ClientError{
            ClientErrorKind::rejected,
            fmt::format("kvd refused this client: permission_denied: {}", parsed->error.message)};
    }
    // kvd echoes the id; only an error about a line it could not read has none.
    bool id_matches = parsed->id.is_number_integer() && parsed->id.get<int64_t>() == id;
    if (!id_matches && !(parsed->id.is_null() && !parsed->ok)) {
        return ClientError{
            ClientErrorKind::protocol,
            fmt::format("reply from kvd has id {}, expected {}", dump_line(parsed->id), id)};
    }
    reply = std::move(*parsed);
    return std::nullopt;
}

std::optional<ClientError> Client::flush(Deadline deadline) {
    while (!out_.empty() && !eof_) {
        if (auto error = pump(deadline)) return error;
    }
    if (!out_.empty() || write_failed_)
        return ClientError{ClientErrorKind::closed, "kvd closed the connection"};
    return std::nullopt;
}

}  // namespace kvd::ctl
