// The schema of kvd's config (README "Configuration"): its keys, their types, ranges and defaults,
// checked on the document the TOML front end (toml_front.hpp) parsed; every error with
// FILE:LINE:COLUMN.
#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <optional>
#include <toml.hpp>
#include <tuple>
#include <utility>
#include <variant>

#include "common/names.hpp"
#include "common/signals.hpp"
#include "common/socket_path.hpp"
#include "daemon/config.hpp"
#include "daemon/config/toml_front.hpp"

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

std::string_view kind_restart_name(KindRestart r) {
    switch (r) {
        case KindRestart::temporary:
            return "temporary";
        case KindRestart::transient:
            return "transient";
        case KindRestart::permanent:
            return "permanent";
    }
    return "?";
}

std::string_view readiness_name(Readiness r) {
    return r == Readiness::notify ? "notify" : "spawn";
}

const KindConfig* Config::find_kind(std::string_view name) const {
    for (const auto& k : kinds)
        if (k.name == name) return &k;
    return nullptr;
}

std::string listen_address_problem(std::string_view address) {
    constexpr std::string_view kForm =
        "write HOST:PORT with HOST an IPv4 address or an IPv6 one in brackets, such as "
        "\"127.0.0.1:9464\" or \"[::1]:9464\"";
    std::size_t colon = address.rfind(':');
    if (colon == std::string_view::npos)
        return fmt::format("\"{}\" has no port; {}", address, kForm);
    std::string host(address.substr(0, colon));
    std::string_view port = address.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoul(std::string(port)) > 65535)
        return fmt::format("\"{}\" is not a port (0 to 65535); {}", port, kForm);
    unsigned char buffer[sizeof(in6_addr)];
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), buffer) == 1) return {};
        return fmt::format("\"{}\" is not an IPv6 address; {}", host, kForm);
    }
    if (inet_pton(AF_INET, host.c_str(), buffer) == 1) return {};
    return fmt::format("\"{}\" is not an IPv4 address (names are not looked up); {}", host, kForm);
}

std::string ConfigError::to_string() const {
    return fmt::format("{}:{}:{}: {}", file, line, column, message);
}

// Messages quote the user's keys and strings, which may hold control characters; each error
// must stay one line, so those are escaped.
std::string config_message_line(std::string_view message) {
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

namespace {

using Value = toml::value;

using Position = SourcePosition;

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

// A relative path with a '/' means "next to the config file"; a bare name is for PATH.
std::string resolve_beside(const std::string& path, const std::filesystem::path& config_dir) {
    if (path.empty() || path.front() == '/' || path.find('/') == std::string::npos) return path;
    if (config_dir.empty()) return path;
    return (config_dir / path).lexically_normal().string();
}

// The text of a scalar value as written in the file, or "" when toml11 cannot say.
std::string_view literal_text(const toml::source_location& location) {
    const std::string& line = location.line_str();
    std::size_t start = location.column() < 1 ? line.size() : location.column() - 1;
    if (start >= line.size() || location.region() > line.size() - start) return {};
    return std::string_view(line).substr(start, location.region());
}

// An integer as written, read again from the file: toml11 v3 turns a decimal, hex or octal
// literal beyond 64 bits into the nearest 64-bit limit, so that
// `max_buckets = 99999999999999999999999` passed as 9223372036854775807.
struct ExactInteger {
    std::optional<std::int64_t> value;  // nullopt: the literal does not fit in 64 bits
    bool negative = false;              // also when it does not fit
    std::string written;                // the literal, for messages
};

ExactInteger exact_integer(const Value& v) {
    const toml::source_location location = v.location();  // returned by value: keep it alive
    std::string_view text = literal_text(location);
    ExactInteger out;
    out.written = text.empty() ? std::to_string(v.as_integer()) : std::string(text);
    out.negative = v.as_integer() < 0;
    if (text.empty()) {
        out.value = v.as_integer();
        return out;
    }
    if (text.front() == '+' || text.front() == '-') {
        out.negative = text.front() == '-';
        text.remove_prefix(1);
    }
    unsigned base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'o' || text[1] == 'b')) {
        base = text[1] == 'x' ? 16 : text[1] == 'o' ? 8 : 2;
        text.remove_prefix(2);
    }
    constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t magnitude = 0;
    for (char c : text) {
        if (c == '_') continue;
        unsigned digit = c >= '0' && c <= '9'   ? static_cast<unsigned>(c - '0')
                         : c >= 'a' && c <= 'f' ? static_cast<unsigned>(c - 'a' + 10)
                         : c >= 'A' && c <= 'F' ? static_cast<unsigned>(c - 'A' + 10)
                                                : base;
        if (digit >= base) {  // not the literal expected: trust toml11's reading
            out.value = v.as_integer();
            out.negative = *out.value < 0;
            return out;
        }
        if (magnitude > (kMax - digit) / base) return out;
        magnitude = magnitude * base + digit;
    }
    constexpr auto kLimit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (out.negative) {
        if (magnitude > kLimit + 1) return out;
        out.value = magnitude == kLimit + 1 ? std::numeric_limits<std::int64_t>::min()
                                            : -static_cast<std::int64_t>(magnitude);
        out.negative = magnitude != 0;  // "-0" is 0
    } else {
        if (magnitude > kLimit) return out;
        out.value = static_cast<std::int64_t>(magnitude);
    }
    return out;
}

