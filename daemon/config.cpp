// The TOML loader for kvd's config (SPEC §6): strict schema, every error with FILE:LINE:COLUMN.
#include "daemon/config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <toml.hpp>
#include <tuple>
#include <utility>

#include "common/names.hpp"

namespace kvd {

std::string_view handler_mode_name(HandlerMode m) {
    return m == HandlerMode::sync ? "sync" : "async";
}

std::string_view restart_policy_name(RestartPolicy p) {
    switch (p) {
        case RestartPolicy::always:
            return "always";
        case RestartPolicy::on_failure:
            return "on-failure";
        case RestartPolicy::never:
            return "never";
    }
    return "always";
}

std::string ConfigError::to_string() const {
    return fmt::format("{}:{}:{}: {}", file, line, column, message);
}

namespace {

using Value = toml::value;

struct Position {
    int line = 0;
    int column = 0;
};

bool is_blank(char c) {
    return c == ' ' || c == '\t';
}

bool is_bare_key_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

// `key` as a whole component of a (possibly dotted or quoted) key inside s[from, to).
std::size_t find_key_component(const std::string& s, std::size_t from, std::size_t to,
                               const std::string& key, bool last) {
    auto bounded = [&](std::size_t at) {
        bool left_ok = at == from || !is_bare_key_char(s[at - 1]);
        std::size_t end = at + key.size();
        bool right_ok = end >= to || !is_bare_key_char(s[end]);
        return left_ok && right_ok;
    };
    if (key.empty() || to > s.size() || from >= to) return std::string::npos;
    std::string_view window(s.data() + from, to - from);
    // A quoted key is pointed at by its opening quote.
    auto start_of = [&](std::size_t at) {
        return at > from && (s[at - 1] == '"' || s[at - 1] == '\'') ? at - 1 : at;
    };
    if (last) {
        for (std::size_t at = window.rfind(key); at != std::string_view::npos;
             at = at == 0 ? std::string_view::npos : window.rfind(key, at - 1)) {
            if (bounded(from + at)) return start_of(from + at);
        }
    } else {
        for (std::size_t at = window.find(key); at != std::string_view::npos;
             at = window.find(key, at + 1)) {
            if (bounded(from + at)) return start_of(from + at);
        }
    }
    return std::string::npos;
}

Position value_position(const Value& v) {
    auto loc = v.location();
    return {static_cast<int>(loc.line()), static_cast<int>(loc.column())};
}

// toml11 v3 records where values are, not where their keys are. The key sits on the same line:
// before the '=' of a key/value pair, or inside a [table] header; a table made by a dotted key
// is already located at that key. Falls back to the value's own position.
Position key_position(const Value& v, const std::string& key) {
    Position at = value_position(v);
    const toml::source_location location = v.location();  // returned by value: keep it alive
    const std::string& line = location.line_str();
    std::size_t start = static_cast<std::size_t>(at.column) - 1;
    if (at.column < 1 || start >= line.size()) return at;

    std::size_t i = start;
    while (i > 0 && is_blank(line[i - 1])) --i;
    if (i > 0 && line[i - 1] == '=') {
        std::size_t end = i - 1;
        while (end > 0 && is_blank(line[end - 1])) --end;
        std::size_t found = find_key_component(line, 0, end, key, /*last=*/true);
        if (found == std::string::npos && end > 0) {
            // Spelled with escapes: point at the last key component as written.
            char quote = line[end - 1];
            if (quote == '"' || quote == '\'') {
                found = end >= 2 ? line.rfind(quote, end - 2) : std::string::npos;
            } else {
                found = end;
                while (found > 0 && is_bare_key_char(line[found - 1])) --found;
            }
        }
        if (found != std::string::npos) at.column = static_cast<int>(found) + 1;
        return at;
    }
    if (i == 0 && line[start] == '[') {
        std::size_t close = line.find(']', start);
        std::size_t found = find_key_component(
            line, start, close == std::string::npos ? line.size() : close, key, /*last=*/false);
        if (found != std::string::npos) at.column = static_cast<int>(found) + 1;
    }
    return at;
}

std::string_view type_phrase(toml::value_t t) {
    switch (t) {
        case toml::value_t::empty:
            return "empty";
        case toml::value_t::boolean:
            return "a boolean";
        case toml::value_t::integer:
            return "an integer";
        case toml::value_t::floating:
            return "a float";
        case toml::value_t::string:
            return "a string";
        case toml::value_t::offset_datetime:
        case toml::value_t::local_datetime:
            return "a date-time";
        case toml::value_t::local_date:
            return "a date";
        case toml::value_t::local_time:
            return "a time";
        case toml::value_t::array:
            return "an array";
        case toml::value_t::table:
            return "a table";
    }
    return "a value";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

// "; did you mean 'socket'?" for a near miss among `known`, else empty.
std::string suggestion(const std::string& key, std::initializer_list<std::string_view> known) {
    std::string_view best;
    std::size_t best_distance = 3;  // more than two edits away is not a typo
    for (std::string_view candidate : known) {
        std::size_t d = edit_distance(key, candidate);
        if (d < best_distance) {
            best = candidate;
            best_distance = d;
        }
    }
    return best.empty() ? std::string() : fmt::format("; did you mean '{}'?", best);
}

// Messages quote the user's keys and strings, which may hold control characters; each error
// must stay one line, so those are escaped.
std::string one_line(std::string_view message) {
    std::string out;
    out.reserve(message.size());
    for (char c : message) {
        unsigned char byte = static_cast<unsigned char>(c);
        if (c == '\n')
            out += "\\n";
        else if (c == '\t')
            out += "\\t";
        else if (c == '\r')
            out += "\\r";
        else if (byte < 0x20 || byte == 0x7f)
            out += fmt::format("\\x{:02x}", byte);
        else
            out += c;
    }
    return out;
}

// A relative path with a '/' means "next to the config file"; a bare name is for PATH.
std::string resolve_beside(const std::string& path, const std::filesystem::path& config_dir) {
    if (path.empty() || path.front() == '/' || path.find('/') == std::string::npos) return path;
    if (config_dir.empty()) return path;
    return (config_dir / path).lexically_normal().string();
}

// toml11 parses arrays and inline tables by recursion, one level of the stack per level of
// nesting: "a = [[[[…" 10 000 deep (20 KB) overflowed the stack, so --check-config and reload
// crashed instead of reporting an error. No kvd key takes values nested more than two deep,
// so anything beyond this is refused before toml11 sees it.
constexpr int kMaxNesting = 64;

// toml11's time grows faster than the file: measured here, an array of 64 KiB parsed in
// 1.8 s and one of 128 KiB in 21 s, and `reload` parses on kvd's only thread. A config of a
// hundred handlers is ~10 KiB; anything over this is refused before toml11 sees it.
constexpr std::size_t kMaxConfigBytes = 64 * 1024;

// Where the first '[' or '{' nested deeper than kMaxNesting is, or nullopt. Brackets inside
// strings and comments do not count; table headers count like arrays (at most two levels).
std::optional<Position> too_deep_at(std::string_view text) {
    enum class In { code, comment, basic, literal, multiline_basic, multiline_literal };
    In in = In::code;
    int depth = 0;
    Position at{1, 0};
    std::size_t line_start = 0;
    auto starts_with = [&](std::size_t i, std::string_view s) {
        return text.substr(i, s.size()) == s;
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '\n') {
            ++at.line;
            line_start = i + 1;
            // Single-line strings and comments end here, also when unterminated.
            if (in == In::comment || in == In::basic || in == In::literal) in = In::code;
            continue;
        }
        switch (in) {
            case In::code:
                if (c == '#') {
                    in = In::comment;
                } else if (c == '"' || c == '\'') {
                    bool triple = starts_with(i, c == '"' ? "\"\"\"" : "'''");
                    if (triple) i += 2;
                    in = c == '"' ? (triple ? In::multiline_basic : In::basic)
                                  : (triple ? In::multiline_literal : In::literal);
                } else if (c == '[' || c == '{') {
                    if (++depth > kMaxNesting) {
                        at.column = static_cast<int>(i - line_start) + 1;
                        return at;
                    }
                } else if ((c == ']' || c == '}') && depth > 0) {
                    --depth;
                }
                break;
            case In::comment:
                break;
            case In::basic:
            case In::multiline_basic:
                // An escaped character is skipped, but never a newline (it is counted above).
                if (c == '\\' && i + 1 < text.size() && text[i + 1] != '\n') {
                    ++i;
                } else if (c == '"' && (in == In::basic || starts_with(i, "\"\"\""))) {
                    // A multi-line string may end in up to five quotes: it closes after the run.
                    while (in == In::multiline_basic && i + 1 < text.size() && text[i + 1] == '"')
                        ++i;
                    in = In::code;
                }
                break;
            case In::literal:
            case In::multiline_literal:
                if (c == '\'' && (in == In::literal || starts_with(i, "'''"))) {
                    while (in == In::multiline_literal && i + 1 < text.size() &&
                           text[i + 1] == '\'')
                        ++i;
                    in = In::code;
                }
                break;
        }
    }
    return std::nullopt;
}

// A TOML document must be UTF-8. toml11 checks that per string, and its error path for a
// literal ('…' or '''…''') string with a bad byte reads outside the text: a debug build
// aborted on an assertion, a release build reported "basic_string::_M_create" at 0:0 or could
// crash. The whole text is checked first, as strictly as toml11 does (no overlong forms, no
// surrogates, nothing past U+10FFFF), so that path is never taken.
std::optional<std::pair<Position, unsigned char>> invalid_utf8_at(std::string_view text) {
    int line = 1;
    std::size_t line_start = 0;
    for (std::size_t i = 0; i < text.size();) {
        auto byte = [&](std::size_t k) {
            return k < text.size() ? static_cast<unsigned char>(text[k]) : 0;
        };
        unsigned char c = byte(i);
        std::size_t length = c < 0x80                 ? 1
                             : c >= 0xC2 && c <= 0xDF ? 2
                             : c >= 0xE0 && c <= 0xEF ? 3
                             : c >= 0xF0 && c <= 0xF4 ? 4
                                                      : 0;
        // The second byte's range rules out overlong forms (after E0 and F0), surrogates
        // (after ED) and code points past U+10FFFF (after F4).
        unsigned char low = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
        unsigned char high = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
        bool valid = length > 0 && (length == 1 || (byte(i + 1) >= low && byte(i + 1) <= high));
        for (std::size_t k = 2; valid && k < length; ++k)
            valid = byte(i + k) >= 0x80 && byte(i + k) <= 0xBF;
        // Columns count bytes, as toml11's do.
        if (!valid) return std::make_pair(Position{line, static_cast<int>(i - line_start) + 1}, c);
        i += length;
        if (c == '\n') {
            ++line;
            line_start = i;
        }
    }
    return std::nullopt;
}

// Turns toml11's multi-line syntax error (message, then a source excerpt with a caret under
// the culprit) into one ConfigError. The excerpt's last caret is the place to point at: for
// "defined twice" errors it marks the second definition.
ConfigError syntax_error_to_config_error(const toml::exception& e, const std::string& file) {
    ConfigError error{
        file, static_cast<int>(e.location().line()), static_cast<int>(e.location().column()), {}};
    std::istringstream lines(e.what());
    std::string text;
    std::string note;
    int previous_line = 0;
    std::string line;
    bool first = true;
    while (std::getline(lines, line)) {
        if (first) {
            first = false;
            text = line;
            if (text.rfind("[error] ", 0) == 0) text.erase(0, 8);
            // Drop the parser function's name ("toml::parse_key_value_pair: ").
            if (text.rfind("toml::", 0) == 0) {
                std::size_t colon = text.find(": ");
                if (colon != std::string::npos) text.erase(0, colon + 2);
            }
            continue;
        }
        std::size_t bar = line.find(" | ");
        if (bar == std::string::npos) continue;
        std::string gutter = line.substr(0, bar);
        std::string rest = line.substr(bar + 3);
        std::size_t digits = gutter.find_first_not_of(' ');
        if (digits != std::string::npos &&
            gutter.find_first_not_of("0123456789", digits) == std::string::npos) {
            previous_line = std::stoi(gutter.substr(digits));
            continue;
        }
        std::size_t caret = rest.find_first_of("^~");
        if (caret == std::string::npos || previous_line == 0) continue;
        error.line = previous_line;
        error.column = static_cast<int>(caret) + 1;
        std::size_t note_start = rest.find_first_not_of("^~-", caret);
        note = note_start == std::string::npos ? std::string() : rest.substr(note_start);
        note.erase(0, std::min(note.find_first_not_of(' '), note.size()));
    }
    for (std::string* part : {&text, &note}) {
        while (!part->empty() && (part->back() == '.' || part->back() == ' ')) part->pop_back();
    }
    if (text.empty()) text = "TOML syntax error";
    error.message = note.empty() || note == "here" ? text : fmt::format("{} ({})", text, note);
    return error;
}

// toml11 appends a '\n' to text that does not end in one, so an error at the very end of such
// text points at the line after the last. It is moved to just past the last character.
ConfigError within_text(ConfigError error, std::string_view text) {
    int lines = 1 + static_cast<int>(std::count(text.begin(), text.end(), '\n'));
    if (error.line > lines) {
        std::size_t newline = text.rfind('\n');
        std::size_t last_line_start = newline == std::string_view::npos ? 0 : newline + 1;
        error.line = lines;
        error.column = static_cast<int>(text.size() - last_line_start) + 1;
    }
    return error;
}

// Walks a parsed document against the schema, filling a Config and collecting every error.
class Loader {
  public:
    Loader(std::string file, std::filesystem::path config_dir)
        : file_(std::move(file)), config_dir_(std::move(config_dir)) {}

