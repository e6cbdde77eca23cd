// The spawner's datagrams (daemon/proc/spawner.hpp), apart from the sockets that carry them. Pure.
//
// A request is one SOCK_SEQPACKET datagram: two uint32 counts in host order (argv entries,
// environment entries to add), then that many NUL-terminated strings, argv first, each
// environment entry as KEY=VALUE; the child's stdio and stderr fds travel beside it
// (SCM_RIGHTS). The reply is one Reply. kvd and its spawner are one build, so a malformed
// request is a bug: it is refused, never guessed at.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvd::spawn_protocol {

inline constexpr std::size_t kMaxRequestBytes = 64 * 1024;
inline constexpr uint32_t kMaxEntries = 1024;

struct Request {
    std::vector<std::string> argv;
    std::map<std::string, std::string> env_add;

    bool operator==(const Request&) const = default;
};

struct Reply {
    int32_t pid;
    int32_t error;  // errno; 0 on success
};

// Empty when `r` can travel, else why not: no argv, a NUL inside a string, an environment
// name that is empty or holds '=', too many entries, or more than kMaxRequestBytes.
std::string request_problem(const Request& r);
// The datagram for `r`, which must have no request_problem().
std::string encode(const Request& r);
// The request in `datagram`, or nullopt when it is malformed in any way.
std::optional<Request> decode(std::string_view datagram);

}  // namespace kvd::spawn_protocol