// Bounds of the integer, size and duration keys. Each upper bound is far above any real use
// and keeps arithmetic on the value (a count times a size, now() + a duration in nanoseconds)
// well inside 64 bits.
struct CountRange {
    std::int64_t min;
    std::int64_t max;
};
constexpr CountRange kMaxBucketsRange{1, 1'000'000};
constexpr CountRange kMaxClientsRange{1, 1'000'000};
constexpr CountRange kEventHistoryRange{1, 10'000'000};
constexpr CountRange kQueueRange{1, 10'000'000};
constexpr CountRange kMaxRestartsRange{0, 1'000'000};
constexpr CountRange kTasksMaxRange{1, 4'194'304};  // the kernel's pid_max ceiling
constexpr CountRange kCpuWeightRange{1, 10'000};    // cgroup v2's cpu.weight range
constexpr CountRange kLogKeepRange{0, 1000};

// Every byte bound: below 64 KiB a bound would refuse, drop or stall ordinary traffic.
constexpr std::uint64_t kMinBufferBytes = 64 * kKiB;
constexpr std::uint64_t kMaxBufferBytes = kTiB;

// Every duration is at most a day; the ones where 0 makes no sense are at least 1 ms.
constexpr Millis kMaxDuration{24 * 3'600'000};

// Walks a parsed document against the schema, filling a Config and collecting every error.
class Loader {
  public:
    Loader(std::string file, std::filesystem::path config_dir)
        : file_(std::move(file)), config_dir_(std::move(config_dir)) {}

    void load(const Value& root, Config& config) {
        const auto& table = root.as_table();
        check_keys(root, "", {"daemon", "bucket", "metrics", "handler", "kind"});
        if (auto it = table.find("daemon"); it != table.end() && expect_table(it->second, "daemon"))
            load_daemon(it->second, config.daemon);
        if (auto it = table.find("bucket"); it != table.end() && expect_table(it->second, "bucket"))
            load_bucket(it->second, config.bucket);
        if (auto it = table.find("metrics");
            it != table.end() && expect_table(it->second, "metrics"))
            load_metrics(it->second, config.metrics);
        if (auto it = table.find("handler"); it != table.end()) load_handlers(it->second, config);
        if (auto it = table.find("kind"); it != table.end()) load_kinds(it->second, config);
        check_bucket_starts(config);
    }

    Config::Sources take_sources() { return std::move(sources_); }

    // Makes check_keys add every key it accepts, as "section.key", to `out`.
    void record_known_keys(std::vector<std::string>* out) { known_keys_ = out; }

    std::vector<ConfigError> take_errors() {
        // The document's tables are unordered maps: report in file order.
        std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
            return std::tie(a.line, a.column) < std::tie(b.line, b.column);
        });
        return std::move(errors_);
    }

  private:
    void error_at(Position p, const std::string& message) {
        errors_.push_back(ConfigError{file_, p.line, p.column, config_message_line(message)});
    }
    void error_at(const Value& v, const std::string& message) {
        error_at(value_position(v), message);
    }

    // `section` is "" for the top level, else "daemon", "bucket" or "handler".
    void check_keys(const Value& table, std::string_view section,
                    std::initializer_list<std::string_view> known) {
        if (known_keys_) {
            for (std::string_view key : known)
                known_keys_->push_back(section.empty() ? std::string(key)
                                                       : fmt::format("{}.{}", section, key));
        }
        for (const auto& [key, value] : table.as_table()) {
            if (std::find(known.begin(), known.end(), key) != known.end()) continue;
            std::string where = section.empty()             ? std::string("at the top level")
                                : section == "handler"      ? std::string("in [[handler]]")
                                : section == "kind"         ? std::string("in [[kind]]")
                                : section == "bucket.start" ? std::string("in [[bucket.start]]")
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

    // An integer within `range`, as written (see exact_integer).
    std::optional<std::size_t> get_count(const Value& v, std::string_view what, CountRange range) {
        if (!expect_type(v, toml::value_t::integer, what)) return std::nullopt;
        ExactInteger n = exact_integer(v);
        if (n.value ? *n.value < range.min : n.negative) {
            if (range.min == 1)
                error_at(v, fmt::format("{} must be a positive integer, not {}", what, n.written));
            else
                error_at(v,
                         fmt::format("{} must be at least {}, not {}", what, range.min, n.written));
            return std::nullopt;
        }
        if (!n.value || *n.value > range.max) {
            error_at(v, fmt::format("{} must be at most {}, not {}", what, range.max, n.written));
            return std::nullopt;
        }
        return static_cast<std::size_t>(*n.value);
    }

    // A byte size: a string such as "64MiB" (common/size.hpp) or an integer number of bytes,
    // between kMinBufferBytes and kMaxBufferBytes.
    std::optional<std::size_t> get_size(const Value& v, std::string_view what) {
        std::optional<std::uint64_t> bytes;
        std::string written;
        bool below = false;
        if (v.is_integer()) {
            ExactInteger n = exact_integer(v);
            written = n.written;
            below = n.negative;
            if (n.value && !n.negative) bytes = static_cast<std::uint64_t>(*n.value);
        } else if (v.is_string()) {
            const std::string& text = v.as_string().str;
            std::string why;
            bytes = parse_size(text, &why);
            if (!bytes) {
                error_at(v, fmt::format("{}: {}", what, why));
                return std::nullopt;
            }
            written = fmt::format("\"{}\"", text);
        } else {
            error_at(v, fmt::format("{} must be a size such as \"64MiB\" or an integer number of "
                                    "bytes, not {}",
                                    what, type_phrase(v.type())));
            return std::nullopt;
        }
        if (below || (bytes && *bytes < kMinBufferBytes)) {
            error_at(v, fmt::format("{} must be at least {}, not {}: a smaller bound would refuse, "
                                    "drop or stall ordinary traffic",
                                    what, format_size(kMinBufferBytes), written));
            return std::nullopt;
        }
        if (!bytes || *bytes > kMaxBufferBytes) {
            error_at(v, fmt::format("{} must be at most {}, not {}", what,
                                    format_size(kMaxBufferBytes), written));
            return std::nullopt;
        }
        return static_cast<std::size_t>(*bytes);
    }

    // A duration string ("250ms", "5s", "1m") or an integer number of milliseconds, at most
    // kMaxDuration. Without `allow_zero`, also one that rounds to 0 ms ("1us") is refused:
    // a restart delay of 0 restarts a handler as fast as the loop turns.
    std::optional<Millis> get_duration(const Value& v, std::string_view what, bool allow_zero) {
        std::optional<Millis> d;
        std::string written;
        if (v.is_integer()) {
            ExactInteger n = exact_integer(v);
            written = n.written;
            if (n.negative) {
                error_at(v, fmt::format("{} must not be negative", what));
                return std::nullopt;
            }
            if (n.value) d = Millis(*n.value);
        } else if (v.is_string()) {
            const std::string& text = v.as_string().str;
            std::string why;
            d = parse_duration(text, &why);
            if (!d) {
                error_at(v, fmt::format("{}: {}", what, why));
                return std::nullopt;
            }
            written = fmt::format("\"{}\"", text);
            bool rounded_to_zero =
                d->count() == 0 && text.find_first_of("123456789") != std::string::npos;
            if (!allow_zero && rounded_to_zero) {
                error_at(
                    v, fmt::format("{} {} rounds to 0ms; it must be at least 1ms", what, written));
                return std::nullopt;
            }
        } else {
            error_at(v, fmt::format("{} must be a duration such as \"5s\" or an integer number of "
                                    "milliseconds, not {}",
                                    what, type_phrase(v.type())));
            return std::nullopt;
        }
        if (d && !allow_zero && d->count() == 0) {
            error_at(v, fmt::format("{} must be longer than zero", what));
            return std::nullopt;
        }
        if (!d || *d > kMaxDuration) {
            error_at(v, fmt::format("{} must be at most {}, not {}", what,
                                    format_duration(kMaxDuration), written));
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
        check_keys(section, "daemon",
                   {"socket", "socket_mode", "socket_group", "max_buckets", "event_history",
                    "event_history_bytes", "log_level", "max_clients", "backlog_bytes",
                    "client_buffer_bytes"});
        if (auto* v = find(section, "socket")) {
            if (auto s = get_string(*v, "daemon.socket")) {
                // Refused here, not when kvd binds: the config is at fault, and
                // --check-config should say so.
                if (s->size() > max_socket_path_bytes())
                    error_at(*v, fmt::format("daemon.socket is {} bytes long; at most {} fit in a "
                                             "Unix socket address",
                                             s->size(), max_socket_path_bytes()));
                else
                    out.socket = std::move(*s);
            }
        }
        if (auto* v = find(section, "socket_mode")) {
            if (auto mode = get_socket_mode(*v)) out.socket_mode = *mode;
        }
        if (auto* v = find(section, "socket_group")) {
            if (auto s = get_string(*v, "daemon.socket_group")) {
                out.socket_group = std::move(*s);
                sources_.socket_group = value_position(*v);
            }
        }
        if (auto* v = find(section, "max_buckets")) {
            if (auto n = get_count(*v, "daemon.max_buckets", kMaxBucketsRange))
                out.max_buckets = *n;
        }
        if (auto* v = find(section, "event_history")) {
            if (auto n = get_count(*v, "daemon.event_history", kEventHistoryRange))
                out.event_history = *n;
        }
        if (auto* v = find(section, "event_history_bytes")) {
            if (auto n = get_size(*v, "daemon.event_history_bytes")) out.event_history_bytes = *n;
        }
        if (auto* v = find(section, "max_clients")) {
            if (auto n = get_count(*v, "daemon.max_clients", kMaxClientsRange))
                out.max_clients = *n;
        }
        if (auto* v = find(section, "backlog_bytes")) {
            if (auto n = get_size(*v, "daemon.backlog_bytes")) out.backlog_bytes = *n;
        }
        if (auto* v = find(section, "client_buffer_bytes")) {
            if (auto n = get_size(*v, "daemon.client_buffer_bytes")) out.client_buffer_bytes = *n;
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

    void load_metrics(const Value& section, MetricsSection& out) {
        check_keys(section, "metrics", {"listen"});
        if (auto* v = find(section, "listen")) {
            if (auto s = get_string(*v, "metrics.listen")) {
                if (std::string problem = listen_address_problem(*s); !problem.empty())
                    error_at(*v, "metrics.listen: " + problem);
                else
                    out.listen = std::move(*s);
            }
        }
    }

    void load_bucket(const Value& section, BucketSection& out) {
        check_keys(section, "bucket",
                   {"program", "stop_timeout", "request_timeout", "max_reply_bytes", "start",
                    "log_dir", "log_max_size", "log_keep", "log_buffer", "log_journal"});
        if (auto* v = find(section, "program")) {
            if (auto s = get_string(*v, "bucket.program")) {
                out.program = resolve_beside(*s, config_dir_);
                sources_.bucket_program = value_position(*v);
            }
        }
        if (auto* v = find(section, "stop_timeout")) {
            if (auto d = get_duration(*v, "bucket.stop_timeout", /*allow_zero=*/false))
                out.stop_timeout = *d;
        }
        if (auto* v = find(section, "request_timeout")) {
            if (auto d = get_duration(*v, "bucket.request_timeout", /*allow_zero=*/false))
                out.request_timeout = *d;
        }
        if (auto* v = find(section, "max_reply_bytes")) {
            if (auto n = get_size(*v, "bucket.max_reply_bytes")) out.max_reply_bytes = *n;
        }
        if (auto* v = find(section, "log_dir")) {
            if (auto s = get_string(*v, "bucket.log_dir")) {
                // Any relative path (a bare name too) is a directory next to the config file.
                std::filesystem::path dir(*s);
                if (dir.is_relative() && !config_dir_.empty()) dir = config_dir_ / dir;
                std::string normal = dir.lexically_normal().string();
                if (normal.size() > 1 && normal.back() == '/') normal.pop_back();
                out.log_dir = std::move(normal);
                sources_.bucket_log_dir = value_position(*v);
            }
        }
        if (auto* v = find(section, "log_max_size")) {
            if (auto n = get_size(*v, "bucket.log_max_size")) out.log_max_size = *n;
        }
        if (auto* v = find(section, "log_keep")) {
            if (auto n = get_count(*v, "bucket.log_keep", kLogKeepRange)) out.log_keep = *n;
        }
        if (auto* v = find(section, "log_buffer")) {
            if (auto n = get_size(*v, "bucket.log_buffer")) out.log_buffer = *n;
        }
        if (auto* v = find(section, "log_journal")) {
            if (expect_type(*v, toml::value_t::boolean, "bucket.log_journal"))
                out.log_journal = v->as_boolean();
        }
        if (auto* v = find(section, "start")) load_bucket_starts(*v, out);
    }

    void load_bucket_starts(const Value& list, BucketSection& out) {
        if (!list.is_array()) {
            error_at(list, fmt::format("bucket.start must be an array of tables (write "
                                       "[[bucket.start]]), not {}",
                                       type_phrase(list.type())));
            return;
        }
        std::map<std::string, int> first_line_of;
        for (const Value& entry : list.as_array()) {
            if (!expect_table(entry, "each bucket.start")) continue;
            check_keys(entry, "bucket.start", {"name", "kind"});
            BucketStart start;
            bool ok = true;
            if (auto* v = find(entry, "name")) {
                if (auto s = get_string(*v, "bucket.start.name")) {
                    std::string problem = bucket_name_problem(*s);
                    if (!problem.empty()) {
                        error_at(*v, problem);
                        ok = false;
                    } else {
                        auto [it, inserted] = first_line_of.emplace(*s, value_position(*v).line);
                        if (!inserted) {
                            error_at(*v, fmt::format("bucket '{}' is started twice (first on line "
                                                     "{})",
                                                     *s, it->second));
                            ok = false;
                        }
                        start.name = std::move(*s);
                    }
                } else {
                    ok = false;
                }
            } else {
                error_at(entry, "bucket.start has no 'name' (required)");
                ok = false;
            }
            if (auto* v = find(entry, "kind")) {
                if (auto s = get_string(*v, "bucket.start.kind")) {
                    start.kind = std::move(*s);
                    start_kind_at_.push_back({start.kind, value_position(*v)});
                } else {
                    ok = false;
                }
            }
            if (ok) out.start.push_back(std::move(start));
        }
    }

    // Every [[bucket.start]] names a kind that exists (known only once [[kind]] was read).
    void check_bucket_starts(const Config& config) {
        for (const auto& [kind, at] : start_kind_at_) {
            if (kind == kDefaultKind || config.find_kind(kind)) continue;
            std::vector<std::string_view> known{kDefaultKind};
            for (const auto& k : config.kinds) known.push_back(k.name);
            std::string names;
            for (std::size_t i = 0; i < known.size(); ++i)
                names += fmt::format("{}'{}'", i ? ", " : "", known[i]);
            error_at(at,
                     fmt::format("bucket.start.kind: no kind named '{}' (kinds: {})", kind, names));
        }
    }

    void load_kinds(const Value& list, Config& config) {
        if (!list.is_array()) {
            error_at(list, fmt::format("kind must be an array of tables (write [[kind]]), not {}",
                                       type_phrase(list.type())));
            return;
        }
        std::map<std::string, int> first_line_of;
        for (const Value& entry : list.as_array()) {
            if (!expect_table(entry, "each kind")) continue;
            KindConfig kind;
            SourcePosition program_at, cwd_at, user_at;
            bool ok = load_kind(entry, kind, program_at, cwd_at, user_at);
            if (!kind.name.empty()) {
                const Value& name_value = *find(entry, "name");
                auto [it, inserted] =
                    first_line_of.emplace(kind.name, value_position(name_value).line);
                if (!inserted) {
                    error_at(name_value,
                             fmt::format("duplicate kind name '{}' (first defined on line {})",
                                         kind.name, it->second));
                    ok = false;
                }
            }
            if (ok) {
                config.kinds.push_back(std::move(kind));
                sources_.kind_program.push_back(program_at);
                sources_.kind_cwd.push_back(cwd_at);
                sources_.kind_user.push_back(user_at);
            }
        }
    }

    // False when the kind had any error (the caller then skips it).
    bool load_kind(const Value& section, KindConfig& out, SourcePosition& program_at,
                   SourcePosition& cwd_at, SourcePosition& user_at) {
        std::size_t errors_before = errors_.size();
        check_keys(section, "kind",
                   {"name", "command", "env", "cwd", "user", "restart", "restart_delay",
                    "restart_delay_max", "max_restarts", "restart_window", "stable_after",
                    "stop_signal", "stop_timeout", "ready", "ready_timeout", "data", "memory_max",
                    "tasks_max", "cpu_weight"});
        if (auto* v = find(section, "name")) {
            if (auto s = get_string(*v, "kind.name")) {
                std::string problem = bucket_name_problem(*s);
                if (!problem.empty()) {
                    if (problem.rfind("bucket name", 0) == 0) problem.replace(0, 6, "kind");
                    error_at(*v, problem);
                } else if (*s == kDefaultKind) {
                    error_at(*v, fmt::format("kind name '{}' is the built-in kind ([bucket] "
                                             "program); choose another name",
                                             *s));
                } else {
                    out.name = std::move(*s);
                }
            }
        } else {
            error_at(section, "kind has no 'name' (required)");
        }
        if (auto* v = find(section, "command")) {
            if (auto argv = get_string_array(*v, "kind.command")) {
                if (argv->empty()) {
                    error_at(*v, "kind.command must name a program: it is an empty array");
                } else {
                    (*argv)[0] = resolve_beside((*argv)[0], config_dir_);
                    out.command = std::move(*argv);
                    program_at = value_position(v->as_array().front());
                }
            }
        } else {
            error_at(section, "kind has no 'command' (required)");
        }
        if (auto* v = find(section, "env")) load_env(*v, out.env, "kind.env");
        if (auto* v = find(section, "cwd")) {
            if (auto s = get_string(*v, "kind.cwd")) {
                out.cwd = resolve_beside(*s, config_dir_);
                cwd_at = value_position(*v);
            }
        }
        if (auto* v = find(section, "user")) {
            if (auto s = get_string(*v, "kind.user")) {
                out.user = std::move(*s);
                user_at = value_position(*v);
            }
        }
        if (auto* v = find(section, "restart")) {
            if (auto i = get_choice(*v, "kind.restart", {"temporary", "transient", "permanent"})) {
                static constexpr KindRestart kPolicies[] = {
                    KindRestart::temporary, KindRestart::transient, KindRestart::permanent};
                out.restart = kPolicies[*i];
            }
        }
        load_delays(section, "kind", out.restart_delay, out.restart_delay_max);
        if (auto* v = find(section, "max_restarts")) {
            if (auto n = get_count(*v, "kind.max_restarts", kMaxRestartsRange))
                out.max_restarts = *n;
        }
        if (auto* v = find(section, "restart_window")) {
            if (auto d = get_duration(*v, "kind.restart_window", /*allow_zero=*/false))
                out.restart_window = *d;
        }
        if (auto* v = find(section, "stable_after")) {
            if (auto d = get_duration(*v, "kind.stable_after", /*allow_zero=*/false))
                out.stable_after = *d;
        }
        if (auto* v = find(section, "stop_signal")) {
            if (auto s = get_string(*v, "kind.stop_signal")) {
                if (auto signo = parse_signal(*s))
                    out.stop_signal = *signo;
                else
                    error_at(*v, fmt::format("kind.stop_signal: unknown signal '{}' (write a name "
                                             "such as \"SIGTERM\" or \"INT\")",
                                             *s));
            }
        }
        if (auto* v = find(section, "stop_timeout")) {
            if (auto d = get_duration(*v, "kind.stop_timeout", /*allow_zero=*/false))
                out.stop_timeout = *d;
        }
        if (auto* v = find(section, "ready")) {
            if (auto i = get_choice(*v, "kind.ready", {"spawn", "notify"}))
                out.ready = *i == 0 ? Readiness::spawn : Readiness::notify;
        }
        if (auto* v = find(section, "ready_timeout")) {
            if (auto d = get_duration(*v, "kind.ready_timeout", /*allow_zero=*/false))
                out.ready_timeout = *d;
        }
        if (auto* v = find(section, "data")) {
            if (expect_type(*v, toml::value_t::boolean, "kind.data")) out.data = v->as_boolean();
        }
        if (auto* v = find(section, "memory_max")) {
            if (auto n = get_size(*v, "kind.memory_max")) out.memory_max = *n;
        }
        if (auto* v = find(section, "tasks_max")) {
            if (auto n = get_count(*v, "kind.tasks_max", kTasksMaxRange)) out.tasks_max = *n;
        }
        if (auto* v = find(section, "cpu_weight")) {
            if (auto n = get_count(*v, "kind.cpu_weight", kCpuWeightRange))
                out.cpu_weight = static_cast<std::uint32_t>(*n);
        }
        return errors_.size() == errors_before;
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
            SourcePosition program_at;
            bool ok = load_handler(entry, handler, program_at);
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
            if (ok) {
                config.handlers.push_back(std::move(handler));
                sources_.handler_program.push_back(program_at);
            }
        }
    }

    // False when the handler had any error (the caller then skips it).
    bool load_handler(const Value& section, HandlerConfig& out, SourcePosition& program_at) {
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
                    program_at = value_position(v->as_array().front());
                }
            }
        } else {
            error_at(section, "handler has no 'command' (required)");
        }

        bool mode_known = true;  // false when the mode written is invalid
        if (auto* v = find(section, "mode")) {
            auto i = get_choice(*v, "handler.mode", {"sync", "async"});
            if (i) out.mode = *i == 0 ? HandlerMode::sync : HandlerMode::async;
            mode_known = i.has_value();
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
        const Value* queue = find(section, "queue");
        bool queue_ok = false;  // written, and valid in itself
        if (queue) {
            auto n = get_count(*queue, "handler.queue", kQueueRange);
            if (n) out.queue = *n;
            queue_ok = n.has_value();
        }
        if (auto* v = find(section, "restart")) {
            if (auto i = get_choice(*v, "handler.restart", {"always", "on-failure", "never"})) {
                static constexpr RestartPolicy kPolicies[] = {
                    RestartPolicy::always, RestartPolicy::on_failure, RestartPolicy::never};
                out.restart = kPolicies[*i];
            }
        }
        load_delays(section, "handler", out.restart_delay, out.restart_delay_max);
        if (auto* v = find(section, "env")) load_env(*v, out.env, "handler.env");
        // Checked once the mode is known: a sync handler has no queue to bound (its events
        // wait for acks), so a queue there is a misunderstanding worth saying.
        if (queue_ok && mode_known && out.mode == HandlerMode::sync) {
            error_at(*queue,
                     "handler.queue applies only to async handlers, and this one is sync "
                     "(set mode = \"async\" or remove queue)");
        }

        return errors_.size() == errors_before;
    }

    // `restart_delay` and `restart_delay_max` of a handler or kind (`what`).
    void load_delays(const Value& section, std::string_view what, Millis& delay_out,
                     Millis& delay_max_out) {
        const Value* delay = find(section, "restart_delay");
        const Value* delay_max = find(section, "restart_delay_max");
        bool delays_ok = true;
        if (delay) {
            auto d = get_duration(*delay, fmt::format("{}.restart_delay", what),
                                  /*allow_zero=*/false);
            delays_ok = delays_ok && d.has_value();
            if (d) delay_out = *d;
        }
        if (delay_max) {
            auto d = get_duration(*delay_max, fmt::format("{}.restart_delay_max", what),
                                  /*allow_zero=*/false);
            delays_ok = delays_ok && d.has_value();
            if (d) delay_max_out = *d;
        }
        // Point at whichever of the two the user wrote, preferring the maximum; the defaults
        // alone are consistent.
        const Value* culprit = delay_max ? delay_max : delay;
        if (delays_ok && culprit && delay_max_out < delay_out) {
            error_at(*culprit,
                     fmt::format("{0}.restart_delay_max ({1}) is shorter than {0}.restart_delay "
                                 "({2})",
                                 what, format_duration(delay_max_out), format_duration(delay_out)));
        }
    }

    void load_env(const Value& v, std::map<std::string, std::string>& out, std::string_view what) {
        if (!expect_table(v, what)) return;
        for (const auto& [name, value] : v.as_table()) {
            if (name.empty() || name.find('=') != std::string::npos ||
                name.find('\0') != std::string::npos) {
                error_at(key_position(value, name),
                         fmt::format("{}: '{}' is not a valid variable name", what, name));
                continue;
            }
            if (!value.is_string()) {
                error_at(value, fmt::format("{}.{} must be a string, not {}", what, name,
                                            type_phrase(value.type())));
                continue;
            }
            const std::string& s = value.as_string().str;
            if (s.find('\0') != std::string::npos) {
                error_at(value, fmt::format("{}.{} must not contain a NUL character", what, name));
                continue;
            }
            out.emplace(name, s);
        }
    }

    std::string file_;
    std::filesystem::path config_dir_;
    std::vector<ConfigError> errors_;
    Config::Sources sources_;
    std::vector<std::pair<std::string, Position>> start_kind_at_;  // [[bucket.start]] kinds
    std::vector<std::string>* known_keys_ = nullptr;
};

}  // namespace