    void load(const Value& root, Config& config) {
        const auto& table = root.as_table();
        check_keys(root, "", {"daemon", "bucket", "handler"});
        if (auto it = table.find("daemon"); it != table.end() && expect_table(it->second, "daemon"))
            load_daemon(it->second, config.daemon);
        if (auto it = table.find("bucket"); it != table.end() && expect_table(it->second, "bucket"))
            load_bucket(it->second, config.bucket);
        if (auto it = table.find("handler"); it != table.end()) load_handlers(it->second, config);
    }

    std::vector<ConfigError> take_errors() {
        // The document's tables are unordered maps: report in file order.
        std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
            return std::tie(a.line, a.column) < std::tie(b.line, b.column);
        });
        return std::move(errors_);
    }

  private:
    void error_at(Position p, const std::string& message) {
        errors_.push_back(ConfigError{file_, p.line, p.column, one_line(message)});
    }
    void error_at(const Value& v, const std::string& message) {
        error_at(value_position(v), message);
    }

    // `section` is "" for the top level, else "daemon", "bucket" or "handler".
    void check_keys(const Value& table, std::string_view section,
                    std::initializer_list<std::string_view> known) {
        for (const auto& [key, value] : table.as_table()) {
            if (std::find(known.begin(), known.end(), key) != known.end()) continue;
            std::string where = section.empty()        ? std::string("at the top level")
                                : section == "handler" ? std::string("in [[handler]]")
                                                       : fmt::format("in [{}]", section);
            error_at(key_position(value, key),
                     fmt::format("unknown key '{}' {}{}", key, where, suggestion(key, known)));
        }
    }

