// What kvctl prints: each command's reply as human-readable text or as JSON. Pure: a reply's
// `result` in, text out (every line '\n'-terminated). Tolerates missing or odd fields, since
// the text comes from another program.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/protocol.hpp"

namespace kvd::ctl {

// object[key] when object is an object holding key, else null (never throws).
const Json& field(const Json& object, std::string_view key);

// --json: one JSON document on one line.
std::string json_document(const Json& value);
// The stderr line for an error kvd answered: "kvctl: not_found: no bucket named 'x'".
std::string error_line(const ErrorInfo& error);

std::string human_ping(const Json& result);
std::string human_status(const Json& result);
std::string human_create(const Json& result);
std::string human_lookup(const Json& result);
// `colour`: paint each bucket's state (see state_colour()); the caller decides whether the
// output is a terminal that wants it.
std::string human_list(const Json& result, bool colour = false);
// `kvctl ps`: one row per bucket, NAME KIND STATE PID UPTIME RESTARTS LAST-EXIT RSS CPU, in
// human units; a field the reply lacks (an older kvd) or leaves null prints as "-". `now`
// dates the last exit ("code 1, 2m ago").
std::string human_ps(const Json& result, std::chrono::system_clock::time_point now,
                     bool colour = false);
std::string human_stop(std::string_view bucket, const Json& result);
// "restarted shopping (pid 4243, 3 restarts)".
std::string human_restart(std::string_view bucket, const Json& result);
std::string human_kill(std::string_view bucket, std::string_view signal, const Json& result);
std::string human_put(const Json& result);
std::string human_get(const Json& result);
std::string human_delete(std::string_view bucket, std::string_view key, const Json& result);
std::string human_keys(const Json& result);
std::string human_notify(std::string_view type, const Json& result);
std::string human_handlers(const Json& result, bool colour = false);
std::string human_reload(const Json& result);
// The `metrics` result's text exposition, as kvd wrote it.
std::string human_metrics(const Json& result);
// An event line from the stream as JSON; discarded when it is not JSON, or nests deeper
// than kvd ever sends (nlohmann would recurse that deep when printing it).
Json parse_event(std::string_view line);
// One event line from the stream as one readable line: "#12 create shopping pid=4242 TIME".
// A line that is not a JSON object is shown as it came.
std::string human_event(std::string_view line);
// The same for a line already parsed by parse_event().
std::string human_event(const Json& event, std::string_view line);

// "850ms", "42s", "3m 5s", "2h 0m 7s", "3d 4h 10m".
std::string human_uptime(int64_t ms);
// The same in at most two units and no spaces, for table cells: "0s", "42s", "3m12s", "2m",
// "3h12m", "2d3h".
std::string compact_duration(int64_t ms);
// Bytes in binary units with three significant digits at most: "512B", "12.3M", "123M",
// "1.5G".
std::string human_bytes(uint64_t bytes);
// CPU time: "0.0s", "1.2s", "59.9s", then "3m12s", "3h12m".
std::string human_cpu(int64_t ms);
// A `list` entry's `last_exit`: "code 1, 2m ago", "code 0 (stopped), 5s ago",
// "SIGKILL (killed), 5s ago"; "-" for null or not an object.
std::string human_last_exit(const Json& last_exit, std::chrono::system_clock::time_point now);
// "2026-11-23T19:40:00.123456Z" (or with a numeric offset); nullopt when it is not RFC 3339.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

// Whether kvctl's tables may use colour: only when stdout is a terminal, $NO_COLOR is unset
// or empty (https://no-color.org), and $TERM is not "dumb". --json never is coloured; that is
// the caller's to decide.
bool colour_wanted(bool stdout_is_terminal, const char* no_color_env, const char* term_env);
// How a bucket or handler state reads at a glance: running is good; starting, stopping and
// restarting are changing; backoff and failed are bad; anything else is plain. `ps` and `top`
// paint states by it.
enum class StateTone { plain, good, changing, bad };
StateTone state_tone(std::string_view state);
// `state` wrapped in an ANSI colour when `colour`: running green; starting, stopping and
// restarting yellow; backoff and failed red; anything else as it is.
std::string state_colour(std::string_view state, bool colour);

// `kvctl logs`: one captured line `{"stream","line","time"}` as printed. On a terminal a
// stderr line is set apart, in red with `colour`, else with a "stderr| " prefix; elsewhere
// lines come bare (--json keeps the stream).
std::string human_log_line(const Json& entry, bool terminal, bool colour);

// Left-aligned columns separated by two spaces, header first. Widths count what shows: ANSI
// colour sequences in a cell take no room.
std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows);

}  // namespace kvd::ctl
