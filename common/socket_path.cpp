#include "common/socket_path.hpp"

#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>

namespace kvd {

namespace {
std::optional<std::string> non_empty(const std::optional<std::string>& s) {
    if (s && !s->empty()) return s;
    return std::nullopt;
}
std::optional<std::string> getenv_string(const char* name) {
    const char* v = std::getenv(name);
    if (!v || !*v) return std::nullopt;
    return std::string(v);
}
}  // namespace

std::string resolve_socket_path(const SocketPathInputs& in) {
    if (auto s = non_empty(in.flag)) return *s;
    if (auto s = non_empty(in.config)) return *s;
    if (auto s = non_empty(in.env_socket)) return *s;
    if (in.uid == 0) return "/run/kvd/kvd.sock";
    if (auto s = non_empty(in.xdg_runtime)) return *s + "/kvd/kvd.sock";
    return "/tmp/kvd-" + std::to_string(in.uid) + "/kvd.sock";
}

SocketPathInputs socket_path_inputs_from_environment() {
    SocketPathInputs in;
    in.env_socket = getenv_string("KVD_SOCKET");
    in.xdg_runtime = getenv_string("XDG_RUNTIME_DIR");
    in.uid = getuid();
    return in;
}

std::size_t max_socket_path_bytes() {
    return sizeof(sockaddr_un{}.sun_path) - 1;
}

}  // namespace kvd