    static const Value* find(const Value& table, const std::string& key) {
        const auto& t = table.as_table();
        auto it = t.find(key);
        return it == t.end() ? nullptr : &it->second;
    }

    bool expect_type(const Value& v, toml::value_t type, std::string_view what) {
        if (v.type() == type) return true;
        error_at(v, fmt::format("{} must be {}, not {}", what, type_phrase(type),
                                type_phrase(v.type())));
        return false;
    }

    bool expect_table(const Value& v, std::string_view what) {
        return expect_type(v, toml::value_t::table, what);
    }

    std::optional<std::string> get_string(const Value& v, std::string_view what) {
        if (!expect_type(v, toml::value_t::string, what)) return std::nullopt;
        const std::string& s = v.as_string().str;
        if (s.empty()) {
            error_at(v, fmt::format("{} must not be empty", what));
            return std::nullopt;
        }
        if (s.find('\0') != std::string::npos) {
            error_at(v, fmt::format("{} must not contain a NUL character", what));
            return std::nullopt;
        }
        return s;
    }

    std::optional<std::size_t> get_positive(const Value& v, std::string_view what) {
        if (!expect_type(v, toml::value_t::integer, what)) return std::nullopt;
        auto n = v.as_integer();
        if (n <= 0) {
            error_at(v, fmt::format("{} must be a positive integer, not {}", what, n));
            return std::nullopt;
        }
        return static_cast<std::size_t>(n);
    }