ConfigResult parse_config(std::string_view text, const std::string& filename) {
    TomlResult document = parse_toml(text, filename);
    if (auto* problem = std::get_if<TomlProblem>(&document)) {
        return std::vector<ConfigError>{ConfigError{filename, problem->at.line, problem->at.column,
                                                    config_message_line(problem->message)}};
    }
    Config config;
    config.path = filename;
    Loader loader(filename, std::filesystem::path(filename).parent_path());
    loader.load(std::get<toml::value>(document), config);
    auto errors = loader.take_errors();
    if (!errors.empty()) return errors;
    config.sources = loader.take_sources();
    return config;
}

std::vector<std::string> config_schema_keys(std::string_view text) {
    TomlResult document = parse_toml(text, "schema");
    if (!std::holds_alternative<toml::value>(document)) return {};
    std::vector<std::string> keys;
    Config config;
    Loader loader("schema", {});
    loader.record_known_keys(&keys);
    loader.load(std::get<toml::value>(document), config);
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    return keys;
}

ConfigResult load_config_file(const std::string& path) {
    auto text = read_toml_text(path);
    if (auto* problem = std::get_if<TomlProblem>(&text))
        return std::vector<ConfigError>{ConfigError{path, 0, 0, problem->message}};
    return parse_config(std::get<std::string>(text), path);
}

}  // namespace kvd
