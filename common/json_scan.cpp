#include "common/json_scan.hpp"

#include <charconv>
#include <cstdint>

#include "common/utf8.hpp"

namespace kvd::json_scan {

namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

class Scanner {
  public:
    explicit Scanner(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

    const char* pos() const { return p_; }
    bool at_end() const { return p_ == end_; }
    bool peek(char c) const { return p_ < end_ && *p_ == c; }
    void advance() { ++p_; }

    // Skips JSON whitespace; true when there was some.
    bool skip_ws() {
        const char* start = p_;
        while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
        return p_ != start;
    }

    // One value of any kind at the current position; `depth` is that of the container
    // holding it (0 at the top level). Leaves the position just after it.
    bool value(std::size_t depth, Member& m) {
        m.plain = false;
        m.canonical = true;
        if (p_ >= end_) return false;
        switch (*p_) {
            case '"':
                m.kind = Kind::string;
                if (!string(m.plain)) return false;
                m.canonical = m.plain;
                return true;
            case '{':
                m.kind = Kind::object;
                return container(depth, m.canonical);
            case '[':
                m.kind = Kind::array;
                return container(depth, m.canonical);
            case 't':
                m.kind = Kind::literal_true;
                return literal("true");
            case 'f':
                m.kind = Kind::literal_false;
                return literal("false");
            case 'n':
                m.kind = Kind::null;
                return literal("null");
            default:
                m.kind = Kind::number;
                return number(m.canonical);
        }
    }

    // A string at '"'. `plain`: it has no escape.
    bool string(bool& plain) {
        ++p_;
        plain = true;
        while (p_ < end_) {
            auto c = static_cast<unsigned char>(*p_);
            if (c == '"') {
                ++p_;
                return true;
            }
            if (c < 0x20) return false;
            if (c == '\\') {
                plain = false;
                if (!escape()) return false;
            } else if (c < 0x80) {
                ++p_;
            } else if (!utf8_sequence()) {
                return false;
            }
        }
        return false;
    }

  private:
    bool literal(std::string_view word) {
        if (static_cast<std::size_t>(end_ - p_) < word.size() ||
            std::string_view(p_, word.size()) != word)
            return false;
        p_ += word.size();
        return true;
    }

    // At '\\'. The \u rules are nlohmann's: a high surrogate must be followed by an escaped
    // low one, and a lone low surrogate is an error.
    bool escape() {
        ++p_;
        if (p_ >= end_) return false;
        switch (*p_) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                ++p_;
                return true;
            case 'u': {
                ++p_;
                unsigned cp = 0;
                if (!hex4(cp)) return false;
                if (cp >= 0xDC00 && cp <= 0xDFFF) return false;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
                    p_ += 2;
                    unsigned low = 0;
                    if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
                }
                return true;
            }
            default:
                return false;
        }
    }

    bool hex4(unsigned& out) {
        if (end_ - p_ < 4) return false;
        out = 0;
        for (int i = 0; i < 4; ++i) {
            int h = hex_value(p_[i]);
            if (h < 0) return false;
            out = out * 16 + static_cast<unsigned>(h);
        }
        p_ += 4;
        return true;
    }

    // One multi-byte UTF-8 sequence, as nlohmann checks it (common/utf8.hpp).
    bool utf8_sequence() {
        std::size_t n = utf8::sequence_length(p_, end_);
        p_ += n;
        return n != 0;
    }

    // JSON number grammar. nlohmann turns an integer out of 64-bit range into a double and
    // rejects a double that overflows; a number that might overflow is declined, so every
    // accepted one is below 10^308 in magnitude.
    bool number(bool& canonical) {
        bool negative = peek('-');
        if (negative) ++p_;
        if (p_ >= end_ || !is_digit(*p_)) return false;
        const char* int_start = p_;
        if (*p_ == '0')
            ++p_;
        else
            while (p_ < end_ && is_digit(*p_)) ++p_;
        const char* int_end = p_;
        bool integer = true;
        if (peek('.')) {
            integer = false;
            ++p_;
            if (p_ >= end_ || !is_digit(*p_)) return false;
            while (p_ < end_ && is_digit(*p_)) ++p_;
        }
        long exponent = 0;
        if (peek('e') || peek('E')) {
            integer = false;
            ++p_;
            bool negative_exponent = peek('-');
            if (peek('+') || peek('-')) ++p_;
            if (p_ >= end_ || !is_digit(*p_)) return false;
            while (p_ < end_ && is_digit(*p_)) {
                if (exponent < 1'000'000) exponent = exponent * 10 + (*p_ - '0');
                ++p_;
            }
            if (negative_exponent) exponent = -exponent;
        }
        long magnitude = *int_start == '0' ? 0 : static_cast<long>(int_end - int_start);
        if (magnitude + exponent > 308) return false;
        if (!integer) {
            canonical = false;
            return true;
        }
        uint64_t v = 0;
        auto [end, ec] = std::from_chars(int_start, int_end, v);
        if (ec != std::errc() || end != int_end)
            canonical = false;  // a double for nlohmann
        else if (negative)
            canonical = v != 0 && v <= (uint64_t{1} << 63);
        return true;
    }

