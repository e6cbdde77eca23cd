#include "common/size.hpp"

#include <fmt/format.h>

#include <limits>
#include <utility>

namespace kvd {

namespace {

struct Unit {
    std::string_view suffix;
    std::uint64_t bytes;
};

constexpr Unit kUnits[] = {
    {"", 1},       {"B", 1},    {"K", kKiB},   {"KiB", kKiB}, {"M", kMiB},
    {"MiB", kMiB}, {"G", kGiB}, {"GiB", kGiB}, {"T", kTiB},   {"TiB", kTiB},
};

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text, std::string* error) {
    auto fail = [&](std::string why) -> std::optional<std::uint64_t> {
        if (error) *error = std::move(why);
        return std::nullopt;
    };
    if (text.empty()) return fail("empty size");
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (digits == 0)
        return fail(fmt::format("'{}' is not a size (expected e.g. 512K, 64MiB, 1G)", text));

    constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
    std::string_view suffix = text.substr(digits);
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
        if (u.suffix == suffix) unit = &u;
    }
    if (!unit) {
        return fail(
            fmt::format("'{}' has unknown unit '{}' (use B, K, M, G, T or KiB, MiB, GiB, "
                        "TiB; 1K is 1024 bytes)",
                        text, suffix));
    }
    std::uint64_t number = 0;
    for (std::size_t i = 0; i < digits; ++i) {
        auto digit = static_cast<std::uint64_t>(text[i] - '0');
        if (number > (kMax - digit) / 10)
            return fail(fmt::format("'{}' does not fit in 64 bits", text));
        number = number * 10 + digit;
    }
    if (number > kMax / unit->bytes) return fail(fmt::format("'{}' does not fit in 64 bits", text));
    return number * unit->bytes;
}

std::string format_size(std::uint64_t bytes) {
    if (bytes != 0) {
        for (const auto& [suffix, unit] : {std::pair{"TiB", kTiB}, std::pair{"GiB", kGiB},
                                           std::pair{"MiB", kMiB}, std::pair{"KiB", kKiB}}) {
            if (bytes % unit == 0) return fmt::format("{}{}", bytes / unit, suffix);
        }
    }
    return fmt::format("{}B", bytes);
}

}  // namespace kvd
