// Ops of the event manager: notify, subscribe, handlers, reload.
#include <fmt/format.h>

#include <algorithm>

#include "common/wire.hpp"
#include "daemon/daemon.hpp"
#include "daemon/ops/ops.hpp"
#include "daemon/subscription.hpp"

namespace kvd::ops {

namespace {

using wire::ErrorCode;

constexpr std::size_t kMaxTypeBytes = 128;
// A subscriber that does not acknowledge a sync event within this time is dropped.
constexpr Millis kSubscriberAckTimeout{5000};

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

// Publishes a custom event and answers {"seq":N}: at once, or with `sync` once every sync
// receiver released it. A sync receiver with no room for it refuses it (`limit`).
void publish_custom(Daemon& daemon, Event ev, bool sync, Responder reply) {
    // Taken before publishing (events are numbered last_seq() + 1): `delivered` runs inside
    // publish_custom() when no sync receiver takes this type, before it returns.
    const uint64_t seq = daemon.events().last_seq() + 1;
    auto answer = [reply, seq] { reply.ok_raw(R"({"seq":)" + std::to_string(seq) + "}"); };
    std::function<void()> delivered = [] {};
    if (sync) delivered = answer;
    auto published = daemon.events().publish_custom(std::move(ev), std::move(delivered));
    if (const auto* refused = std::get_if<Failure>(&published)) {
        reply.fail(refused->code, refused->message);
        return;
    }
    if (!sync) answer();
}

}  // namespace

void notify(OpContext& ctx) {
    const std::string& type = ctx.str("type");
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
    ev.data = ctx.has("data") ? ctx.request["data"] : Json(nullptr);
    bool sync = ctx.has("sync") && ctx.request["sync"].get<bool>();
    publish_custom(ctx.daemon, std::move(ev), sync, ctx.reply);
}

// The fast path: the data goes into the event line as the client wrote it when that is
// already how nlohmann would write it. Errors are left to notify().
bool fast_notify(FastOpContext& ctx) {
    std::string_view type = ctx.text("type");
    if (!event_type_problem(type).empty() || wire::event::is_reserved(type)) return false;
    Event ev;
    ev.type = type;
    if (const json_scan::Member* data = ctx.arg("data")) {
        if (data->canonical) {
            ev.data_json = data->raw;
        } else {
            Json parsed = Json::parse(data->raw.begin(), data->raw.end(), nullptr, false);
            if (parsed.is_discarded()) return false;
            ev.data_json = dump_line(parsed);
        }
    } else {
        ev.data_json = "null";
    }
    const json_scan::Member* sync = ctx.arg("sync");
    publish_custom(ctx.daemon, std::move(ev), sync && sync->kind == json_scan::Kind::literal_true,
                   std::move(ctx.reply));
    return true;
}

void subscribe(OpContext& ctx) {
    ReceiverOptions options;
    options.name = fmt::format("client {}", ctx.connection.number());
    if (ctx.has("mode")) {
        const std::string& mode = ctx.str("mode");
        if (mode == "sync") options.mode = HandlerMode::sync;
        else if (mode == "async") options.mode = HandlerMode::async;
        else {
            ctx.reply.fail(ErrorCode::bad_request,
                           fmt::format("\"mode\" must be \"async\" or \"sync\", not '{}'", mode));
            return;
        }
    }
    if (ctx.has("types")) {
        auto types = ctx.request["types"].get<std::vector<std::string>>();
        for (const auto& t : types)
            if (auto problem = event_type_problem(t); !problem.empty()) {
                ctx.reply.fail(ErrorCode::bad_request, problem);
                return;
            }
        options.types = std::move(types);
    }
    // A replay of the whole history must fit an async queue, in count and in bytes, or it
    // would lose events at once. (A sync subscriber loses none: kvd refuses new work while it
    // catches up.)
    options.queue_limit = std::max<std::size_t>(1000, ctx.daemon.config().daemon.event_history);
    options.backlog_holds_history = options.mode == HandlerMode::async;
    options.ack_timeout = kSubscriberAckTimeout;

    EventManager& events = ctx.daemon.events();
    if (ctx.has("from_seq")) options.min_seq = ctx.request["from_seq"].get<uint64_t>();
    auto sub = std::make_unique<Subscription>(events, ctx.daemon.loop(), ctx.connection, options);
    if (ctx.has("from_seq")) {
        if (auto failure = events.replay(sub->receiver(), ctx.request["from_seq"].get<uint64_t>())) {
            ctx.reply.fail(failure->code, failure->message);
            return;  // the connection stays an ordinary one
        }
    }
    uint64_t last = events.last_seq();
    ctx.connection.attach_subscription(std::move(sub));
    ctx.reply.ok({{"seq", last}, {"boot", ctx.daemon.boot()}});
}

void handlers(OpContext& ctx) { ctx.reply.ok({{"handlers", ctx.daemon.handlers().info()}}); }

void reload(OpContext& ctx) { ctx.reply.send(ctx.daemon.reload()); }

}  // namespace kvd::ops
