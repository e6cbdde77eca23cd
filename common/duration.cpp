#include "common/duration.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>

namespace kvd {

std::optional<Millis> parse_duration(std::string_view text, std::string* error) {
    auto fail = [&](std::string why) -> std::optional<Millis> {
        if (error) *error = std::move(why);
        return std::nullopt;
    };
    if (text.empty()) return fail("empty duration");
    std::size_t digits = 0;
    while (digits < text.size() &&
           ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.'))
        ++digits;
    if (digits == 0)
        return fail(fmt::format("'{}' is not a duration (expected e.g. 250ms, 5s, 1m)", text));
    double value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, value);
    if (ec != std::errc() || ptr != text.data() + digits)
        return fail(fmt::format("'{}' is not a duration (expected e.g. 250ms, 5s, 1m)", text));
    std::string_view unit = text.substr(digits);
    double scale;
    if (unit.empty() || unit == "ms")
        scale = 1;
    else if (unit == "s")
        scale = 1000;
    else if (unit == "m" || unit == "min")
        scale = 60'000;
    else if (unit == "h")
        scale = 3'600'000;
    else if (unit == "us")
        scale = 0.001;
    else
        return fail(fmt::format("'{}' has unknown unit '{}' (use ms, s, m or h)", text, unit));
    double ms = value * scale;
    if (!std::isfinite(ms) || ms > static_cast<double>(std::numeric_limits<int64_t>::max() / 2))
        return fail(fmt::format("'{}' is too long", text));
    return Millis(static_cast<int64_t>(std::llround(ms)));
}

std::string format_duration(Millis d) {
    auto ms = d.count();
    if (ms != 0 && ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
    if (ms != 0 && ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
    if (ms != 0 && ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
    return fmt::format("{}ms", ms);
}

}  // namespace kvd