    // A duration string ("250ms", "5s", "1m") or an integer number of milliseconds.
    std::optional<Millis> get_duration(const Value& v, std::string_view what, bool allow_zero) {
        std::optional<Millis> d;
        if (v.is_integer()) {
            if (v.as_integer() < 0) {
                error_at(v, fmt::format("{} must not be negative", what));
                return std::nullopt;
            }
            d = Millis(v.as_integer());
        } else if (v.is_string()) {
            std::string why;
            d = parse_duration(v.as_string().str, &why);
            if (!d) {
                error_at(v, fmt::format("{}: {}", what, why));
                return std::nullopt;
            }
        } else {
            error_at(v, fmt::format("{} must be a duration such as \"5s\" or an integer number of "
                                    "milliseconds, not {}",
                                    what, type_phrase(v.type())));
            return std::nullopt;
        }
        if (!allow_zero && d->count() == 0) {
            error_at(v, fmt::format("{} must be longer than zero", what));
            return std::nullopt;
        }
        return d;
    }

    // One of `choices`, as its index.
    std::optional<std::size_t> get_choice(const Value& v, std::string_view what,
                                          std::initializer_list<std::string_view> choices) {
        if (!expect_type(v, toml::value_t::string, what)) return std::nullopt;
        const std::string& s = v.as_string().str;
        auto it = std::find(choices.begin(), choices.end(), s);
        if (it != choices.end()) return static_cast<std::size_t>(it - choices.begin());
        std::string list;
        for (std::size_t i = 0; i < choices.size(); ++i) {
            if (i > 0) list += i + 1 == choices.size() ? " or " : ", ";
            list += fmt::format("\"{}\"", choices.begin()[i]);
        }
        error_at(v, fmt::format("{} must be {}, not \"{}\"", what, list, s));
        return std::nullopt;
    }

