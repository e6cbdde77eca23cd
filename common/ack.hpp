// The acknowledgement a sync receiver (handler or `subscribe mode=sync` client) writes for
// each event: `ok`, or `{"ack":SEQ}` naming the event. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace kvd {

struct Ack {
    std::optional<uint64_t> seq;  // set for {"ack":SEQ}; `ok` acknowledges the event in flight
};

// nullopt when the line is not an ack. Surrounding whitespace is ignored.
std::optional<Ack> parse_ack(std::string_view line);

}  // namespace kvd
