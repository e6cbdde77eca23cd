// The control ops as data: one table of entries (name, arguments, function). Arguments are
// checked against the entry before the op runs, so every op answers malformed input with
// the same `bad_request`; each op is one short function in a grouped ops file.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/json_scan.hpp"
#include "common/protocol.hpp"
#include "daemon/connection.hpp"

namespace kvd {

class Daemon;

enum class ArgType { string, integer, boolean, string_list, any };

struct ArgSpec {
    std::string_view name;
    ArgType type;
    bool required;
    // Integers: the largest value the op can use (a larger one is bad_request, never wrapped).
    uint64_t max = UINT64_MAX;
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

// The fast path of a hot op: its arguments straight from the scanned request line, with no
// JSON document built. Only reached when every argument is present with its type (string
// arguments plain, so `text()` is their value) and the op may run now.
struct FastOpContext {
    Daemon& daemon;
    Connection& connection;
    const json_scan::Object& request;
    Responder& reply;

    // A string argument's value; empty when absent.
    std::string_view text(std::string_view name) const;
    // An argument's member; nullptr when absent or null.
    const json_scan::Member* arg(std::string_view name) const;
};

// Runs the op and returns true, or returns false having done nothing, and the request takes
// the general path (which then gives every error answer: one source for those).
using FastOpFn = bool (*)(FastOpContext&);

struct OpSpec {
    std::string_view name;
    std::span<const ArgSpec> args;
    OpFn run;
    bool changes_state;  // refused with `unavailable` once shutdown began
    FastOpFn fast = nullptr;
};

// The op table; defined in ops.cpp from the groups below.
std::span<const OpSpec> op_table();
const OpSpec* find_op(std::string_view name);

// Empty when `request` satisfies `spec`, else the bad_request message.
std::string check_args(const OpSpec& spec, const Json& request);

// Parses one request line and runs it. Every outcome, good or bad, goes through `reply`.
void dispatch_request(Daemon& daemon, Connection& connection, std::string_view line, Responder reply);

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

bool fast_put(FastOpContext&);
bool fast_get(FastOpContext&);
bool fast_del(FastOpContext&);
bool fast_keys(FastOpContext&);
bool fast_notify(FastOpContext&);
}  // namespace ops

}  // namespace kvd