    std::optional<std::vector<std::string>> get_string_array(const Value& v,
                                                             std::string_view what) {
        if (!expect_type(v, toml::value_t::array, what)) return std::nullopt;
        std::vector<std::string> out;
        bool ok = true;
        const auto& array = v.as_array();
        for (std::size_t i = 0; i < array.size(); ++i) {
            auto s = get_string(array[i], fmt::format("{}[{}]", what, i));
            ok = ok && s.has_value();
            if (s) out.push_back(std::move(*s));
        }
        if (!ok) return std::nullopt;
        return out;
    }

    void load_daemon(const Value& section, DaemonSection& out) {
        check_keys(
            section, "daemon",
            {"socket", "socket_mode", "socket_group", "max_buckets", "event_history", "log_level"});
        if (auto* v = find(section, "socket")) {
            if (auto s = get_string(*v, "daemon.socket")) out.socket = std::move(*s);
        }
        if (auto* v = find(section, "socket_mode")) {
            if (auto mode = get_socket_mode(*v)) out.socket_mode = *mode;
        }
        if (auto* v = find(section, "socket_group")) {
            if (auto s = get_string(*v, "daemon.socket_group")) out.socket_group = std::move(*s);
        }
        if (auto* v = find(section, "max_buckets")) {
            if (auto n = get_positive(*v, "daemon.max_buckets")) out.max_buckets = *n;
        }
        if (auto* v = find(section, "event_history")) {
            if (auto n = get_positive(*v, "daemon.event_history")) out.event_history = *n;
        }
        if (auto* v = find(section, "log_level")) {
            if (get_choice(*v, "daemon.log_level", {"trace", "debug", "info", "warn", "error"}))
                out.log_level = v->as_string().str;
        }
    }

