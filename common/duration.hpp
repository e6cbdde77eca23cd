// Durations as people write them in configs and on the command line: "250ms", "5s", "1m",
// "1h", "1.5s", or a plain number of milliseconds. Pure.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace kvd {

using Millis = std::chrono::milliseconds;

// nullopt when `text` is not a duration; `error` (if given) then says why.
std::optional<Millis> parse_duration(std::string_view text, std::string* error = nullptr);

// The shortest exact spelling: 1500ms -> "1500ms", 5000ms -> "5s", 60000ms -> "1m".
std::string format_duration(Millis d);

}  // namespace kvd
