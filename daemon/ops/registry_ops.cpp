// Ops on the registry itself: create, lookup, list, stop, kill.
#include <fmt/format.h>

#include "common/names.hpp"
#include "common/signals.hpp"
#include "daemon/daemon.hpp"
#include "daemon/ops/bucket_lookup.hpp"
#include "daemon/ops/ops.hpp"

namespace kvd {

using wire::ErrorCode;

bool valid_bucket_arg(OpContext& ctx) {
    std::string problem = bucket_name_problem(ctx.str("bucket"));
    if (problem.empty()) return true;
    ctx.reply.fail(ErrorCode::invalid_name, problem);
    return false;
}

Bucket* existing_bucket(OpContext& ctx) {
    if (!valid_bucket_arg(ctx)) return nullptr;
    const std::string& name = ctx.str("bucket");
    Bucket* b = ctx.daemon.registry().find(name);
    if (!b) ctx.reply.fail(ErrorCode::not_found, fmt::format("no bucket named '{}'", name));
    return b;
}

namespace ops {

void create(OpContext& ctx) {
    if (!valid_bucket_arg(ctx)) return;
    ctx.daemon.registry().create(ctx.str("bucket"),
                                 [reply = ctx.reply](Outcome outcome) { reply.send(outcome); });
}

void lookup(OpContext& ctx) {
    if (Bucket* b = existing_bucket(ctx)) ctx.reply.ok({{"bucket", b->name()}, {"pid", b->pid()}});
}

void list(OpContext& ctx) {
    Json buckets = Json::array();
    for (const Bucket* b : ctx.daemon.registry().sorted())
        buckets.push_back(
            {{"bucket", b->name()}, {"pid", b->pid()}, {"started", format_rfc3339(b->started())}});
    ctx.reply.ok({{"buckets", std::move(buckets)}});
}

void stop(OpContext& ctx) {
    Bucket* b = existing_bucket(ctx);
    if (!b) return;
    std::optional<Millis> timeout;
    if (ctx.has("timeout_ms")) timeout = Millis(ctx.request["timeout_ms"].get<int64_t>());
    ctx.daemon.registry().stop(*b, timeout,
                               [reply = ctx.reply](Outcome outcome) { reply.send(outcome); });
}

void kill(OpContext& ctx) {
    int signo = SIGKILL;
    if (ctx.has("signal")) {
        auto parsed = parse_signal(ctx.str("signal"));
        if (!parsed) {
            ctx.reply.fail(ErrorCode::bad_request,
                           fmt::format("unknown signal '{}'", ctx.str("signal")));
            return;
        }
        signo = *parsed;
    }
    Bucket* b = existing_bucket(ctx);
    if (!b) return;
    if (int rc = b->signal(signo); rc != 0) {
        ctx.reply.fail(ErrorCode::internal,
                       fmt::format("cannot signal bucket '{}': {}", b->name(), uv_strerror(rc)));
        return;
    }
    ctx.reply.ok({{"bucket", b->name()}, {"pid", b->pid()}, {"signal", signal_name(signo)}});
}

}  // namespace ops
}  // namespace kvd