    // An octal string such as "0660"; a string, because TOML has no leading-zero integers.
    std::optional<mode_t> get_socket_mode(const Value& v) {
        if (!v.is_string()) {
            error_at(v, fmt::format("daemon.socket_mode must be an octal string such as \"0660\", "
                                    "not {}",
                                    type_phrase(v.type())));
            return std::nullopt;
        }
        const std::string& s = v.as_string().str;
        bool octal = !s.empty() && s.size() <= 8 &&
                     std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '7'; });
        if (!octal) {
            error_at(v, fmt::format(
                            "daemon.socket_mode \"{}\" is not an octal mode such as \"0660\"", s));
            return std::nullopt;
        }
        mode_t mode = static_cast<mode_t>(std::stoul(s, nullptr, 8));
        if (mode > 0777) {
            error_at(v, fmt::format("daemon.socket_mode \"{}\" is above 0777", s));
            return std::nullopt;
        }
        return mode;
    }

    void load_bucket(const Value& section, BucketSection& out) {
        check_keys(section, "bucket", {"program", "stop_timeout"});
        if (auto* v = find(section, "program")) {
            if (auto s = get_string(*v, "bucket.program"))
                out.program = resolve_beside(*s, config_dir_);
        }
        if (auto* v = find(section, "stop_timeout")) {
            if (auto d = get_duration(*v, "bucket.stop_timeout", /*allow_zero=*/true))
                out.stop_timeout = *d;
        }
    }

    void load_handlers(const Value& list, Config& config) {
        if (!list.is_array()) {
            error_at(list, fmt::format("handler must be an array of tables (write [[handler]]), "
                                       "not {}",
                                       type_phrase(list.type())));
            return;
        }
        std::map<std::string, int> first_line_of;  // handler name -> line of its name
        for (const Value& entry : list.as_array()) {
            if (!expect_table(entry, "each handler")) continue;
            HandlerConfig handler;
            bool ok = load_handler(entry, handler);
            // A handler with other errors still claims its name, so duplicates are all reported.
            if (!handler.name.empty()) {
                const Value& name_value = *find(entry, "name");
                auto [it, inserted] =
                    first_line_of.emplace(handler.name, value_position(name_value).line);
                if (!inserted) {
                    error_at(name_value,
                             fmt::format("duplicate handler name '{}' (first defined on line {})",
                                         handler.name, it->second));
                    ok = false;
                }
            }
            if (ok) config.handlers.push_back(std::move(handler));
        }
    }

    // False when the handler had any error (the caller then skips it).
    bool load_handler(const Value& section, HandlerConfig& out) {
        std::size_t errors_before = errors_.size();
        check_keys(section, "handler",
                   {"name", "command", "mode", "events", "ack_timeout", "queue", "restart",
                    "restart_delay", "restart_delay_max", "env"});

        if (auto* v = find(section, "name")) {
            if (auto s = get_string(*v, "handler.name")) {
                std::string problem = bucket_name_problem(*s);
                if (problem.empty()) {
                    out.name = std::move(*s);
                } else {
                    // The shared check speaks of buckets; the rule is the same for handlers.
                    if (problem.rfind("bucket name", 0) == 0) problem.replace(0, 6, "handler");
                    error_at(*v, problem);
                }
            }
        } else {
            error_at(section, "handler has no 'name' (required)");
        }

        if (auto* v = find(section, "command")) {
            if (auto argv = get_string_array(*v, "handler.command")) {
                if (argv->empty()) {
                    error_at(*v, "handler.command must name a program: it is an empty array");
                } else {
                    (*argv)[0] = resolve_beside((*argv)[0], config_dir_);
                    out.command = std::move(*argv);
                }
            }
        } else {
            error_at(section, "handler has no 'command' (required)");
        }

        if (auto* v = find(section, "mode")) {
            if (auto i = get_choice(*v, "handler.mode", {"sync", "async"}))
                out.mode = *i == 0 ? HandlerMode::sync : HandlerMode::async;
        }
        if (auto* v = find(section, "events")) {
            if (auto types = get_string_array(*v, "handler.events")) {
                if (types->empty())
                    error_at(*v, "handler.events is empty; leave it out to receive every type");
                else
                    out.events = std::move(*types);
            }
        }
        if (auto* v = find(section, "ack_timeout")) {
            if (auto d = get_duration(*v, "handler.ack_timeout", /*allow_zero=*/false))
                out.ack_timeout = *d;
        }
        if (auto* v = find(section, "queue")) {
            if (auto n = get_positive(*v, "handler.queue")) out.queue = *n;
        }
        if (auto* v = find(section, "restart")) {
            if (auto i = get_choice(*v, "handler.restart", {"always", "on-failure", "never"})) {
                static constexpr RestartPolicy kPolicies[] = {
                    RestartPolicy::always, RestartPolicy::on_failure, RestartPolicy::never};
                out.restart = kPolicies[*i];
            }
        }
        const Value* delay = find(section, "restart_delay");
        const Value* delay_max = find(section, "restart_delay_max");
        bool delays_ok = true;
        if (delay) {
            auto d = get_duration(*delay, "handler.restart_delay", /*allow_zero=*/true);
            delays_ok = delays_ok && d.has_value();
            if (d) out.restart_delay = *d;
        }
        if (delay_max) {
            auto d = get_duration(*delay_max, "handler.restart_delay_max", /*allow_zero=*/true);
            delays_ok = delays_ok && d.has_value();
            if (d) out.restart_delay_max = *d;
        }
        // Point at whichever of the two the user wrote, preferring the maximum; the defaults
        // alone are consistent.
        const Value* culprit = delay_max ? delay_max : delay;
        if (delays_ok && culprit && out.restart_delay_max < out.restart_delay) {
            error_at(*culprit, fmt::format("handler.restart_delay_max ({}) is shorter than "
                                           "handler.restart_delay ({})",
                                           format_duration(out.restart_delay_max),
                                           format_duration(out.restart_delay)));
        }
        if (auto* v = find(section, "env")) load_env(*v, out.env);

        return errors_.size() == errors_before;
    }

    void load_env(const Value& v, std::map<std::string, std::string>& out) {
        if (!expect_table(v, "handler.env")) return;
        for (const auto& [name, value] : v.as_table()) {
            if (name.empty() || name.find('=') != std::string::npos ||
                name.find('\0') != std::string::npos) {
                error_at(key_position(value, name),
                         fmt::format("handler.env: '{}' is not a valid variable name", name));
                continue;
            }
            if (!value.is_string()) {
                error_at(value, fmt::format("handler.env.{} must be a string, not {}", name,
                                            type_phrase(value.type())));
                continue;
            }
            const std::string& s = value.as_string().str;
            if (s.find('\0') != std::string::npos) {
                error_at(value,
                         fmt::format("handler.env.{} must not contain a NUL character", name));
                continue;
            }
            out.emplace(name, s);
        }
    }

    std::string file_;
    std::filesystem::path config_dir_;
    std::vector<ConfigError> errors_;
};

}  // namespace

