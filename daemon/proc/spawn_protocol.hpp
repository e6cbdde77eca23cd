// The spawner's datagrams (daemon/proc/spawner.hpp), apart from the sockets that carry them. Pure.
//
// A request is one SOCK_SEQPACKET datagram: a fixed header (Header, host order), the
// supplementary groups (uint32 each), then NUL-terminated strings: argv, each environment
// entry as KEY=VALUE, and the working directory when the header says there is one. The
// child's stdin, stdout and stderr fds travel beside it (SCM_RIGHTS), and a fourth, the
// child's cgroup.procs, with kJoinCgroup. The reply is one Reply. kvd and its spawner are one
// build, so a malformed request is a bug: it is refused, never guessed at.
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
inline constexpr uint32_t kMaxGroups = 4096;

// Header::flags: which optional fields are present.
inline constexpr uint32_t kHasCwd = 1u << 0;
inline constexpr uint32_t kSetUid = 1u << 1;
inline constexpr uint32_t kSetGid = 1u << 2;  // with kSetUid or alone: setgroups(groups) too
inline constexpr uint32_t kDieWithKvd = 1u << 3;
inline constexpr uint32_t kJoinCgroup = 1u << 4;
inline constexpr uint32_t kRlimitAs = 1u << 5;
inline constexpr uint32_t kRlimitNproc = 1u << 6;
inline constexpr uint32_t kAllFlags = (1u << 7) - 1;

struct Header {
    uint32_t argc;
    uint32_t envc;
    uint32_t flags;
    uint32_t uid;           // 0 unless kSetUid
    uint32_t gid;           // 0 unless kSetGid
    uint32_t ngroups;       // 0 unless kSetUid or kSetGid
    uint64_t rlimit_as;     // 0 unless kRlimitAs
    uint64_t rlimit_nproc;  // 0 unless kRlimitNproc
};
static_assert(sizeof(Header) == 40);

struct Request {
    std::vector<std::string> argv;
    std::map<std::string, std::string> env_add;
    std::optional<std::string> cwd;
    std::optional<uint32_t> uid;
    std::optional<uint32_t> gid;
    std::vector<uint32_t> groups;  // set with uid or gid
    bool die_with_kvd = false;
    bool join_cgroup = false;  // a fourth fd: the cgroup.procs the child writes itself to
    std::optional<uint64_t> rlimit_as;
    std::optional<uint64_t> rlimit_nproc;

    bool operator==(const Request&) const = default;
};

struct Reply {
    int32_t pid;
    int32_t error;  // errno; 0 on success
};

// Empty when `r` can travel, else why not: no argv, a NUL inside a string, an environment
// name that is empty or holds '=', an empty working directory, groups without a uid or gid,
// too many entries, or more than kMaxRequestBytes.
std::string request_problem(const Request& r);
// The datagram for `r`, which must have no request_problem().
std::string encode(const Request& r);
// The request in `datagram`, or nullopt when it is malformed in any way.
std::optional<Request> decode(std::string_view datagram);

}  // namespace kvd::spawn_protocol
