// The control socket: listens (or takes a socket-activated fd), checks each peer's
// credentials, and owns every client Connection until it is gone.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "daemon/connection.hpp"
#include "daemon/log.hpp"
#include "daemon/uv/handle.hpp"
#include "daemon/uv/line_stream.hpp"

namespace kvd {

struct AccessPolicy {
    uid_t owner_uid = 0;                 // kvd's own uid
    std::optional<gid_t> allowed_group;  // [daemon] socket_group
};

class ControlServer {
  public:
    ControlServer(uv_loop_t* loop, uv::WriteBatcher& batcher, Connection::DispatchFn dispatch);
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    // Creates the socket file with `mode` (and `group` if set). Refuses (returns a message)
    // when a live kvd already answers on `path`; replaces a stale file left by a dead one.
    std::optional<std::string> listen_path(const std::string& path, mode_t mode,
                                           std::optional<gid_t> group);
    // Serves on an already listening socket (socket activation).
    std::optional<std::string> listen_fd(int fd);

    void set_access(AccessPolicy policy) { access_ = policy; }
    // [daemon] max_clients: a client beyond it gets one `limit` error line and is closed.
    void set_max_clients(std::size_t n) { max_clients_ = n; }
    // [daemon] client_buffer_bytes, for every connection (see connection.hpp).
    void set_client_buffer_bytes(std::size_t bytes);
    // Stops accepting and removes the socket file we created.
    void stop_listening();
    // Closes every connection at once.
    void close_all();
    // Lets every connection write what is queued for it, then close.
    void finish_all();

    std::size_t connection_count() const { return connections_.size(); }
    // Whether the peer connected on `fd`, with these credentials, may use kvd: root, kvd's
    // own user, and members (primary or supplementary) of the allowed group.
    bool allowed(int fd, const PeerCredentials& peer) const;

  private:
    void on_connection();
    // Logs a refusal, rate-limited: an unwelcome peer can connect as fast as it likes.
    template <typename... Args>
    void log_refusal(fmt::format_string<Args...> format, Args&&... args);

    uv_loop_t* loop_;
    uv::WriteBatcher& batcher_;
    Connection::DispatchFn dispatch_;
    uv::Handle<uv_pipe_t> listener_;
    std::string path_;  // the file to unlink on exit; empty when not ours
    AccessPolicy access_;
    uint64_t next_number_ = 1;
    std::size_t max_clients_ = 1024;
    std::size_t client_buffer_bytes_ = 8 * 1024 * 1024;
    log::RepeatLimiter refusals_logged_{10, 1000};
    std::unordered_map<Connection*, std::shared_ptr<Connection>> connections_;
};

}  // namespace kvd
