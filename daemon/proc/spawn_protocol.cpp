#include "daemon/proc/spawn_protocol.hpp"

#include <cstring>

namespace kvd::spawn_protocol {

namespace {

bool has_nul(std::string_view s) {
    return s.find('\0') != std::string_view::npos;
}

}  // namespace

std::string request_problem(const Request& r) {
    if (r.argv.empty()) return "no program to run";
    if (r.argv.size() > kMaxEntries || r.env_add.size() > kMaxEntries)
        return "more than " + std::to_string(kMaxEntries) + " arguments or environment entries";
    if (r.groups.size() > kMaxGroups)
        return "more than " + std::to_string(kMaxGroups) + " supplementary groups";
    if (!r.groups.empty() && !r.uid && !r.gid)
        return "supplementary groups without a user or group";
    std::size_t bytes = sizeof(Header) + r.groups.size() * sizeof(uint32_t);
    for (const auto& a : r.argv) {
        if (has_nul(a)) return "an argument holds a NUL byte";
        bytes += a.size() + 1;
    }
    for (const auto& [k, v] : r.env_add) {
        if (k.empty() || k.find('=') != std::string::npos || has_nul(k))
            return "environment name '" + k + "' is empty or holds '=' or NUL";
        if (has_nul(v)) return "environment variable " + k + " holds a NUL byte";
        bytes += k.size() + 1 + v.size() + 1;
    }
    if (r.cwd) {
        if (r.cwd->empty() || has_nul(*r.cwd)) return "the working directory is empty or holds NUL";
        bytes += r.cwd->size() + 1;
    }
    if (bytes > kMaxRequestBytes)
        return "the command and environment take " + std::to_string(bytes) + " bytes, over " +
               std::to_string(kMaxRequestBytes);
    return {};
}

std::string encode(const Request& r) {
    Header h{};
    h.argc = static_cast<uint32_t>(r.argv.size());
    h.envc = static_cast<uint32_t>(r.env_add.size());
    h.flags = (r.cwd ? kHasCwd : 0) | (r.uid ? kSetUid : 0) | (r.gid ? kSetGid : 0) |
              (r.die_with_kvd ? kDieWithKvd : 0) | (r.join_cgroup ? kJoinCgroup : 0) |
              (r.rlimit_as ? kRlimitAs : 0) | (r.rlimit_nproc ? kRlimitNproc : 0);
    h.uid = r.uid.value_or(0);
    h.gid = r.gid.value_or(0);
    h.ngroups = static_cast<uint32_t>(r.groups.size());
    h.rlimit_as = r.rlimit_as.value_or(0);
    h.rlimit_nproc = r.rlimit_nproc.value_or(0);
    std::string msg(sizeof h, '\0');
    std::memcpy(msg.data(), &h, sizeof h);
    if (!r.groups.empty())
        msg.append(reinterpret_cast<const char*>(r.groups.data()),
                   r.groups.size() * sizeof(uint32_t));
    for (const auto& a : r.argv) msg.append(a).push_back('\0');
    for (const auto& [k, v] : r.env_add) msg.append(k).append("=").append(v).push_back('\0');
    if (r.cwd) msg.append(*r.cwd).push_back('\0');
    return msg;
}

std::optional<Request> decode(std::string_view msg) {
    if (msg.size() < sizeof(Header) || msg.size() > kMaxRequestBytes) return std::nullopt;
    Header h;
    std::memcpy(&h, msg.data(), sizeof h);
    msg.remove_prefix(sizeof h);
    if (h.argc == 0 || h.argc > kMaxEntries || h.envc > kMaxEntries) return std::nullopt;
    // A field its flag does not announce must be zero: one request, one encoding.
    if ((h.flags & ~kAllFlags) || (!(h.flags & kSetUid) && h.uid) ||
        (!(h.flags & kSetGid) && h.gid) || (!(h.flags & (kSetUid | kSetGid)) && h.ngroups) ||
        h.ngroups > kMaxGroups || (!(h.flags & kRlimitAs) && h.rlimit_as) ||
        (!(h.flags & kRlimitNproc) && h.rlimit_nproc))
        return std::nullopt;
    Request r;
    if (h.flags & kSetUid) r.uid = h.uid;
    if (h.flags & kSetGid) r.gid = h.gid;
    if (h.flags & kRlimitAs) r.rlimit_as = h.rlimit_as;
    if (h.flags & kRlimitNproc) r.rlimit_nproc = h.rlimit_nproc;
    r.die_with_kvd = h.flags & kDieWithKvd;
    r.join_cgroup = h.flags & kJoinCgroup;
    std::size_t group_bytes = std::size_t{h.ngroups} * sizeof(uint32_t);
    if (msg.size() < group_bytes) return std::nullopt;
    r.groups.resize(h.ngroups);
    if (group_bytes) std::memcpy(r.groups.data(), msg.data(), group_bytes);
    msg.remove_prefix(group_bytes);
    auto next = [&msg](std::string& out) {
        auto nul = msg.find('\0');
        if (nul == std::string_view::npos) return false;
        out.assign(msg.substr(0, nul));
        msg.remove_prefix(nul + 1);
        return true;
    };
    r.argv.resize(h.argc);
    for (auto& a : r.argv)
        if (!next(a)) return std::nullopt;
    std::string entry;
    for (uint32_t i = 0; i < h.envc; ++i) {
        if (!next(entry)) return std::nullopt;
        auto eq = entry.find('=');
        // Each name once: a repeated one would mean two requests disagree on its value.
        if (eq == 0 || eq == std::string::npos) return std::nullopt;
        if (!r.env_add.emplace(entry.substr(0, eq), entry.substr(eq + 1)).second)
            return std::nullopt;
    }
    if (h.flags & kHasCwd) {
        std::string cwd;
        if (!next(cwd) || cwd.empty()) return std::nullopt;
        r.cwd = std::move(cwd);
    }
    if (!msg.empty()) return std::nullopt;
    return r;
}

}  // namespace kvd::spawn_protocol
