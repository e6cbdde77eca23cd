// The TOML front end of kvd's config: text in, a toml11 document or one positioned problem
// out. It knows TOML, not kvd's keys (that is the schema, daemon/config/schema.cpp).
//
// toml11 is given only text it can take: at most kMaxConfigBytes, UTF-8, of bounded nesting,
// and already scanned for syntax errors (toml_scan.hpp), which are described in kvd's words
// at their exact place. What toml11 still refuses is described from structured facts only:
// its exception's source location, and which scalar it fails to parse on its own. No message
// is taken from a library's what().
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <toml.hpp>
#include <variant>

#include "daemon/config/toml_scan.hpp"

namespace kvd {

// toml11's time grows faster than the file: measured here, an array of 64 KiB parsed in
// 1.8 s and one of 128 KiB in 21 s, and `reload` parses on kvd's only thread. A config of a
// hundred handlers is ~10 KiB; anything over this is refused before toml11 sees it.
inline constexpr std::size_t kMaxConfigBytes = 64 * 1024;

using TomlResult = std::variant<toml::value, TomlProblem>;

// Parses `text`; `file` is the name toml11 records in each value's source location.
TomlResult parse_toml(std::string_view text, const std::string& file);

// The text of the file at `path`, read no further than one byte past kMaxConfigBytes (enough
// for parse_toml to refuse it); a file that cannot be read is a problem at 0:0.
std::variant<std::string, TomlProblem> read_toml_text(const std::string& path);

}  // namespace kvd
