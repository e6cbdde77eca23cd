// Ops of the event manager: notify, subscribe, handlers, reload.
#include <fmt/format.h>

#include "common/wire.hpp"
#include "daemon/ops/ops.hpp"

namespace kvd::ops {

namespace {

using wire::ErrorCode;

constexpr std::size_t kMaxTypeBytes = 128;

// Empty when `type` may be used as an event type, else why not.
std::string event_type_problem(std::string_view type) {
    if (type.empty()) return "event type is empty";
    if (type.size() > kMaxTypeBytes)
        return fmt::format("event type is {} bytes long; at most {} are allowed", type.size(),
                           kMaxTypeBytes);
    for (unsigned char c : type)
        if (c < 0x20 || c == 0x7f) return "event type has a control character";
    return {};
}

}  // namespace

// Publishes a custom event and answers {"seq":N}: at once, or with `sync` once every sync
// receiver released it. A sync receiver with no room for it refuses it (`limit`).
void notify(OpContext& ctx) {
    std::string_view type = ctx.args.str("type");
    if (auto problem = event_type_problem(type); !problem.empty()) {
        ctx.reply.fail(ErrorCode::bad_request, problem);
        return;
    }
    if (wire::event::is_reserved(type)) {
        ctx.reply.fail(ErrorCode::bad_request,
                       fmt::format("event type '{}' is reserved for kvd's own events", type));
        return;
    }
    Event ev;
    ev.type = type;
    std::string scratch;
    ev.data_json = ctx.args.json("data", scratch);
    const bool sync = ctx.args.flag("sync");
    // Taken before publishing (events are numbered last_seq() + 1): `delivered` may run
    // inside publish(), when no sync receiver takes this type, before it returns.
    const uint64_t seq = ctx.host.last_seq() + 1;
    auto answer = [reply = ctx.reply, seq] {
        reply.ok_raw(R"({"seq":)" + std::to_string(seq) + "}");
    };
    std::function<void()> delivered = [] {};
    if (sync) delivered = answer;
    auto published = ctx.host.publish(std::move(ev), std::move(delivered));
    if (const auto* refused = std::get_if<Failure>(&published)) {
        ctx.reply.fail(refused->code, refused->message);
        return;
    }
    if (!sync) answer();
}

void subscribe(OpContext& ctx) {
    SubscribeRequest request;
    if (ctx.args.has("mode")) {
        std::string_view mode = ctx.args.str("mode");
        if (mode == "sync")
            request.mode = HandlerMode::sync;
        else if (mode == "async")
            request.mode = HandlerMode::async;
        else {
            ctx.reply.fail(ErrorCode::bad_request,
                           fmt::format("\"mode\" must be \"async\" or \"sync\", not '{}'", mode));
            return;
        }
    }
    if (ctx.args.has("types")) {
        auto types = ctx.args.list("types");
        for (const auto& t : types)
            if (auto problem = event_type_problem(t); !problem.empty()) {
                ctx.reply.fail(ErrorCode::bad_request, problem);
                return;
            }
        request.types = std::move(types);
    }
    if (ctx.args.has("from_seq")) request.from_seq = ctx.args.uint("from_seq");
    if (auto failure = ctx.client.subscribe(request)) {
        ctx.reply.fail(failure->code, failure->message);
        return;  // the connection stays an ordinary one
    }
    ctx.reply.ok({{"seq", ctx.host.last_seq()}, {"boot", ctx.host.status().boot}});
}

void handlers(OpContext& ctx) {
    ctx.reply.ok({{"handlers", ctx.host.handlers_info()}});
}

void reload(OpContext& ctx) {
    ctx.reply.send(ctx.host.reload());
}

}  // namespace kvd::ops
