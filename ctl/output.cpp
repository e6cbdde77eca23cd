// kvctl's human and JSON output for every command and for the event stream.
#include "ctl/output.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>

namespace kvd::ctl {

const Json& field(const Json& object, std::string_view key) {
    static const Json kMissing;
    if (!object.is_object()) return kMissing;
    auto it = object.find(key);
    return it == object.end() ? kMissing : *it;
}

namespace {

// Any value as text: strings bare, null or missing as "-", the rest as compact JSON.
std::string text(const Json& value) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_null()) return "-";
    return dump_line(value);
}

std::string text(const Json& object, std::string_view key) {
    return text(field(object, key));
}

bool has(const Json& object, std::string_view key) {
    return !field(object, key).is_null();
}

std::string list_or_none(const Json& names) {
    if (!names.is_array() || names.empty()) return "(none)";
    std::string out;
    for (const auto& name : names) {
        if (!out.empty()) out += ", ";
        out += text(name);
    }
    return out;
}

std::optional<int64_t> integer(const Json& value) {
    if (value.is_number_unsigned()) {
        auto v = value.get<uint64_t>();
        if (v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
        return static_cast<int64_t>(v);
    }
    if (value.is_number_integer()) return value.get<int64_t>();
    return std::nullopt;
}

std::string pid_suffix(const Json& result) {
    return has(result, "pid") ? fmt::format(" (pid {})", text(result, "pid")) : "";
}

}  // namespace

std::string json_document(const Json& value) {
    return dump_line(value) + '\n';
}

std::string error_line(const ErrorInfo& error) {
    return fmt::format("kvctl: {}: {}\n", error.code, error.message);
}

std::string human_ping(const Json& result) {
    return fmt::format("kvd {} pid {}\n", text(result, "version"), text(result, "pid"));
}

std::string human_status(const Json& result) {
    const Json& uptime = field(result, "uptime_ms");
    std::string uptime_text =
        uptime.is_number_integer() ? human_uptime(uptime.get<int64_t>()) : text(uptime);
    // How kvd ends process trees and applies limits; not sent by a kvd before these.
    std::string tree;
    if (has(result, "tree"))
        tree = fmt::format("process trees:  {}\nlimits:         {}\n", text(result, "tree"),
                           text(result, "limits"));
    if (has(result, "descriptors")) {
        const Json& d = field(result, "descriptors");
        tree += fmt::format(
            "descriptors:    {} in use by children, of {} for them (open file "
            "limit {})\n",
            text(d, "in_use"), text(d, "for_buckets"), text(d, "limit"));
        const Json& without = field(d, "without_pidfd");
        if (without.is_number() && without != 0)
            tree += fmt::format(
                "                {} children without a pidfd (exits found at "
                "SIGCHLD)\n",
                text(without));
        const Json& uncaptured = field(d, "stderr_uncaptured");
        if (uncaptured.is_number() && uncaptured != 0)
            tree +=
                fmt::format("                {} buckets' stderr not captured\n", text(uncaptured));
    }
    return fmt::format(
        "version:        {}\n"
        "pid:            {}\n"
        "boot:           {}\n"
        "uptime:         {}\n"
        "buckets:        {}\n"
        "handlers:       {}\n"
        "subscriptions:  {}\n"
        "last seq:       {}\n{}",
        text(result, "version"), text(result, "pid"), text(result, "boot"), uptime_text,
        text(result, "buckets"), text(result, "handlers"), text(result, "subscriptions"),
        text(result, "last_seq"), tree);
}

std::string human_create(const Json& result) {
    const Json& created = field(result, "created");
    if (created.is_boolean() && !created.get<bool>())
        return fmt::format("{} already exists{}\n", text(result, "bucket"), pid_suffix(result));
    return fmt::format("created {}{}\n", text(result, "bucket"), pid_suffix(result));
}

std::string human_lookup(const Json& result) {
    return fmt::format("{} pid {}\n", text(result, "bucket"), text(result, "pid"));
}

std::string human_list(const Json& result, bool colour) {
    const Json& buckets = field(result, "buckets");
    if (!buckets.is_array() || buckets.empty()) return "no buckets\n";
    // A kvd that knows kinds and states says so; the seed's three columns stay first.
    bool states = std::any_of(buckets.begin(), buckets.end(),
                              [](const Json& b) { return has(b, "state") || has(b, "kind"); });
    std::vector<std::vector<std::string>> rows;
    for (const auto& b : buckets) {
        rows.push_back({text(b, "bucket"), text(b, "pid"), text(b, "started")});
        if (states) {
            rows.back().push_back(text(b, "kind"));
            rows.back().push_back(state_colour(text(b, "state"), colour));
        }
    }
    if (states) return format_table({"BUCKET", "PID", "STARTED", "KIND", "STATE"}, rows);
    return format_table({"BUCKET", "PID", "STARTED"}, rows);
}

