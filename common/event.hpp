// An event as the event manager publishes it: create / exit / custom / dropped, with its
// global seq and wall-clock time. Serialises to the one-line JSON of README "Writing a handler".
// Pure.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "common/clock.hpp"
#include "common/protocol.hpp"

namespace kvd {

struct Event {
    uint64_t seq = 0;
    std::string type;
    WallTime time;

    // create, exit and failed
    std::string bucket;
    pid_t pid = 0;
    // create: the bucket's kind, written when not the built-in one; and for a restart, how
    // many times the bucket was restarted. failed: the restarts it had.
    std::string kind;
    std::optional<uint64_t> restart;
    // exit
    std::optional<int> code;
    std::optional<int> signal;
    std::string reason;
    // custom: `data`, or when `data_json` is not empty, that text (already serialised as
    // dump_line() would, so a request's data can be published without a round trip).
    Json data;
    std::string data_json;
    // dropped
    uint64_t count = 0;

    // The JSON line, ending in '\n', keys in the order of README "Writing a handler".
    std::string to_line() const;
};

}  // namespace kvd
