// Wall-clock timestamps in RFC 3339 UTC with microseconds, as events and `list` carry them.
#pragma once

#include <chrono>
#include <string>

namespace kvd {

using WallTime = std::chrono::system_clock::time_point;

// "2026-11-23T19:40:00.123456Z"
std::string format_rfc3339(WallTime t);
// The same, appended to `out`. Cheap when called often: the date and time of day are
// formatted once per second.
void append_rfc3339(std::string& out, WallTime t);

}  // namespace kvd
