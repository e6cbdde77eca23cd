// kvctl's human and JSON output for every command and for the event stream.
#include "ctl/output.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace kvd::ctl {

namespace {

const Json& field(const Json& object, std::string_view key) {
    static const Json kMissing;
    if (!object.is_object()) return kMissing;
    auto it = object.find(key);
    return it == object.end() ? kMissing : *it;
}

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

std::string human_list(const Json& result) {
    const Json& buckets = field(result, "buckets");
    if (!buckets.is_array() || buckets.empty()) return "no buckets\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& b : buckets)
        rows.push_back({text(b, "bucket"), text(b, "pid"), text(b, "started")});
    return format_table({"BUCKET", "PID", "STARTED"}, rows);
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

std::string human_handlers(const Json& result) {
    const Json& handlers = field(result, "handlers");
    if (!handlers.is_array() || handlers.empty()) return "no handlers\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& h : handlers) {
        rows.push_back({text(h, "name"), text(h, "pid"), text(h, "state"), text(h, "mode"),
                        text(h, "delivered"), text(h, "acked"), text(h, "dropped"),
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
    for (std::string_view key : {"pid", "code", "signal", "reason", "count"}) {
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

std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> widths(header.size());
    for (std::size_t c = 0; c < header.size(); ++c) widths[c] = header[c].size();
    for (const auto& row : rows)
        for (std::size_t c = 0; c < row.size() && c < widths.size(); ++c)
            widths[c] = std::max(widths[c], row[c].size());
    auto format_row = [&](const std::vector<std::string>& cells) {
        std::string line;
        for (std::size_t c = 0; c < cells.size() && c < widths.size(); ++c) {
            if (c + 1 == widths.size()) {
                line += cells[c];  // no trailing spaces after the last column
            } else {
                line += cells[c];
                line.append(widths[c] - cells[c].size() + 2, ' ');
            }
        }
        return line + '\n';
    };
    std::string out = format_row(header);
    for (const auto& row : rows) out += format_row(row);
    return out;
}

}  // namespace kvd::ctl
