#include "daemon/control_server.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

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

// True when something accepts connections on `path` right now.
bool someone_listens(const std::string& path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    bool live = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return live;
}

// Supplementary groups of a process, from /proc (SO_PEERCRED carries only the primary gid).
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
        return fmt::format("socket path {} is {} bytes long; at most {} fit in a Unix socket address",
                           path, path.size(), max_socket_path_bytes());
    std::string error;
    if (!make_parent_dirs(path, error)) return error;

    struct stat st {};
    if (lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return fmt::format("{} exists and is not a socket; not touching it", path);
        // Never steal a live daemon's socket; a dead one's file is only in the way.
        if (someone_listens(path))
            return fmt::format("another kvd is already serving on {}", path);
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

bool ControlServer::allowed(uid_t uid, gid_t gid, pid_t pid) const {
    if (uid == 0 || uid == access_.owner_uid) return true;
    if (!access_.allowed_group) return false;
    return gid == *access_.allowed_group || process_in_group(pid, *access_.allowed_group);
}

void ControlServer::on_connection() {
    auto conn = std::make_shared<Connection>(loop_, batcher_, next_number_++);
    if (int rc = conn->accept_from(listener_.stream()); rc != 0) {
        spdlog::warn("accept: {}", uv_strerror(rc));
        return;
    }
    Connection* raw = conn.get();
    connections_.emplace(raw, conn);
    auto gone = [this](Connection& c) { connections_.erase(&c); };

    auto peer = conn->peer();
    if (!peer || !allowed(peer->uid, peer->gid, peer->pid)) {
        if (peer)
            spdlog::warn("refused client pid {} uid {} gid {}: not kvd's user, root or the socket group",
                         peer->pid, peer->uid, peer->gid);
        else
            spdlog::warn("refused a client whose credentials cannot be read");
        conn->start([](Connection&, std::string&&, Responder) {}, gone);
        conn->refuse(reply_error(nullptr, wire::ErrorCode::permission_denied,
                                 "permission denied: this user may not use kvd"));
        return;
    }
    spdlog::debug("client {} connected (pid {} uid {})", raw->number(), peer->pid, peer->uid);
    conn->start(dispatch_, gone);
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