ConfigResult parse_config(std::string_view text, const std::string& filename) {
    if (text.size() > kMaxConfigBytes) {
        return std::vector<ConfigError>{ConfigError{
            filename, 0, 0,
            fmt::format("larger than {} KiB, the most a config may be", kMaxConfigBytes / 1024)}};
    }
    if (auto bad = invalid_utf8_at(text)) {
        return std::vector<ConfigError>{
            ConfigError{filename, bad->first.line, bad->first.column,
                        fmt::format("invalid UTF-8 (byte 0x{:02x}); a config must be UTF-8 text",
                                    bad->second)}};
    }
    if (auto at = too_deep_at(text)) {
        return std::vector<ConfigError>{ConfigError{
            filename, at->line, at->column,
            fmt::format("arrays and inline tables nested more than {} deep", kMaxNesting)}};
    }
    std::istringstream stream{std::string(text)};
    Value root;
    try {
        root = toml::parse(stream, filename);
    } catch (const toml::exception& e) {
        return std::vector<ConfigError>{
            within_text(syntax_error_to_config_error(e, filename), text)};
    } catch (const std::exception& e) {
        return std::vector<ConfigError>{ConfigError{filename, 0, 0, e.what()}};
    }

    Config config;
    config.path = filename;
    Loader loader(filename, std::filesystem::path(filename).parent_path());
    loader.load(root, config);
    auto errors = loader.take_errors();
    if (!errors.empty()) return errors;
    return config;
}

ConfigResult load_config_file(const std::string& path) {
    auto cannot_read = [&](int err) {
        return std::vector<ConfigError>{
            ConfigError{path, 0, 0, fmt::format("cannot read: {}", std::strerror(err))}};
    };
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (!file) return cannot_read(errno);
    std::string text;
    char buffer[8192];
    std::size_t n;
    // One byte past the limit is enough for parse_config to refuse it.
    while (text.size() <= kMaxConfigBytes && (n = std::fread(buffer, 1, sizeof buffer, file)) > 0)
        text.append(buffer, n);
    int read_errno = std::ferror(file) ? (errno != 0 ? errno : EIO) : 0;
    std::fclose(file);
    if (read_errno != 0) return cannot_read(read_errno);
    return parse_config(text, path);
}

}  // namespace kvd
