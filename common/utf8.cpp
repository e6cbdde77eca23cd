#include "common/utf8.hpp"

namespace kvd::utf8 {

std::optional<std::size_t> first_invalid(std::string_view text) {
    const char* begin = text.data();
    const char* end = begin + text.size();
    for (const char* p = begin; p < end;) {
        if (static_cast<unsigned char>(*p) < 0x80) {
            ++p;
            continue;
        }
        std::size_t n = sequence_length(p, end);
        if (n == 0) return static_cast<std::size_t>(p - begin);
        p += n;
    }
    return std::nullopt;
}

}  // namespace kvd::utf8
