// What the fuzz targets share: a check that turns a broken invariant into a crash libFuzzer
// records (with the input saved), and splitting an input into lines or chunks.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace kvd::fuzz {

// What a failed check prints below itself; built only when the check fails.
struct Detail {
    std::string text;
};

[[noreturn]] inline void check_failed(const char* what, const char* file, int line,
                                      const Detail& detail) {
    std::fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
    if (!detail.text.empty()) std::fprintf(stderr, "  %s\n", detail.text.c_str());
    std::abort();
}

// FUZZ_CHECK(cond) or FUZZ_CHECK(cond, detail): aborts when cond is false. `detail` is any
// string, printed under the failed condition.
#define FUZZ_CHECK(cond, ...) \
    ((cond)                   \
         ? (void)0            \
         : ::kvd::fuzz::check_failed(#cond, __FILE__, __LINE__, ::kvd::fuzz::Detail{__VA_ARGS__}))

inline std::string_view as_text(const uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// The '\n'-separated pieces of `text`; the last one may be unterminated (and empty).
inline std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    for (;;) {
        std::size_t newline = text.find('\n');
        if (newline == std::string_view::npos) break;
        lines.push_back(text.substr(0, newline));
        text.remove_prefix(newline + 1);
    }
    lines.push_back(text);
    return lines;
}

// How deeply JSON `text` nests arrays and objects (brackets inside strings not counted).
inline std::size_t json_depth(std::string_view text) {
    std::size_t depth = 0, deepest = 0;
    bool in_string = false, escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}

// kvd refuses requests nested deeper than this, so it never builds deeper values.
inline constexpr std::size_t kMaxJsonDepth = 256;

// A deterministic stream of numbers from the input itself (FNV-1a seed, xorshift64), so that
// the way an input is chunked is reproducible from the saved input alone.
class InputRandom {
  public:
    explicit InputRandom(std::string_view bytes) {
        for (char c : bytes) state_ = (state_ ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
        if (state_ == 0) state_ = 1;
    }
    uint64_t next() {
        state_ ^= state_ << 13;
        state_ ^= state_ >> 7;
        state_ ^= state_ << 17;
        return state_;
    }
    // In [lo, hi].
    std::size_t between(std::size_t lo, std::size_t hi) { return lo + next() % (hi - lo + 1); }

  private:
    uint64_t state_ = 0xcbf29ce484222325ULL;
};

// `text` cut into consecutive chunks of 1..max_chunk bytes.
inline std::vector<std::string_view> random_chunks(std::string_view text, std::size_t max_chunk,
                                                   InputRandom& random) {
    std::vector<std::string_view> chunks;
    while (!text.empty()) {
        std::size_t n = std::min(text.size(), random.between(1, max_chunk));
        chunks.push_back(text.substr(0, n));
        text.remove_prefix(n);
    }
    return chunks;
}

}  // namespace kvd::fuzz
