#include "daemon/control_server.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/socket_path.hpp"
#include "common/wire.hpp"

namespace kvd {

namespace {

// mkdir -p for the socket's directory.
bool make_parent_dirs(const std::string& path, std::string& error) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0) return true;
    std::string dir = path.substr(0, slash);
    for (std::size_t i = 1; i <= dir.size(); ++i) {
        if (i != dir.size() && dir[i] != '/') continue;
        std::string part = dir.substr(0, i);
        if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) {
            error = fmt::format("cannot create directory {}: {}", part, std::strerror(errno));
            return false;
        }
    }
    return true;
}

// Another user must not be able to swap the socket file for one of theirs: the directory
// has to be ours or root's, and not writable by everyone unless sticky (/tmp). The
// /tmp/kvd-$UID fallback in particular may have been made in advance by someone else.
std::optional<std::string> unsafe_directory(const std::string& socket_path) {
    auto slash = socket_path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : socket_path.substr(0, slash ? slash : 1);
    struct stat st {};
    if (stat(dir.c_str(), &st) != 0)
        return fmt::format("cannot inspect directory {}: {}", dir, std::strerror(errno));
    if (st.st_uid != getuid() && st.st_uid != 0)
        return fmt::format(
            "directory {} belongs to uid {}, not to kvd's user or root; not "
            "putting the socket there",
            dir, st.st_uid);
    if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
        return fmt::format("directory {} is writable by everyone; not putting the socket there",
                           dir);
    return std::nullopt;
}

// Whether a socket file is in use, found by connecting (never by its mere existence).
enum class SocketUse { live, stale, unknown };

SocketUse probe_socket(const std::string& path, int& error) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        error = errno;
        return SocketUse::unknown;
    }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    error = rc == 0 ? 0 : errno;
    ::close(fd);
    // A full backlog (EAGAIN) is a live daemon too busy to accept at once.
    if (rc == 0 || error == EAGAIN) return SocketUse::live;
    // Only "nobody listens" proves the file is a leftover. Anything else (EACCES: a socket
    // of another user) says nothing, and the file must not be removed on a guess.
    if (error == ECONNREFUSED || error == ENOENT) return SocketUse::stale;
    return SocketUse::unknown;
}

// Supplementary groups of a process, from /proc: the fallback for kernels without
// SO_PEERGROUPS (before 4.13). If the peer has exited, its pid may name another process.
bool process_in_group(pid_t pid, gid_t group) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("Groups:", 0) != 0) continue;
        std::istringstream groups(line.substr(7));
        unsigned long g;
        while (groups >> g)
            if (static_cast<gid_t>(g) == group) return true;
    }
    return false;
}

// Whether the peer on `fd` had `group` among its supplementary groups when it connected
// (SO_PEERCRED carries only the primary gid).
bool peer_in_group(int fd, pid_t pid, gid_t group) {
    std::vector<gid_t> groups(64);
    for (int attempt = 0; attempt < 3; ++attempt) {
        auto len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
            groups.resize(len / sizeof(gid_t));
            return std::find(groups.begin(), groups.end(), group) != groups.end();
        }
        if (errno != ERANGE) break;
        groups.resize(len / sizeof(gid_t) + 1);  // `len` now says how much is needed
    }
    if (errno == ENOPROTOOPT) return process_in_group(pid, group);
    return false;
}

}  // namespace

ControlServer::ControlServer(uv_loop_t* loop, uv::WriteBatcher& batcher,
                             Connection::DispatchFn dispatch)
    : loop_(loop), batcher_(batcher), dispatch_(std::move(dispatch)) {}

ControlServer::~ControlServer() {
    stop_listening();
    close_all();
}

std::optional<std::string> ControlServer::listen_path(const std::string& path, mode_t mode,
                                                      std::optional<gid_t> group) {
    if (path.size() > max_socket_path_bytes())
        return fmt::format(
            "socket path {} is {} bytes long; at most {} fit in a Unix socket address", path,
            path.size(), max_socket_path_bytes());
    std::string error;
    if (!make_parent_dirs(path, error)) return error;
    if (auto unsafe = unsafe_directory(path)) return unsafe;

    struct stat st {};
    if (lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return fmt::format("{} exists and is not a socket; not touching it", path);
        // Never steal a live daemon's socket; a dead one's file is only in the way.
        int probe_error = 0;
        switch (probe_socket(path, probe_error)) {
            case SocketUse::live:
                return fmt::format("another kvd is already serving on {}", path);
            case SocketUse::unknown:
                return fmt::format(
                    "cannot tell whether {} is in use ({}); remove it if no kvd "
                    "runs there",
                    path, std::strerror(probe_error));
            case SocketUse::stale:
                break;
        }
        spdlog::warn("removing stale socket {} left by a kvd that is gone", path);
        if (unlink(path.c_str()) != 0 && errno != ENOENT)
            return fmt::format("cannot remove stale socket {}: {}", path, std::strerror(errno));
    }

    int rc = uv_pipe_init(loop_, listener_.get(), 0);
    if (rc != 0) return fmt::format("cannot create socket: {}", uv_strerror(rc));
    listener_.mark_initialized();
    listener_.get()->data = this;
    // Bind with no access for anyone but us, then widen to `mode`: no window where the
    // socket is more open than configured.
    mode_t old_umask = umask(0177);
    rc = uv_pipe_bind(listener_.get(), path.c_str());
    umask(old_umask);
    if (rc != 0) return fmt::format("cannot bind {}: {}", path, uv_strerror(rc));
    path_ = path;
    if (group && chown(path.c_str(), static_cast<uid_t>(-1), *group) != 0)
        return fmt::format("cannot give {} to group {}: {}", path, *group, std::strerror(errno));
    if (chmod(path.c_str(), mode) != 0)
        return fmt::format("cannot chmod {}: {}", path, std::strerror(errno));
    return listen_fd(-1);
}

