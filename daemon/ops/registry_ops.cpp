// Ops on the registry itself: create, lookup, list, stop, kill.
#include <fmt/format.h>

#include <csignal>
#include <cstring>

#include "common/names.hpp"
#include "common/signals.hpp"
#include "daemon/ops/bucket_lookup.hpp"
#include "daemon/ops/ops.hpp"

namespace kvd {

using wire::ErrorCode;

bool valid_bucket_arg(OpContext& ctx) {
    std::string problem = bucket_name_problem(ctx.args.str("bucket"));
    if (problem.empty()) return true;
    ctx.reply.fail(ErrorCode::invalid_name, problem);
    return false;
}

OpBucket* existing_bucket(OpContext& ctx) {
    if (!valid_bucket_arg(ctx)) return nullptr;
    std::string_view name = ctx.args.str("bucket");
    OpBucket* b = ctx.host.find_bucket(name);
    if (!b) ctx.reply.fail(ErrorCode::not_found, fmt::format("no bucket named '{}'", name));
    return b;
}

namespace ops {

void create(OpContext& ctx) {
    if (!valid_bucket_arg(ctx)) return;
    ctx.host.create_bucket(std::string(ctx.args.str("bucket")),
                           [reply = ctx.reply](Outcome outcome) { reply.send(outcome); });
}

void lookup(OpContext& ctx) {
    if (OpBucket* b = existing_bucket(ctx))
        ctx.reply.ok({{"bucket", b->name()}, {"pid", b->pid()}});
}

void list(OpContext& ctx) {
    Json buckets = Json::array();
    for (const OpBucket* b : ctx.host.buckets())
        buckets.push_back(
            {{"bucket", b->name()}, {"pid", b->pid()}, {"started", format_rfc3339(b->started())}});
    ctx.reply.ok({{"buckets", std::move(buckets)}});
}

void stop(OpContext& ctx) {
    OpBucket* b = existing_bucket(ctx);
    if (!b) return;
    std::optional<Millis> timeout;
    // check_args bounded it far below what a Millis holds.
    if (ctx.args.has("timeout_ms")) timeout = Millis(ctx.args.uint("timeout_ms"));
    ctx.host.stop_bucket(*b, timeout,
                         [reply = ctx.reply](Outcome outcome) { reply.send(outcome); });
}

void kill(OpContext& ctx) {
    int signo = SIGKILL;
    if (ctx.args.has("signal")) {
        auto parsed = parse_signal(ctx.args.str("signal"));
        if (!parsed) {
            ctx.reply.fail(ErrorCode::bad_request,
                           fmt::format("unknown signal '{}'", ctx.args.str("signal")));
            return;
        }
        signo = *parsed;
    }
    OpBucket* b = existing_bucket(ctx);
    if (!b) return;
    if (int rc = b->signal(signo); rc != 0) {
        ctx.reply.fail(ErrorCode::internal,
                       fmt::format("cannot signal bucket '{}': {}", b->name(), std::strerror(-rc)));
        return;
    }
    ctx.reply.ok({{"bucket", b->name()}, {"pid", b->pid()}, {"signal", signal_name(signo)}});
}

}  // namespace ops
}  // namespace kvd
