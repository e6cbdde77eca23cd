#include "fleet/names.hpp"

#include <cstdint>

namespace kvd::fleet {

namespace {

bool is_plain(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::string subject_token(std::string_view text) {
    if (text.empty()) return "_";
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) out.push_back(is_plain(c) ? static_cast<char>(c) : '_');
    return out;
}

std::string event_subject(std::string_view host, std::string_view type) {
    return "kvd." + subject_token(host) + "." + subject_token(type);
}

std::string control_subject(std::string_view host) {
    return "kvdctl." + subject_token(host);
}

std::string registry_key(std::string_view bucket) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(bucket.size());
    for (unsigned char c : bucket) {
        if (is_plain(c)) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('=');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xF]);
        }
    }
    return out;
}

std::optional<std::string> bucket_of_key(std::string_view key) {
    std::string out;
    for (std::size_t i = 0; i < key.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(key[i]);
        if (is_plain(c)) {
            out.push_back(static_cast<char>(c));
            continue;
        }
        if (c != '=' || i + 2 >= key.size()) return std::nullopt;
        int hi = hex_value(key[i + 1]);
        int lo = hex_value(key[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        unsigned char decoded = static_cast<unsigned char>(hi * 16 + lo);
        if (is_plain(decoded)) return std::nullopt;  // registry_key never escapes these
        out.push_back(static_cast<char>(decoded));
        i += 2;
    }
    if (out.empty()) return std::nullopt;
    return out;
}

std::string message_id(std::string_view host, std::string_view boot, uint64_t seq) {
    std::string id(host);
    id.push_back(':');
    id.append(boot);
    id.push_back(':');
    id.append(std::to_string(seq));
    return id;
}

}  // namespace kvd::fleet