namespace {

// A non-negative integer field through `format`, else "-".
template <typename Format>
std::string measure(const Json& object, std::string_view key, Format format) {
    auto value = integer(field(object, key));
    if (!value || *value < 0) return "-";
    return format(*value);
}

}  // namespace

std::string human_ps(const Json& result, std::chrono::system_clock::time_point now, bool colour) {
    const Json& buckets = field(result, "buckets");
    if (!buckets.is_array() || buckets.empty()) return "no buckets\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& b : buckets) {
        rows.push_back({
            text(b, "bucket"),
            text(b, "kind"),
            state_colour(text(b, "state"), colour),
            text(b, "pid"),
            measure(b, "uptime_ms", compact_duration),
            text(b, "restarts"),
            human_last_exit(field(b, "last_exit"), now),
            measure(b, "rss_bytes",
                    [](int64_t v) { return human_bytes(static_cast<uint64_t>(v)); }),
            measure(b, "cpu_ms", human_cpu),
        });
    }
    return format_table(
        {"NAME", "KIND", "STATE", "PID", "UPTIME", "RESTARTS", "LAST-EXIT", "RSS", "CPU"}, rows);
}

// "stopped shopping (pid 4242, exit code 0)": how it ended, when kvd says.
std::string human_stop(std::string_view bucket, const Json& result) {
    std::string name = has(result, "bucket") ? text(result, "bucket") : std::string(bucket);
    std::vector<std::string> details;
    if (has(result, "pid")) details.push_back("pid " + text(result, "pid"));
    if (has(result, "code")) details.push_back("exit code " + text(result, "code"));
    if (has(result, "signal")) details.push_back("signal " + text(result, "signal"));
    if (details.empty()) return fmt::format("stopped {}\n", name);
    return fmt::format("stopped {} ({})\n", name, fmt::join(details, ", "));
}

std::string human_restart(std::string_view bucket, const Json& result) {
    std::string name = has(result, "bucket") ? text(result, "bucket") : std::string(bucket);
    std::vector<std::string> details;
    if (has(result, "pid")) details.push_back("pid " + text(result, "pid"));
    if (auto restarts = integer(field(result, "restarts")))
        details.push_back(fmt::format("{} restart{}", *restarts, *restarts == 1 ? "" : "s"));
    if (details.empty()) return fmt::format("restarted {}\n", name);
    return fmt::format("restarted {} ({})\n", name, fmt::join(details, ", "));
}

std::string human_kill(std::string_view bucket, std::string_view signal, const Json& result) {
    std::string name = has(result, "bucket") ? text(result, "bucket") : std::string(bucket);
    std::string sent = has(result, "signal") ? text(result, "signal") : std::string(signal);
    return fmt::format("sent {} to {}{}\n", sent, name, pid_suffix(result));
}

// Silent like cp(1): success is the exit status.
std::string human_put(const Json&) {
    return "";
}

std::string human_get(const Json& result) {
    return text(result, "value") + '\n';
}

std::string human_delete(std::string_view bucket, std::string_view key, const Json& result) {
    const Json& deleted = field(result, "deleted");
    if (deleted.is_boolean() && !deleted.get<bool>())
        return fmt::format("{} has no key {}\n", bucket, key);
    return fmt::format("deleted {} from {}\n", key, bucket);
}

std::string human_keys(const Json& result) {
    std::string out;
    const Json& keys = field(result, "keys");
    if (keys.is_array())
        for (const auto& key : keys) out += text(key) + '\n';
    return out;
}

std::string human_notify(std::string_view type, const Json& result) {
    if (has(result, "seq"))
        return fmt::format("published {} (seq {})\n", type, text(result, "seq"));
    return fmt::format("published {}\n", type);
}

std::string human_handlers(const Json& result, bool colour) {
    const Json& handlers = field(result, "handlers");
    if (!handlers.is_array() || handlers.empty()) return "no handlers\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& h : handlers) {
        rows.push_back({text(h, "name"), text(h, "pid"), state_colour(text(h, "state"), colour),
                        text(h, "mode"), text(h, "delivered"), text(h, "acked"), text(h, "dropped"),
                        text(h, "restarts"), text(h, "queued")});
    }
    return format_table(
        {"NAME", "PID", "STATE", "MODE", "DELIVERED", "ACKED", "DROPPED", "RESTARTS", "QUEUED"},
        rows);
}

