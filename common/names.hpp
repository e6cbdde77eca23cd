// Bucket names: 1–128 bytes of A–Z a–z 0–9 . _ : -, not starting with '.' or '-'.
#pragma once

#include <string>
#include <string_view>

namespace kvd {

inline constexpr std::size_t kMaxBucketNameBytes = 128;

// Empty when `name` is valid, else a sentence saying what is wrong with it.
std::string bucket_name_problem(std::string_view name);

inline bool is_valid_bucket_name(std::string_view name) {
    return bucket_name_problem(name).empty();
}

}  // namespace kvd
