// What kvctl prints: each command's reply as human-readable text or as JSON. Pure: a reply's
// `result` in, text out (every line '\n'-terminated). Tolerates missing or odd fields, since
// the text comes from another program.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/protocol.hpp"

namespace kvd::ctl {

// --json: one JSON document on one line.
std::string json_document(const Json& value);
// The stderr line for an error kvd answered: "kvctl: not_found: no bucket named 'x'".
std::string error_line(const ErrorInfo& error);

std::string human_ping(const Json& result);
std::string human_status(const Json& result);
std::string human_create(const Json& result);
std::string human_lookup(const Json& result);
std::string human_list(const Json& result);
std::string human_stop(std::string_view bucket, const Json& result);
std::string human_kill(std::string_view bucket, std::string_view signal, const Json& result);
std::string human_put(const Json& result);
std::string human_get(const Json& result);
std::string human_delete(std::string_view bucket, std::string_view key, const Json& result);
std::string human_keys(const Json& result);
std::string human_notify(std::string_view type, const Json& result);
std::string human_handlers(const Json& result);
std::string human_reload(const Json& result);
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

// Left-aligned columns separated by two spaces, header first.
std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows);

}  // namespace kvd::ctl
