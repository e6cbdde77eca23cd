// The control ops as data: one table of entries (name, arguments, function). Each op is
// written once, as one function over an Args view that either parser may have built;
// arguments are checked against the entry before the op runs, so every op answers
// malformed input with the same `bad_request`. Ops reach kvd only through OpHost.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/args.hpp"
#include "daemon/ops/host.hpp"
#include "daemon/reply.hpp"

namespace kvd {

enum class ArgType { string, integer, boolean, string_list, any };

struct ArgSpec {
    std::string_view name;
    ArgType type;
    bool required;
    // Integers: the largest value the op can use (a larger one is bad_request, never wrapped).
    uint64_t max = UINT64_MAX;
};

struct OpContext {
    OpHost& host;
    OpClient& client;
    // Arguments, already checked against the op's ArgSpecs.
    const Args& args;
    Responder reply;
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

// Empty when `args` satisfy `spec`, else the bad_request message.
std::string check_args(const OpSpec& spec, const Args& args);

// Which parser reads a request line: the scanner when it takes the line, else nlohmann; or
// nlohmann only (the fuzzer compares the two).
enum class Parser { fastest, nlohmann };

// Parses one request line and runs it. Every outcome, good or bad, goes through `reply`.
void dispatch_request(OpHost& host, OpClient& client, std::string_view line, Responder reply,
                      Parser parser = Parser::fastest);

// The op groups (one file each).
namespace ops {
void ping(OpContext&);
void status(OpContext&);
void metrics(OpContext&);
void create(OpContext&);
void lookup(OpContext&);
void list(OpContext&);
void stop(OpContext&);
void kill(OpContext&);
void restart(OpContext&);
void put(OpContext&);
void get(OpContext&);
void del(OpContext&);
void keys(OpContext&);
void notify(OpContext&);
void subscribe(OpContext&);
void handlers(OpContext&);
void reload(OpContext&);
void logs(OpContext&);
}  // namespace ops

}  // namespace kvd