    // An array or object at '[' / '{' inside a container of depth `depth`, walked with an
    // explicit stack (no recursion).
    bool container(std::size_t depth, bool& canonical) {
        struct Level {
            bool object;
            bool first;
            bool has_key;
            bool last_key_plain;
            std::string_view last_key;
        };
        std::array<Level, kMaxDepth> stack;
        std::size_t top = 0;
        canonical = true;
        auto open = [&]() {
            if (depth + top + 1 > kMaxDepth) return false;
            stack[top++] = Level{*p_ == '{', true, false, false, {}};
            ++p_;
            return true;
        };
        if (!open()) return false;
        for (;;) {
            Level& level = stack[top - 1];
            if (skip_ws()) canonical = false;
            char close = level.object ? '}' : ']';
            if (level.first && peek(close)) {
                ++p_;
            } else {
                level.first = false;
                if (level.object) {
                    if (!peek('"')) return false;
                    const char* key_start = p_;
                    bool key_plain = false;
                    if (!string(key_plain)) return false;
                    std::string_view key(key_start + 1,
                                         static_cast<std::size_t>(p_ - key_start - 2));
                    // nlohmann keeps keys sorted (and the last of duplicates).
                    if (!key_plain ||
                        (level.has_key && !(level.last_key_plain && level.last_key < key)))
                        canonical = false;
                    level.has_key = true;
                    level.last_key = key;
                    level.last_key_plain = key_plain;
                    if (skip_ws()) canonical = false;
                    if (!peek(':')) return false;
                    ++p_;
                    if (skip_ws()) canonical = false;
                }
                if (peek('{') || peek('[')) {
                    if (!open()) return false;
                    continue;
                }
                Member m;
                if (!value(depth + top, m)) return false;
                if (!m.canonical) canonical = false;
                if (skip_ws()) canonical = false;
                if (peek(',')) {
                    ++p_;
                    continue;
                }
                if (!peek(close)) return false;
                ++p_;
            }
            // Closed a container: the one holding it goes on after a value.
            for (;;) {
                if (--top == 0) return true;
                Level& parent = stack[top - 1];
                if (skip_ws()) canonical = false;
                if (peek(',')) {
                    ++p_;
                    break;
                }
                if (!peek(parent.object ? '}' : ']')) return false;
                ++p_;
            }
        }
    }

    const char* p_;
    const char* end_;
};

}  // namespace

const Member* Object::find(std::string_view key) const {
    // Called a few times per request: the first byte rules out most members without a
    // call to memcmp.
    for (std::size_t i = 0; i < count_; ++i) {
        std::string_view k = members_[i].key;
        if (k.size() == key.size() && (k.empty() || k[0] == key[0]) && k == key)
            return &members_[i];
    }
    return nullptr;
}

bool scan_object(std::string_view line, Object& out) {
    out.count_ = 0;
    Scanner s(line);
    s.skip_ws();
    if (!s.peek('{')) return false;
    s.advance();
    s.skip_ws();
    if (s.peek('}')) {
        s.advance();
    } else {
        for (;;) {
            if (!s.peek('"')) return false;
            const char* key_start = s.pos();
            bool key_plain = false;
            if (!s.string(key_plain) || !key_plain) return false;
            std::string_view key(key_start + 1, static_cast<std::size_t>(s.pos() - key_start - 2));
            if (out.find(key) || out.count_ == Object::kMaxMembers) return false;
            s.skip_ws();
            if (!s.peek(':')) return false;
            s.advance();
            s.skip_ws();
            Member& m = out.members_[out.count_];
            const char* value_start = s.pos();
            if (!s.value(1, m)) return false;
            m.key = key;
            m.raw = std::string_view(value_start, static_cast<std::size_t>(s.pos() - value_start));
            ++out.count_;
            s.skip_ws();
            if (s.peek(',')) {
                s.advance();
                s.skip_ws();
                continue;
            }
            if (!s.peek('}')) return false;
            s.advance();
            break;
        }
    }
    s.skip_ws();
    return s.at_end();
}

bool scan_value(std::string_view text, Member& out) {
    Scanner s(text);
    s.skip_ws();
    const char* start = s.pos();
    if (!s.value(0, out)) return false;
    out.key = {};
    out.raw = std::string_view(start, static_cast<std::size_t>(s.pos() - start));
    s.skip_ws();
    return s.at_end();
}

}  // namespace kvd::json_scan
