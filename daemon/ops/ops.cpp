#include "daemon/ops/ops.hpp"

#include <fmt/format.h>

#include <array>

#include "common/wire.hpp"

namespace kvd {

namespace {

using wire::ErrorCode;

constexpr ArgSpec kBucketArg[] = {{"bucket", ArgType::string, true}};
// A stop's SIGKILL timeout: at most a year, far beyond any use and far from overflowing
// the loop's millisecond clock.
constexpr uint64_t kMaxStopTimeoutMs = 365ULL * 24 * 3600 * 1000;
constexpr ArgSpec kStopArgs[] = {{"bucket", ArgType::string, true},
                                 {"timeout_ms", ArgType::integer, false, kMaxStopTimeoutMs}};
constexpr ArgSpec kCreateArgs[] = {{"bucket", ArgType::string, true},
                                   {"kind", ArgType::string, false}};
constexpr ArgSpec kKillArgs[] = {{"bucket", ArgType::string, true},
                                 {"signal", ArgType::string, false}};
constexpr ArgSpec kKeyArgs[] = {{"bucket", ArgType::string, true}, {"key", ArgType::string, true}};
constexpr ArgSpec kPutArgs[] = {{"bucket", ArgType::string, true},
                                {"key", ArgType::string, true},
                                {"value", ArgType::string, true}};

constexpr ArgSpec kNotifyArgs[] = {{"type", ArgType::string, true},
                                   {"data", ArgType::any, false},
                                   {"sync", ArgType::boolean, false}};
constexpr ArgSpec kSubscribeArgs[] = {{"types", ArgType::string_list, false},
                                      {"mode", ArgType::string, false},
                                      {"from_seq", ArgType::integer, false}};

// `logs`: at most a million past lines (the ring's bytes bound them anyway).
constexpr uint64_t kMaxLogLines = 1'000'000;
constexpr ArgSpec kLogsArgs[] = {{"bucket", ArgType::string, true},
                                 {"lines", ArgType::integer, false, kMaxLogLines},
                                 {"follow", ArgType::boolean, false},
                                 {"stream", ArgType::string, false}};

constexpr std::array kOps = {
    OpSpec{wire::op::kPing, {}, ops::ping, false},
    OpSpec{wire::op::kStatus, {}, ops::status, false},
    OpSpec{wire::op::kCreate, kCreateArgs, ops::create, true},
    OpSpec{wire::op::kLookup, kBucketArg, ops::lookup, false},
    OpSpec{wire::op::kList, {}, ops::list, false},
    OpSpec{wire::op::kStop, kStopArgs, ops::stop, true},
    OpSpec{wire::op::kKill, kKillArgs, ops::kill, true},
    OpSpec{wire::op::kRestart, kStopArgs, ops::restart, true},
    OpSpec{wire::op::kPut, kPutArgs, ops::put, true},
    OpSpec{wire::op::kGet, kKeyArgs, ops::get, false},
    OpSpec{wire::op::kDelete, kKeyArgs, ops::del, true},
    OpSpec{wire::op::kKeys, kBucketArg, ops::keys, false},
    OpSpec{wire::op::kNotify, kNotifyArgs, ops::notify, true},
    OpSpec{wire::op::kSubscribe, kSubscribeArgs, ops::subscribe, true},
    OpSpec{wire::op::kHandlers, {}, ops::handlers, false},
    OpSpec{wire::op::kReload, {}, ops::reload, true},
    OpSpec{wire::op::kLogs, kLogsArgs, ops::logs, false},
    OpSpec{wire::op::kMetrics, {}, ops::metrics, false},
};

std::string_view type_name(ArgType t) {
    switch (t) {
        case ArgType::string:
            return "a string";
        case ArgType::integer:
            return "a non-negative integer";
        case ArgType::boolean:
            return "true or false";
        case ArgType::string_list:
            return "a list of strings";
        case ArgType::any:
            return "any JSON value";
    }
    return "?";
}

bool has_type(Args::Type got, ArgType wanted) {
    switch (wanted) {
        case ArgType::string:
            return got == Args::Type::string;
        case ArgType::integer:
            return got == Args::Type::uint;
        case ArgType::boolean:
            return got == Args::Type::boolean;
        case ArgType::string_list:
            return got == Args::Type::string_list;
        case ArgType::any:
            return true;
    }
    return false;
}

// Runs the op `name` with arguments `args` once they pass its checks.
void run(OpHost& host, OpClient& client, std::string_view name, const Args& args,
         Responder answer) {
    const OpSpec* spec = find_op(name);
    if (!spec) {
        answer.fail(ErrorCode::bad_request, fmt::format("unknown op '{}'", name));
        return;
    }
    if (std::string problem = check_args(*spec, args); !problem.empty()) {
        answer.fail(ErrorCode::bad_request, problem);
        return;
    }
    if (spec->changes_state && host.shutting_down()) {
        answer.fail(ErrorCode::unavailable, "kvd is shutting down");
        return;
    }
    OpContext ctx{host, client, args, std::move(answer)};
    spec->run(ctx);
}

// The scanner's way in: a line it takes, whose members all read the same through Args as
// through nlohmann, whose op is a plain string and whose id can be echoed as sent. True
// when it ran the request.
bool dispatch_scanned(OpHost& host, OpClient& client, std::string_view line,
                      const Responder& reply) {
    json_scan::Object request;
    if (!json_scan::scan_object(line, request) || !Args::readable(request)) return false;
    const json_scan::Member* op = request.find("op");
    if (!op || op->kind != json_scan::Kind::string) return false;
    const json_scan::Member* id = request.find("id");
    if (id && !id->canonical) return false;
    run(host, client, op->text(), Args(request), reply.with_id_json(id ? id->raw : "null"));
    return true;
}

}  // namespace

std::span<const OpSpec> op_table() {
    return kOps;
}

const OpSpec* find_op(std::string_view name) {
    for (const auto& op : kOps)
        if (op.name == name) return &op;
    return nullptr;
}

std::string check_args(const OpSpec& spec, const Args& args) {
    for (const auto& arg : spec.args) {
        Args::Type got = args.type(arg.name);
        if (got == Args::Type::absent || (got == Args::Type::null && !arg.required)) {
            if (arg.required)
                return fmt::format("op '{}' needs \"{}\" ({})", spec.name, arg.name,
                                   type_name(arg.type));
            continue;
        }
        // An integer past 2^64 - 1 is read as another number: the bound says what is wrong.
        if (arg.type == ArgType::integer &&
            (!has_type(got, arg.type) || args.uint(arg.name) > arg.max))
            return fmt::format("\"{}\" must be a non-negative integer of at most {}", arg.name,
                               arg.max);
        if (!has_type(got, arg.type))
            return fmt::format("\"{}\" must be {}", arg.name, type_name(arg.type));
    }
    return {};
}

void dispatch_request(OpHost& host, OpClient& client, std::string_view line, Responder reply,
                      Parser parser) {
    if (parser == Parser::fastest && dispatch_scanned(host, client, line, reply)) return;
    auto parsed = parse_request(line);
    if (auto* err = std::get_if<RequestError>(&parsed)) {
        reply.with_id(err->id).fail(ErrorCode::bad_request, err->message);
        return;
    }
    auto& request = std::get<Request>(parsed);
    run(host, client, request.op, Args(request.body), reply.with_id(request.id));
}

}  // namespace kvd
