// The TOML 1.0 grammar, walked without building values; see toml_scan.hpp.
#include "daemon/config/toml_scan.hpp"

#include <fmt/format.h>

#include <cstdint>

namespace kvd {

namespace {

bool is_bare_key_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool is_control(char c) {
    auto byte = static_cast<unsigned char>(c);
    return (byte < 0x20 && c != '\t') || byte == 0x7f;
}

// What a scalar that toml11 refused was meant to be, as a message.
std::string scalar_problem(std::string_view token) {
    std::string shown(token.substr(0, 40));
    if (shown.size() < token.size()) shown += "…";
    if (token.front() == '"' || token.front() == '\'')
        return fmt::format("invalid string {}", shown);
    std::string_view digits = token;
    if (!digits.empty() && (digits.front() == '+' || digits.front() == '-'))
        digits.remove_prefix(1);
    if (digits.size() > 1 && digits[0] == '0' && (is_digit(digits[1]) || digits[1] == '_'))
        return fmt::format("invalid number '{}': a TOML integer has no leading zero", shown);
    bool word = !is_digit(token.front());
    for (char c : token) word = word && is_bare_key_char(c);
    if (word) return fmt::format("invalid value '{}' (a string must be quoted)", shown);
    return fmt::format("invalid value '{}'", shown);
}

class Scanner {
  public:
    Scanner(std::string_view text, const ScalarCheck& check) : text_(text), check_(check) {}

    TomlScan run() {
        if (text_.substr(0, 3) == "\xEF\xBB\xBF") i_ = 3;  // a byte order mark, as toml11 skips
        while (!at_end() && statement()) {
        }
        return TomlScan{std::move(problem_), over_limit_, std::move(definitions_)};
    }

  private:
    bool at_end() const { return i_ >= text_.size(); }
    char peek(std::size_t ahead = 0) const {
        return i_ + ahead < text_.size() ? text_[i_ + ahead] : '\0';
    }
    bool at_newline() const { return peek() == '\n' || (peek() == '\r' && peek(1) == '\n'); }
    bool at_line_end() const { return at_end() || at_newline(); }
    TomlPosition here() const { return {line_, static_cast<int>(i_ - line_start_) + 1}; }

    void newline() {
        i_ += peek() == '\r' ? 2 : 1;
        ++line_;
        line_start_ = i_;
    }

    // What is at the current position, for "found …" in messages.
    std::string found() const {
        if (at_end()) return "end of file";
        if (at_newline()) return "end of line";
        char c = peek();
        if (is_control(c))
            return fmt::format("a control character (0x{:02x})", static_cast<unsigned char>(c));
        if (static_cast<unsigned char>(c) < 0x80) return fmt::format("'{}'", c);
        std::size_t end = i_ + 1;
        while (end < text_.size() && (static_cast<unsigned char>(text_[end]) & 0xC0) == 0x80) ++end;
        return fmt::format("'{}'", text_.substr(i_, end - i_));
    }

    bool fail(TomlPosition at, std::string message) {
        problem_ = TomlProblem{at, std::move(message)};
        return false;
    }
    bool fail_here(std::string_view expected) {
        return fail(here(), fmt::format("expected {}, found {}", expected, found()));
    }

    void skip_blanks() {
        while (peek() == ' ' || peek() == '\t') ++i_;
    }

    // At '#': the rest of the line.
    bool comment() {
        for (++i_; !at_line_end(); ++i_) {
            if (is_control(peek())) return fail_here("a comment to run to the end of its line");
        }
        return true;
    }

    // Blanks, a comment, then the end of the line (or of the file), after `what`.
    bool end_of_line(std::string_view what) {
        skip_blanks();
        if (peek() == '#' && !comment()) return false;
        if (at_end()) return true;
        if (!at_newline()) return fail_here(fmt::format("end of line after {}", what));
        newline();
        return true;
    }

    bool statement() {
        skip_blanks();
        if (at_line_end() || peek() == '#') return end_of_line("a comment");
        if (peek() == '[') return table_header() && end_of_line("the table header");
        return key_value(0) && end_of_line("the value");
    }

    bool table_header() {
        TomlPosition start = here();
        std::size_t from = i_;
        bool array = peek(1) == '[';
        i_ += array ? 2 : 1;
        skip_blanks();
        if (!key()) return false;
        std::string_view close = array ? "]]" : "]";
        if (text_.substr(i_, close.size()) != close)
            return fail_here(fmt::format("'{}' to close the table header", close));
        i_ += close.size();
        definitions_.push_back({start, start, std::string(text_.substr(from, i_ - from))});
        return true;
    }

