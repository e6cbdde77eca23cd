#include "daemon/proc/spawn_protocol.hpp"

#include <cstring>

namespace kvd::spawn_protocol {

namespace {
constexpr std::size_t kHeaderBytes = 2 * sizeof(uint32_t);

bool has_nul(std::string_view s) {
    return s.find('\0') != std::string_view::npos;
}
}  // namespace

std::string request_problem(const Request& r) {
    if (r.argv.empty()) return "no program to run";
    if (r.argv.size() > kMaxEntries || r.env_add.size() > kMaxEntries)
        return "more than " + std::to_string(kMaxEntries) + " arguments or environment entries";
    std::size_t bytes = kHeaderBytes;
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
    if (bytes > kMaxRequestBytes)
        return "the command and environment take " + std::to_string(bytes) + " bytes, over " +
               std::to_string(kMaxRequestBytes);
    return {};
}

std::string encode(const Request& r) {
    std::string msg(kHeaderBytes, '\0');
    uint32_t counts[2] = {static_cast<uint32_t>(r.argv.size()),
                          static_cast<uint32_t>(r.env_add.size())};
    std::memcpy(msg.data(), counts, sizeof counts);
    for (const auto& a : r.argv) msg.append(a).push_back('\0');
    for (const auto& [k, v] : r.env_add) msg.append(k).append("=").append(v).push_back('\0');
    return msg;
}

std::optional<Request> decode(std::string_view msg) {
    if (msg.size() < kHeaderBytes || msg.size() > kMaxRequestBytes) return std::nullopt;
    uint32_t counts[2];
    std::memcpy(counts, msg.data(), sizeof counts);
    msg.remove_prefix(kHeaderBytes);
    if (counts[0] == 0 || counts[0] > kMaxEntries || counts[1] > kMaxEntries) return std::nullopt;
    auto next = [&msg](std::string& out) {
        auto nul = msg.find('\0');
        if (nul == std::string_view::npos) return false;
        out.assign(msg.substr(0, nul));
        msg.remove_prefix(nul + 1);
        return true;
    };
    Request r;
    r.argv.resize(counts[0]);
    for (auto& a : r.argv)
        if (!next(a)) return std::nullopt;
    std::string entry;
    for (uint32_t i = 0; i < counts[1]; ++i) {
        if (!next(entry)) return std::nullopt;
        auto eq = entry.find('=');
        // Each name once: a repeated one would mean two requests disagree on its value.
        if (eq == 0 || eq == std::string::npos) return std::nullopt;
        if (!r.env_add.emplace(entry.substr(0, eq), entry.substr(eq + 1)).second)
            return std::nullopt;
    }
    if (!msg.empty()) return std::nullopt;
    return r;
}

}  // namespace kvd::spawn_protocol