std::string human_reload(const Json& result) {
    return fmt::format(
        "started:   {}\n"
        "stopped:   {}\n"
        "restarted: {}\n",
        list_or_none(field(result, "started")), list_or_none(field(result, "stopped")),
        list_or_none(field(result, "restarted")));
}

std::string human_metrics(const Json& result) {
    const Json& exposition = field(result, "text");
    return exposition.is_string() ? exposition.get<std::string>() : std::string();
}

Json parse_event(std::string_view line) {
    if (nests_deeper_than(line, kMaxNestingDepth)) return Json(Json::value_t::discarded);
    return Json::parse(line.begin(), line.end(), nullptr, false);
}

std::string human_event(std::string_view line) {
    return human_event(parse_event(line), line);
}

std::string human_event(const Json& event, std::string_view line) {
    if (event.is_discarded() || !event.is_object()) return std::string(line) + '\n';
    std::string out = fmt::format("#{} {}", text(event, "seq"), text(event, "type"));
    if (has(event, "bucket")) out += ' ' + text(event, "bucket");
    // Only the fields an event type carries, in README "Writing a handler" order; a null code or
    // signal of an exit event says nothing, so it is left out.
    for (std::string_view key :
         {"pid", "kind", "restart", "code", "signal", "reason", "count", "restarts"}) {
        if (has(event, key)) out += fmt::format(" {}={}", key, text(event, key));
    }
    if (event.contains("data")) out += ' ' + dump_line(field(event, "data"));
    if (has(event, "time")) out += ' ' + text(event, "time");
    return out + '\n';
}

std::string human_uptime(int64_t ms) {
    if (ms < 1000) return fmt::format("{}ms", std::max<int64_t>(ms, 0));
    int64_t s = ms / 1000;
    int64_t days = s / 86400, hours = s / 3600 % 24, minutes = s / 60 % 60, seconds = s % 60;
    if (days > 0) return fmt::format("{}d {}h {}m", days, hours, minutes);
    if (hours > 0) return fmt::format("{}h {}m {}s", hours, minutes, seconds);
    if (minutes > 0) return fmt::format("{}m {}s", minutes, seconds);
    return fmt::format("{}s", seconds);
}

std::string compact_duration(int64_t ms) {
    int64_t s = std::max<int64_t>(ms, 0) / 1000;
    int64_t days = s / 86400, hours = s / 3600 % 24, minutes = s / 60 % 60, seconds = s % 60;
    // The second unit is left out when it is zero: "2m", not "2m0s".
    auto two = [](int64_t big, char big_unit, int64_t small, char small_unit) {
        if (small == 0) return fmt::format("{}{}", big, big_unit);
        return fmt::format("{}{}{}{}", big, big_unit, small, small_unit);
    };
    if (days > 0) return two(days, 'd', hours, 'h');
    if (hours > 0) return two(hours, 'h', minutes, 'm');
    if (minutes > 0) return two(minutes, 'm', seconds, 's');
    return fmt::format("{}s", seconds);
}

std::string human_bytes(uint64_t bytes) {
    if (bytes < 1024) return fmt::format("{}B", bytes);
    constexpr const char* kUnits = "KMGTPE";
    double value = static_cast<double>(bytes) / 1024;
    std::size_t unit = 0;
    // Move up a unit where rounding would show four digits ("1024K" is "1.0M").
    while (value >= 999.95 && unit + 1 < 6) {
        value /= 1024;
        ++unit;
    }
    if (value < 99.95) return fmt::format("{:.1f}{}", value, kUnits[unit]);
    return fmt::format("{:.0f}{}", value, kUnits[unit]);
}

