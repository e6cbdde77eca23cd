// UTF-8 validation shared by every reader of outside text: JSON lines (json_scan), kvctl's
// arguments and the config file. Pure, no I/O.
//
// Valid means RFC 3629, as nlohmann::json and toml11 check it: no overlong forms, no UTF-16
// surrogates (U+D800..U+DFFF), nothing past U+10FFFF, no sequence cut short. NUL and other
// control characters are valid UTF-8; whether a format allows them is its reader's business.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace kvd::utf8 {

// The length (2 to 4) of the valid multi-byte sequence starting at `p`, or 0 when the bytes
// from `p` (before `end`) do not start one. An ASCII byte is not a multi-byte sequence: callers
// test `byte < 0x80` first, which keeps their ASCII loops fast. Inline for json_scan's hot loop.
inline std::size_t sequence_length(const char* p, const char* end) {
    auto byte = [&](std::ptrdiff_t i) { return static_cast<unsigned char>(p[i]); };
    auto in = [&](std::ptrdiff_t i, unsigned char lo, unsigned char hi) {
        return i < end - p && byte(i) >= lo && byte(i) <= hi;
    };
    unsigned char c = byte(0);
    // The second byte's range rules out overlong forms (after E0 and F0), surrogates (after
    // ED) and code points past U+10FFFF (after F4).
    if (c >= 0xC2 && c <= 0xDF) return in(1, 0x80, 0xBF) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
        unsigned char hi = c == 0xED ? 0x9F : 0xBF;
        return in(1, lo, hi) && in(2, 0x80, 0xBF) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
        unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;
        return in(1, lo, hi) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
    }
    return 0;
}

// The offset of the first byte of `text` that does not begin a valid character (for a
// sequence cut short or broken, the offset of its lead byte); nullopt when all is UTF-8.
std::optional<std::size_t> first_invalid(std::string_view text);

inline bool is_valid(std::string_view text) {
    return !first_invalid(text);
}

}  // namespace kvd::utf8
