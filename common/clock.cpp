#include "common/clock.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

namespace kvd {

std::string format_rfc3339(WallTime t) {
    std::string out;
    append_rfc3339(out, t);
    return out;
}

void append_rfc3339(std::string& out, WallTime t) {
    using namespace std::chrono;
    auto us = duration_cast<microseconds>(t.time_since_epoch()).count();
    std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
    long frac = static_cast<long>(us % 1'000'000);
    if (frac < 0) {
        frac += 1'000'000;
        --secs;
    }
    // Events come in bursts within one second: gmtime and the formatting of the seconds
    // part happen once per second (per thread) instead of once per event.
    thread_local std::time_t cached_secs = -1;
    thread_local char cached_prefix[32];
    thread_local std::size_t cached_size = 0;
    if (secs != cached_secs || cached_size == 0) {
        std::tm tm{};
        gmtime_r(&secs, &tm);
        auto r = fmt::format_to_n(cached_prefix, sizeof cached_prefix,
                                  "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.", tm.tm_year + 1900,
                                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached_size = std::min(r.size, sizeof cached_prefix);
        cached_secs = secs;
    }
    out.append(cached_prefix, cached_size);
    char digits[7] = {};
    for (int i = 5; i >= 0; --i) {
        digits[i] = static_cast<char>('0' + frac % 10);
        frac /= 10;
    }
    digits[6] = 'Z';
    out.append(digits, 7);
}

}  // namespace kvd
