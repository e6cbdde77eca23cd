// A small scanner for the common shape of a request line: one JSON object whose members are
// wanted as raw text, without building a DOM. Pure, no I/O.
//
// It fully validates what it accepts (grammar, UTF-8, \u surrogate pairs, numbers that
// nlohmann would reject as overflowing) and *declines* everything it does not handle
// (escaped or duplicate top-level keys, deep nesting, many members, a BOM, any invalid
// input). A declined line goes to the nlohmann path, which stays the one source of every
// error message, so the scanner can only ever speed up a line, never change its answer.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace kvd::json_scan {

enum class Kind { string, number, literal_true, literal_false, null, object, array };

struct Member {
    std::string_view key;  // decoded (keys with escapes are declined)
    std::string_view raw;  // the value's JSON text exactly as sent; strings keep their quotes
    Kind kind;
    // A string without any escape: its text is raw minus the quotes.
    bool plain;
    // nlohmann::json would serialise the parsed value as exactly `raw`: no whitespace, plain
    // strings, integers in range (no "-0"), object keys strictly ascending. Such a value can
    // be echoed or forwarded as is.
    bool canonical;

    // The text of a plain string (raw minus the quotes).
    std::string_view text() const { return raw.substr(1, raw.size() - 2); }
};

// The top-level members of one scanned object, in the order sent.
class Object {
  public:
    static constexpr std::size_t kMaxMembers = 16;

    const Member* find(std::string_view key) const;
    std::size_t size() const { return count_; }
    const Member& operator[](std::size_t i) const { return members_[i]; }

  private:
    friend bool scan_object(std::string_view, Object&);
    std::array<Member, kMaxMembers> members_{};
    std::size_t count_ = 0;
};

// Nesting deeper than this (the top object counts as 1) is declined.
inline constexpr std::size_t kMaxDepth = 64;

// Scans `line` (one JSON object, optionally surrounded by JSON whitespace). True when it was
// handled: `out` then holds every member. False when declined; `out` is then unspecified.
bool scan_object(std::string_view line, Object& out);

// Scans `text` as one complete JSON value (surrounding whitespace allowed), with the same
// rules; true and the value's kind/flags in `out` (key left empty) when handled.
bool scan_value(std::string_view text, Member& out);

}  // namespace kvd::json_scan
