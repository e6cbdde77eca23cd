// The control ops as data: one table of entries (name, arguments, function). Arguments are
// checked against the entry before the op runs, so every op answers malformed input with
// the same `bad_request`; each op is one short function in a grouped ops file.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "common/protocol.hpp"
#include "daemon/connection.hpp"

namespace kvd {

class Daemon;

enum class ArgType { string, integer, boolean, string_list, any };

struct ArgSpec {
    std::string_view name;
    ArgType type;
    bool required;
};

struct OpContext {
    Daemon& daemon;
    Connection& connection;
    const Json& request;  // the whole request object
    Responder reply;

    // Arguments, already validated against the op's ArgSpecs.
    const std::string& str(std::string_view name) const;
    bool has(std::string_view name) const;
};

using OpFn = void (*)(OpContext&);

struct OpSpec {
    std::string_view name;
    std::span<const ArgSpec> args;
    OpFn run;
    bool changes_state;  // refused with `unavailable` once shutdown began
};

// The op table; defined in ops.cpp from the groups below.
std::span<const OpSpec> op_table();
const OpSpec* find_op(std::string_view name);

// Empty when `request` satisfies `spec`, else the bad_request message.
std::string check_args(const OpSpec& spec, const Json& request);

// Parses one request line and runs it. Every outcome, good or bad, goes through `reply`.
void dispatch_request(Daemon& daemon, Connection& connection, std::string&& line, Responder reply);

// The op groups (one file each).
namespace ops {
void ping(OpContext&);
void status(OpContext&);
void create(OpContext&);
void lookup(OpContext&);
void list(OpContext&);
void stop(OpContext&);
void kill(OpContext&);
void put(OpContext&);
void get(OpContext&);
void del(OpContext&);
void keys(OpContext&);
void notify(OpContext&);
void subscribe(OpContext&);
void handlers(OpContext&);
void reload(OpContext&);
}  // namespace ops

}  // namespace kvd