    // A dotted key, and the blanks after it.
    bool key() {
        for (;;) {
            if (peek() == '"') {
                if (!basic_string()) return false;
            } else if (peek() == '\'') {
                if (!literal_string()) return false;
            } else if (is_bare_key_char(peek())) {
                while (is_bare_key_char(peek())) ++i_;
            } else {
                return fail_here("a key");
            }
            std::size_t end = i_;
            skip_blanks();
            if (peek() != '.') {
                key_end_ = end;
                return true;
            }
            ++i_;
            skip_blanks();
        }
    }

    // `depth`: the number of inline tables around it.
    bool key_value(int depth) {
        TomlPosition key_at = here();
        std::size_t from = i_;
        if (!key()) return false;
        std::string written(text_.substr(from, key_end_ - from));
        if (peek() != '=') return fail_here(fmt::format("'=' after the key {}", written));
        ++i_;
        skip_blanks();
        if (at_line_end() || peek() == '#') return fail(here(), "missing value after '='");
        TomlPosition value_at = here();
        if (!value(depth)) return false;
        definitions_.push_back({key_at, value_at, std::move(written)});
        return true;
    }

    // One value; `depth` is the number of arrays and inline tables around it.
    bool value(int depth) {
        std::size_t from = i_;
        TomlPosition at = here();
        bool ok;
        switch (peek()) {
            case '[':
                return array(depth + 1);
            case '{':
                return inline_table(depth + 1);
            case '"':
                ok = text_.substr(i_, 3) == "\"\"\"" ? multiline_string('"') : basic_string();
                break;
            case '\'':
                ok = text_.substr(i_, 3) == "'''" ? multiline_string('\'') : literal_string();
                break;
            default:
                ok = bare_scalar();
                break;
        }
        if (!ok) return false;
        std::string_view token = text_.substr(from, i_ - from);
        if (check_ && !check_(token)) return fail(at, scalar_problem(token));
        return true;
    }

    // A number, boolean or date-time: delimited here, judged by the check.
    bool bare_scalar() {
        std::size_t from = i_;
        auto is_end = [&] {
            char c = peek();
            return at_end() || c == ' ' || c == '\t' || c == ',' || c == ']' || c == '}' ||
                   c == '#' || c == '\n' || c == '\r';
        };
        while (!is_end()) ++i_;
        // A date and a time may be separated by a space: "1979-05-27 07:32:00".
        std::string_view token = text_.substr(from, i_ - from);
        if (token.size() == 10 && token[4] == '-' && token[7] == '-' && peek() == ' ' &&
            is_digit(peek(1)) && is_digit(peek(2)) && peek(3) == ':') {
            ++i_;
            while (!is_end()) ++i_;
            token = text_.substr(from, i_ - from);
        }
        if (token.empty()) return fail_here("a value");
        if (token.substr(0, 2) == "0b") {
            int digits = 0;
            for (char c : token.substr(2)) {
                if (c != '0' && c != '1' && c != '_') break;
                digits += c != '_';
            }
            if (digits > kMaxTomlBinaryDigits) {
                over_limit_ = true;
                return fail({line_, static_cast<int>(from - line_start_) + 1},
                            fmt::format("a binary integer of {} digits; at most {} are read",
                                        digits, kMaxTomlBinaryDigits));
            }
        }
        return true;
    }

    bool too_deep(int depth) {
        if (depth <= kMaxTomlNesting) return false;
        over_limit_ = true;
        fail(here(),
             fmt::format("arrays and inline tables nested more than {} deep", kMaxTomlNesting));
        return true;
    }

    // Blanks, newlines and comments, which may come anywhere between an array's values.
    bool array_space() {
        for (;;) {
            skip_blanks();
            if (peek() == '#') {
                if (!comment()) return false;
            } else if (at_newline()) {
                newline();
            } else {
                return true;
            }
        }
    }

    bool array(int depth) {
        if (too_deep(depth)) return false;
        TomlPosition open = here();
        ++i_;
        auto unclosed = [&] {
            return fail(here(), fmt::format("end of file inside the array opened at {}:{}",
                                            open.line, open.column));
        };
        for (;;) {
            if (!array_space()) return false;
            if (at_end()) return unclosed();
            if (peek() == ']') break;  // also after a trailing comma
            if (!value(depth) || !array_space()) return false;
            if (at_end()) return unclosed();
            if (peek() == ']') break;
            if (peek() != ',') return fail_here("',' or ']' after a value in the array");
            ++i_;
        }
        ++i_;
        return true;
    }