std::optional<std::string> ControlServer::listen_fd(int fd) {
    int rc;
    if (fd >= 0) {
        rc = uv_pipe_init(loop_, listener_.get(), 0);
        if (rc != 0) return fmt::format("cannot use socket fd {}: {}", fd, uv_strerror(rc));
        listener_.mark_initialized();
        listener_.get()->data = this;
        rc = uv_pipe_open(listener_.get(), fd);
        if (rc != 0) return fmt::format("cannot use socket fd {}: {}", fd, uv_strerror(rc));
    }
    rc = uv_listen(listener_.stream(), SOMAXCONN, [](uv_stream_t* s, int status) {
        auto* self = static_cast<ControlServer*>(s->data);
        if (!self) return;
        if (status != 0) {
            spdlog::warn("accept: {}", uv_strerror(status));
            return;
        }
        self->on_connection();
    });
    if (rc != 0) return fmt::format("cannot listen: {}", uv_strerror(rc));
    return std::nullopt;
}

bool ControlServer::allowed(int fd, const PeerCredentials& peer) const {
    if (peer.uid == 0 || peer.uid == access_.owner_uid) return true;
    if (!access_.allowed_group) return false;
    return peer.gid == *access_.allowed_group ||
           peer_in_group(fd, peer.pid, *access_.allowed_group);
}

template <typename... Args>
void ControlServer::log_refusal(fmt::format_string<Args...> format, Args&&... args) {
    uint64_t suppressed = 0;
    bool admitted = refusals_logged_.admit(uv_now(loop_), suppressed);
    if (suppressed > 0) spdlog::warn("{} similar lines suppressed (refused clients)", suppressed);
    if (admitted) spdlog::warn(format, std::forward<Args>(args)...);
}

void ControlServer::on_connection() {
    auto conn = std::make_shared<Connection>(loop_, batcher_, next_number_++, client_buffer_bytes_);
    if (int rc = conn->accept_from(listener_.stream()); rc != 0) {
        spdlog::warn("accept: {}", uv_strerror(rc));
        return;
    }
    Connection* raw = conn.get();
    connections_.emplace(raw, conn);
    auto gone = [this](Connection& c) { connections_.erase(&c); };

    auto peer = conn->peer();
    if (!peer || !allowed(raw->stream().fd(), *peer)) {
        if (peer)
            log_refusal(
                "refused client pid {} uid {} gid {}: not kvd's user, root or the socket group",
                peer->pid, peer->uid, peer->gid);
        else
            log_refusal("refused a client whose credentials cannot be read");
        conn->start([](Connection&, std::string_view, Responder) {}, gone);
        conn->refuse(reply_error(nullptr, wire::ErrorCode::permission_denied,
                                 "permission denied: this user may not use kvd"));
        return;
    }
    // The one just accepted is counted: max_clients are served, the next is refused.
    if (connections_.size() > max_clients_) {
        log_refusal(
            "refused client pid {} uid {}: {} clients are connected, the limit "
            "(max_clients)",
            peer->pid, peer->uid, max_clients_);
        conn->start([](Connection&, std::string_view, Responder) {}, gone);
        conn->refuse(reply_error(nullptr, wire::ErrorCode::limit,
                                 fmt::format("too many clients: {} are connected, the limit "
                                             "(max_clients)",
                                             max_clients_)));
        return;
    }
    spdlog::debug("client {} connected (pid {} uid {})", raw->number(), peer->pid, peer->uid);
    conn->start(dispatch_, gone);
}

void ControlServer::set_client_buffer_bytes(std::size_t bytes) {
    client_buffer_bytes_ = bytes;
    for (auto& [raw, conn] : connections_) conn->set_buffer_limit(bytes);
}

void ControlServer::stop_listening() {
    listener_.close();
    if (!path_.empty()) {
        unlink(path_.c_str());
        path_.clear();
    }
}

void ControlServer::finish_all() {
    std::vector<std::shared_ptr<Connection>> all;
    for (auto& [raw, conn] : connections_) all.push_back(conn);
    for (auto& conn : all) conn->finish();
}

void ControlServer::close_all() {
    auto all = std::move(connections_);
    connections_.clear();
    for (auto& [raw, conn] : all) conn->close_now();
}

}  // namespace kvd
