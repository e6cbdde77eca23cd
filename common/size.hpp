// Byte sizes as people write them in configs: "512K" or "512KiB", "64M"/"64MiB",
// "1G"/"1GiB", "1T"/"1TiB", "100B", or a plain number of bytes. The suffixes are binary
// (1K = 1024 bytes); "KB", "MB" and the like are refused because they are read both ways.
// Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kvd {

inline constexpr std::uint64_t kKiB = std::uint64_t{1} << 10;
inline constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;
inline constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;
inline constexpr std::uint64_t kTiB = std::uint64_t{1} << 40;

// The number of bytes; nullopt when `text` is not a size or does not fit in 64 bits, and
// `error` (if given) then says why. Zero is a size ("0", "0K"): ranges are the caller's.
std::optional<std::uint64_t> parse_size(std::string_view text, std::string* error = nullptr);

// The shortest exact spelling with a binary suffix: 33554432 -> "32MiB", 1536 -> "1536B",
// 0 -> "0B". parse_size reads it back to the same number.
std::string format_size(std::uint64_t bytes);

}  // namespace kvd
