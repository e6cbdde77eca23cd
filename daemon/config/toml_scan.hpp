// A syntax scan of TOML text that builds nothing: it finds the first place where the text is
// not TOML, or is more than toml11 may safely be given, and says what is wrong there in
// kvd's words, at an exact LINE:COLUMN. Pure, no I/O, no toml11.
//
// The TOML front end (toml_front.hpp) runs it before toml11 parses, so that toml11 only ever
// sees text of bounded nesting whose grammar is already known to be right; toml11 then judges
// what a scan cannot: whether each number, date or string is valid (through `ScalarCheck`,
// asked only once toml11 refused the text) and whether a key is defined twice.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvd {

// Arrays and inline tables nested deeper than this are refused: toml11 parses them by
// recursion, and "a = [[[[…" 10 000 deep (20 KB) overflowed the stack.
inline constexpr int kMaxTomlNesting = 64;

// A binary integer of more digits than this is refused: toml11 doubles a signed 64-bit place
// value once per digit, which overflows (undefined behaviour) from the 63rd digit on. No kvd
// key takes a number that needs more.
inline constexpr int kMaxTomlBinaryDigits = 62;

// A place in the text: 1-based line, and column counted in bytes (as toml11 counts them);
// 0:0 for the text as a whole.
struct TomlPosition {
    int line = 0;
    int column = 0;
};

struct TomlProblem {
    TomlPosition at;
    std::string message;  // may quote the text, so may hold control characters
};

// A key/value pair or a table header the scan went through, for naming the key that toml11
// says is defined twice.
struct TomlDefinition {
    TomlPosition key;     // its first character ('[' for a table header)
    TomlPosition value;   // its value's first character; == key for a table header
    std::string written;  // the key as written, e.g. "daemon.socket" or "[[handler]]"
};

// Whether one scalar (a quoted string, number, boolean or date-time, exactly as written) is
// valid TOML.
using ScalarCheck = std::function<bool(std::string_view token)>;

struct TomlScan {
    std::optional<TomlProblem> problem;  // the first, in text order; nullopt: none found
    bool over_limit = false;  // the problem is valid TOML beyond a limit above, not an error
    std::vector<TomlDefinition> definitions;  // those before the problem, in text order
};

// Scans `text` (already known to be UTF-8). Without `check`, scalars are only delimited.
TomlScan scan_toml(std::string_view text, const ScalarCheck& check = nullptr);

}  // namespace kvd