    // `{ k = v, … }`, all on one line, without a trailing comma.
    bool inline_table(int depth) {
        if (too_deep(depth)) return false;
        ++i_;
        skip_blanks();
        if (peek() == '}') {
            ++i_;
            return true;
        }
        for (;;) {
            if (!key_value(depth)) return false;
            skip_blanks();
            if (peek() == '}') break;
            if (peek() != ',') {
                return fail_here(at_line_end()
                                     ? "',' or '}' (an inline table ends on the line it starts)"
                                     : "',' or '}' after a value in the inline table");
            }
            ++i_;
            skip_blanks();
            if (peek() == '}')
                return fail(here(), "a trailing ',' is not allowed in an inline table");
        }
        ++i_;
        return true;
    }

    // At '\\' inside a basic string.
    bool escape() {
        TomlPosition at = here();
        char c = peek(1);
        if (c == 'b' || c == 't' || c == 'n' || c == 'f' || c == 'r' || c == '"' || c == '\\') {
            i_ += 2;
            return true;
        }
        if (c != 'u' && c != 'U') {
            ++i_;
            return fail(at,
                        fmt::format("invalid escape in a string: '\\' followed by {}", found()));
        }
        std::size_t digits = c == 'u' ? 4 : 8;
        std::uint32_t code_point = 0;
        for (std::size_t k = 0; k < digits; ++k) {
            char h = peek(2 + k);
            int v = is_digit(h)            ? h - '0'
                    : h >= 'a' && h <= 'f' ? h - 'a' + 10
                    : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                           : -1;
            if (v < 0) {
                return fail(at, fmt::format("invalid escape in a string: \\{} takes {} hex digits",
                                            c, digits));
            }
            code_point = code_point * 16 + static_cast<std::uint32_t>(v);
        }
        if ((code_point >= 0xD800 && code_point <= 0xDFFF) || code_point > 0x10FFFF) {
            return fail(at, fmt::format("invalid escape in a string: U+{:04X} is not a Unicode "
                                        "scalar value",
                                        code_point));
        }
        i_ += 2 + digits;
        return true;
    }

    bool control_in_string() {
        return fail_here("a control character to be escaped (\\uXXXX) in a string");
    }

    bool basic_string() {
        TomlPosition open = here();
        for (++i_;;) {
            if (at_line_end()) return fail(open, "unterminated string");
            char c = peek();
            if (c == '"') break;
            if (c == '\\') {
                if (!escape()) return false;
                continue;
            }
            if (is_control(c)) return control_in_string();
            ++i_;
        }
        ++i_;
        return true;
    }

    bool literal_string() {
        TomlPosition open = here();
        for (++i_; peek() != '\''; ++i_) {
            if (at_line_end()) return fail(open, "unterminated string");
            if (is_control(peek())) return control_in_string();
        }
        ++i_;
        return true;
    }

    // At """ or '''. Up to two quotes may end the text right before the closing three.
    bool multiline_string(char quote) {
        TomlPosition open = here();
        i_ += 3;
        for (;;) {
            if (at_end()) return fail(open, "unterminated multi-line string");
            char c = peek();
            if (c == quote && peek(1) == quote && peek(2) == quote) break;
            if (at_newline()) {
                newline();
            } else if (c == '\\' && quote == '"') {
                // A backslash at the end of a line (blanks may follow) joins the next line.
                std::size_t after = i_ + 1;
                while (after < text_.size() && (text_[after] == ' ' || text_[after] == '\t'))
                    ++after;
                if (after < text_.size() && (text_[after] == '\n' || text_[after] == '\r')) {
                    i_ = after;
                } else if (!escape()) {
                    return false;
                }
            } else if (is_control(c)) {
                return control_in_string();
            } else {
                ++i_;
            }
        }
        std::size_t run = 3;
        while (run < 5 && peek(run) == quote) ++run;
        i_ += run;
        return true;
    }

    std::string_view text_;
    const ScalarCheck& check_;
    std::size_t i_ = 0;
    int line_ = 1;
    std::size_t line_start_ = 0;
    std::size_t key_end_ = 0;  // where the last key scanned ends, before any blanks
    std::optional<TomlProblem> problem_;
    bool over_limit_ = false;
    std::vector<TomlDefinition> definitions_;
};

}  // namespace

TomlScan scan_toml(std::string_view text, const ScalarCheck& check) {
    return Scanner(text, check).run();
}

}  // namespace kvd
