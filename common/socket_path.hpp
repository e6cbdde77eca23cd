// Where kvd's control socket lives. kvd and kvctl resolve it the same way, first match wins:
// --socket, the config's [daemon] socket, $KVD_SOCKET, then /run/kvd/kvd.sock for root,
// $XDG_RUNTIME_DIR/kvd/kvd.sock, else /tmp/kvd-$UID/kvd.sock. Pure: the environment is passed in.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace kvd {

struct SocketPathInputs {
    std::optional<std::string> flag;         // --socket
    std::optional<std::string> config;       // [daemon] socket
    std::optional<std::string> env_socket;   // $KVD_SOCKET
    std::optional<std::string> xdg_runtime;  // $XDG_RUNTIME_DIR
    uid_t uid = 0;
};

std::string resolve_socket_path(const SocketPathInputs& in);

// Reads $KVD_SOCKET, $XDG_RUNTIME_DIR and the real uid of this process.
SocketPathInputs socket_path_inputs_from_environment();

// The longest path a sockaddr_un can hold (without the terminating NUL).
std::size_t max_socket_path_bytes();

}  // namespace kvd