std::string human_cpu(int64_t ms) {
    ms = std::max<int64_t>(ms, 0);
    // Tenths are truncated, not rounded, so 59.99s does not show as "60.0s".
    if (ms < 60'000) return fmt::format("{}.{}s", ms / 1000, ms % 1000 / 100);
    return compact_duration(ms);
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, used = 0;
    std::string s(text);
    if (std::sscanf(s.c_str(), "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &year, &month, &day, &hour,
                    &minute, &second, &used) != 6 ||
        used != 19)
        return std::nullopt;
    std::size_t i = 19;
    int64_t micros = 0;
    if (i < s.size() && s[i] == '.') {
        int64_t scale = 100'000;
        for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
            micros += (s[i] - '0') * scale;
            scale /= 10;
        }
    }
    int64_t offset_s = 0;
    if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
        ++i;
    } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh = 0, om = 0;
        if (std::sscanf(s.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
        offset_s = (s[i] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
        i += 6;
    } else {
        return std::nullopt;
    }
    if (i != s.size() || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
        minute > 59 || second > 60)
        return std::nullopt;
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    time_t t = timegm(&tm);
    return std::chrono::system_clock::from_time_t(t - offset_s) + std::chrono::microseconds(micros);
}

std::string human_last_exit(const Json& last_exit, std::chrono::system_clock::time_point now) {
    if (!last_exit.is_object()) return "-";
    std::string how;
    if (has(last_exit, "signal"))
        how = text(last_exit, "signal");
    else if (has(last_exit, "code"))
        how = "code " + text(last_exit, "code");
    else
        how = "exit";
    // "exited" is what a code already says; stopped and killed are worth telling.
    std::string reason = has(last_exit, "reason") ? text(last_exit, "reason") : "";
    if (!reason.empty() && reason != "exited") how += " (" + reason + ")";
    const Json& time = field(last_exit, "time");
    if (auto when = time.is_string() ? parse_rfc3339(time.get<std::string>()) : std::nullopt) {
        auto ago = std::chrono::duration_cast<std::chrono::milliseconds>(now - *when).count();
        how += ", " + compact_duration(ago) + " ago";
    }
    return how;
}

bool colour_wanted(bool stdout_is_terminal, const char* no_color_env, const char* term_env) {
    if (!stdout_is_terminal) return false;
    if (no_color_env && *no_color_env) return false;
    return !(term_env && std::string_view(term_env) == "dumb");
}

namespace {
constexpr std::string_view kReset = "\x1b[0m";
constexpr std::string_view kRed = "\x1b[31m";
constexpr std::string_view kGreen = "\x1b[32m";
constexpr std::string_view kYellow = "\x1b[33m";
}  // namespace

StateTone state_tone(std::string_view state) {
    if (state == "running") return StateTone::good;
    if (state == "starting" || state == "stopping" || state == "restarting")
        return StateTone::changing;
    if (state == "backoff" || state == "failed") return StateTone::bad;
    return StateTone::plain;
}

std::string state_colour(std::string_view state, bool colour) {
    std::string_view paint;
    switch (state_tone(state)) {
        case StateTone::good:
            paint = kGreen;
            break;
        case StateTone::changing:
            paint = kYellow;
            break;
        case StateTone::bad:
            paint = kRed;
            break;
        case StateTone::plain:
            break;
    }
    if (!colour || paint.empty()) return std::string(state);
    return fmt::format("{}{}{}", paint, state, kReset);
}

std::string human_log_line(const Json& entry, bool terminal, bool colour) {
    std::string line = text(entry, "line");
    if (!terminal || text(entry, "stream") != "stderr") return line + '\n';
    if (colour) return fmt::format("{}{}{}\n", kRed, line, kReset);
    return "stderr| " + line + '\n';
}

namespace {

// The columns `cell` takes on a terminal: UTF-8 continuation bytes and ANSI "ESC [ ... m"
// sequences take none.
std::size_t display_width(std::string_view cell) {
    std::size_t width = 0;
    for (std::size_t i = 0; i < cell.size(); ++i) {
        if (cell[i] == '\x1b' && i + 1 < cell.size() && cell[i + 1] == '[') {
            auto end = cell.find('m', i);
            if (end != std::string_view::npos) {
                i = end;
                continue;
            }
        }
        if ((static_cast<unsigned char>(cell[i]) & 0xC0) != 0x80) ++width;
    }
    return width;
}

}  // namespace

std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> widths(header.size());
    for (std::size_t c = 0; c < header.size(); ++c) widths[c] = display_width(header[c]);
    for (const auto& row : rows)
        for (std::size_t c = 0; c < row.size() && c < widths.size(); ++c)
            widths[c] = std::max(widths[c], display_width(row[c]));
    auto format_row = [&](const std::vector<std::string>& cells) {
        std::string line;
        for (std::size_t c = 0; c < cells.size() && c < widths.size(); ++c) {
            if (c + 1 == widths.size()) {
                line += cells[c];  // no trailing spaces after the last column
            } else {
                line += cells[c];
                line.append(widths[c] - display_width(cells[c]) + 2, ' ');
            }
        }
        return line + '\n';
    };
    std::string out = format_row(header);
    for (const auto& row : rows) out += format_row(row);
    return out;
}

}  // namespace kvd::ctl
