// What kvd and a kv-bucket process say to each other over the socket pair on the bucket's
// stdin/stdout: one JSON request per line, answered in order by one JSON reply per line.
//   → {"op":"put","key":"k","value":"v"}     ← {"ok":true,"result":{}}
//   → {"op":"get","key":"nope"}              ←
//   {"ok":false,"error":{"code":"not_found","message":"…"}}
// The result objects are exactly what the control protocol returns for the same op, so kvd
// forwards them untouched. Pure.
#pragma once

#include <optional>
#include <string>

#include "common/protocol.hpp"

namespace kvd::bucket_protocol {

// The request line (ending in '\n') for a data op; `key`/`value` only where the op takes them.
std::string request_line(std::string_view op, const std::string* key, const std::string* value);
// The same from key and value already encoded as JSON strings (quotes included; empty when
// the op takes none), so kvd can forward them as the client sent them.
std::string request_line_json(std::string_view op, std::string_view key_json,
                              std::string_view value_json);

// A bucket's reply: ok with a result object, or an error code and message.
struct BucketReply {
    bool ok = false;
    Json result;
    std::string code;
    std::string message;
};

std::optional<BucketReply> parse_reply(std::string_view line);

}  // namespace kvd::bucket_protocol
