#include "common/names.hpp"

#include <fmt/format.h>

namespace kvd {

namespace {
bool allowed(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
}
}  // namespace

std::string bucket_name_problem(std::string_view name) {
    if (name.empty()) return "bucket name is empty";
    if (name.size() > kMaxBucketNameBytes)
        return fmt::format("bucket name is {} bytes long; at most {} are allowed", name.size(),
                           kMaxBucketNameBytes);
    if (name[0] == '.' || name[0] == '-')
        return fmt::format("bucket name may not start with '{}'", name[0]);
    for (std::size_t i = 0; i < name.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(name[i]);
        if (!allowed(name[i])) {
            if (c >= 0x20 && c < 0x7f)
                return fmt::format(
                    "bucket name has '{}' at byte {}; allowed are A-Z a-z 0-9 . _ : -", name[i], i);
            return fmt::format(
                "bucket name has byte 0x{:02x} at {}; allowed are A-Z a-z 0-9 . _ : -", c, i);
        }
    }
    return {};
}

}  // namespace kvd
