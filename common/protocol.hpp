// The control protocol's messages as values: parsing request lines and building reply lines
// (kvd's side), parsing reply lines (kvctl's side). JSON Lines; pure, no I/O.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/wire.hpp"

namespace kvd {

using Json = nlohmann::json;

struct Request {
    Json id;  // echoed verbatim in the reply; null when the request had none
    std::string op;
    Json body;  // the whole request object, for the op to read its arguments from
};

struct RequestError {
    Json id;  // the id, when the line was an object that carried one
    std::string message;
};

// One request line -> a request, or why it is not one (a `bad_request`).
std::variant<Request, RequestError> parse_request(std::string_view line);

// The deepest nesting of arrays and objects kvd accepts in a request line: nlohmann copies
// and dumps recursively, so deeper values could overflow the stack.
inline constexpr std::size_t kMaxNestingDepth = 256;
// Whether JSON `text` nests arrays and objects more than `max_depth` levels deep; a scan that
// needs no parse (and so cannot overflow anything itself).
bool nests_deeper_than(std::string_view text, std::size_t max_depth);

// Serialises `j` as one line (no '\n'); invalid UTF-8 in strings is replaced, never thrown.
std::string dump_line(const Json& j);

// Reply lines, each ending in '\n'.
std::string reply_ok(const Json& id, const Json& result);
std::string reply_error(const Json& id, wire::ErrorCode code, std::string_view message);
// The same lines from an id and a result already serialised as dump_line() does: built by
// concatenation, byte for byte what the two above give.
std::string reply_ok_text(std::string_view id_json, std::string_view result_json);
std::string reply_error_text(std::string_view id_json, wire::ErrorCode code,
                             std::string_view message);

struct ErrorInfo {
    std::string code;  // as sent; may be a code this build does not know
    std::string message;
};

struct Reply {
    Json id;
    bool ok = false;
    Json result;      // when ok
    ErrorInfo error;  // when !ok
    Json raw;         // the whole reply object
};

// A reply line from kvd; nullopt if it is not a well-formed reply.
std::optional<Reply> parse_reply(std::string_view line);

}  // namespace kvd
