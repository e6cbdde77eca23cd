// A bucket's state: an in-memory map of string keys to string values, driven by the
// request lines of common/bucket_protocol.hpp. Pure: a line in, a reply line out.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/args.hpp"

namespace kvd {

class Store {
  public:
    // `max_reply_bytes`: the most one reply may carry; a `keys` list that would be longer is
    // answered with a `limit` error instead (the data stays as it is).
    static constexpr std::size_t kDefaultMaxReplyBytes = 64 * 1024 * 1024;
    explicit Store(std::size_t max_reply_bytes = kDefaultMaxReplyBytes)
        : max_reply_bytes_(max_reply_bytes) {}

    // Handles one request line and appends its reply line (ending in '\n') to `out`.
    void handle_line(std::string_view line, std::string& out);
    std::string handle_line(std::string_view line) {
        std::string out;
        handle_line(line, out);
        return out;
    }

    std::size_t size() const { return map_.size(); }

  private:
    // One request, however its line was parsed.
    void handle(const Args& req, std::string& out);
    // get, put or delete of a well-formed request; `value_json` (put) is canonical.
    void apply(std::string_view op, std::string_view key, std::string_view value_json,
               std::string& out);
    void put_value(std::string_view key, std::string_view value_json);
    void append_keys(std::string& out) const;

    // Keys decoded; values kept as their JSON text as nlohmann serialises it (one canonical
    // form per string), so `get` answers with it as is. Ordered so that `keys` lists keys
    // sorted, the same way every time.
    std::map<std::string, std::string, std::less<>> map_;
    std::size_t max_reply_bytes_;
};

}  // namespace kvd
