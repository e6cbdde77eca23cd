#include "daemon/ops/ops.hpp"

#include <fmt/format.h>

#include <array>

#include "common/wire.hpp"
#include "daemon/daemon.hpp"

namespace kvd {

namespace {

using wire::ErrorCode;

constexpr ArgSpec kBucketArg[] = {{"bucket", ArgType::string, true}};
// A stop's SIGKILL timeout: at most a year, far beyond any use and far from overflowing
// the loop's millisecond clock.
constexpr uint64_t kMaxStopTimeoutMs = 365ULL * 24 * 3600 * 1000;
constexpr ArgSpec kStopArgs[] = {{"bucket", ArgType::string, true},
                                 {"timeout_ms", ArgType::integer, false, kMaxStopTimeoutMs}};
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

constexpr std::array kOps = {
    OpSpec{wire::op::kPing, {}, ops::ping, false},
    OpSpec{wire::op::kStatus, {}, ops::status, false},
    OpSpec{wire::op::kCreate, kBucketArg, ops::create, true},
    OpSpec{wire::op::kLookup, kBucketArg, ops::lookup, false},
    OpSpec{wire::op::kList, {}, ops::list, false},
    OpSpec{wire::op::kStop, kStopArgs, ops::stop, true},
    OpSpec{wire::op::kKill, kKillArgs, ops::kill, true},
    OpSpec{wire::op::kPut, kPutArgs, ops::put, true, ops::fast_put},
    OpSpec{wire::op::kGet, kKeyArgs, ops::get, false, ops::fast_get},
    OpSpec{wire::op::kDelete, kKeyArgs, ops::del, true, ops::fast_del},
    OpSpec{wire::op::kKeys, kBucketArg, ops::keys, false, ops::fast_keys},
    OpSpec{wire::op::kNotify, kNotifyArgs, ops::notify, true, ops::fast_notify},
    OpSpec{wire::op::kSubscribe, kSubscribeArgs, ops::subscribe, true},
    OpSpec{wire::op::kHandlers, {}, ops::handlers, false},
    OpSpec{wire::op::kReload, {}, ops::reload, true},
};

std::string_view type_name(ArgType t) {
    switch (t) {
        case ArgType::string: return "a string";
        case ArgType::integer: return "a non-negative integer";
        case ArgType::boolean: return "true or false";
        case ArgType::string_list: return "a list of strings";
        case ArgType::any: return "any JSON value";
    }
    return "?";
}

bool has_type(const Json& v, ArgType t) {
    switch (t) {
        case ArgType::string: return v.is_string();
        case ArgType::integer: return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
        case ArgType::boolean: return v.is_boolean();
        case ArgType::string_list:
            if (!v.is_array()) return false;
            for (const auto& e : v)
                if (!e.is_string()) return false;
            return true;
        case ArgType::any: return true;
    }
    return false;
}

// Whether the scanned request satisfies `spec` in a way the fast path handles; false for
// anything check_args would complain about and for argument forms the fast path leaves to
// the general one (escaped strings, integers, lists).
bool fast_args_hold(const OpSpec& spec, const json_scan::Object& request) {
    using json_scan::Kind;
    for (const auto& arg : spec.args) {
        const json_scan::Member* m = request.find(arg.name);
        if (!m || m->kind == Kind::null) {
            if (arg.required) return false;
            continue;
        }
        switch (arg.type) {
            case ArgType::string:
                if (m->kind != Kind::string || !m->plain) return false;
                break;
            case ArgType::boolean:
                if (m->kind != Kind::literal_true && m->kind != Kind::literal_false) return false;
                break;
            case ArgType::any: break;
            case ArgType::integer:
            case ArgType::string_list: return false;
        }
    }
    return true;
}

// The fast path: a request line the scanner takes, for an op that has one, whose id can be
// echoed as sent. True when it was answered (or the op started).
bool dispatch_fast(Daemon& daemon, Connection& connection, std::string_view line,
                   const Responder& reply) {
    json_scan::Object request;
    if (!json_scan::scan_object(line, request)) return false;
    const json_scan::Member* op = request.find("op");
    if (!op || op->kind != json_scan::Kind::string || !op->plain) return false;
    const OpSpec* spec = find_op(op->text());
    if (!spec || !spec->fast || !fast_args_hold(*spec, request)) return false;
    if (spec->changes_state && daemon.shutting_down()) return false;
    const json_scan::Member* id = request.find("id");
    if (id && !id->canonical) return false;
    Responder answer = reply.with_id_json(id ? id->raw : "null");
    FastOpContext ctx{daemon, connection, request, answer};
    return spec->fast(ctx);
}

}  // namespace

std::span<const OpSpec> op_table() { return kOps; }

const OpSpec* find_op(std::string_view name) {
    for (const auto& op : kOps)
        if (op.name == name) return &op;
    return nullptr;
}

std::string check_args(const OpSpec& spec, const Json& request) {
    for (const auto& arg : spec.args) {
        auto it = request.find(arg.name);
        if (it == request.end() || (it->is_null() && !arg.required)) {
            if (arg.required)
                return fmt::format("op '{}' needs \"{}\" ({})", spec.name, arg.name, type_name(arg.type));
            continue;
        }
        if (!has_type(*it, arg.type))
            return fmt::format("\"{}\" must be {}", arg.name, type_name(arg.type));
        if (arg.type == ArgType::integer && it->get<uint64_t>() > arg.max)
            return fmt::format("\"{}\" must be a non-negative integer of at most {}", arg.name,
                               arg.max);
    }
    return {};
}

const std::string& OpContext::str(std::string_view name) const {
    return *request.find(name)->get_ptr<const std::string*>();
}

bool OpContext::has(std::string_view name) const {
    auto it = request.find(name);
    return it != request.end() && !it->is_null();
}

std::string_view FastOpContext::text(std::string_view name) const {
    const json_scan::Member* m = arg(name);
    return m ? m->text() : std::string_view();
}

const json_scan::Member* FastOpContext::arg(std::string_view name) const {
    const json_scan::Member* m = request.find(name);
    return m && m->kind != json_scan::Kind::null ? m : nullptr;
}

void dispatch_request(Daemon& daemon, Connection& connection, std::string_view line, Responder reply) {
    if (dispatch_fast(daemon, connection, line, reply)) return;
    auto parsed = parse_request(line);
    if (auto* err = std::get_if<RequestError>(&parsed)) {
        reply.with_id(err->id).fail(ErrorCode::bad_request, err->message);
        return;
    }
    auto& request = std::get<Request>(parsed);
    Responder answer = reply.with_id(request.id);
    const OpSpec* spec = find_op(request.op);
    if (!spec) {
        answer.fail(ErrorCode::bad_request, fmt::format("unknown op '{}'", request.op));
        return;
    }
    if (std::string problem = check_args(*spec, request.body); !problem.empty()) {
        answer.fail(ErrorCode::bad_request, problem);
        return;
    }
    if (spec->changes_state && daemon.shutting_down()) {
        answer.fail(ErrorCode::unavailable, "kvd is shutting down");
        return;
    }
    OpContext ctx{daemon, connection, request.body, std::move(answer)};
    spec->run(ctx);
}

}  // namespace kvd
