// Ops on the registry itself: create, lookup, list, stop, restart, kill.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
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
    std::string kind;
    if (ctx.args.has("kind")) {
        kind = std::string(ctx.args.str("kind"));
        if (kind.empty()) {
            ctx.reply.fail(ErrorCode::bad_request, "'kind' must not be empty");
            return;
        }
    }
    ctx.host.create_bucket(std::string(ctx.args.str("bucket")), kind,
                           [reply = ctx.reply](Outcome outcome) { reply.send(outcome); });
}

namespace {

Json pid_or_null(const OpBucket& b) {
    return b.has_process() ? Json(b.pid()) : Json(nullptr);
}

Json list_entry(const OpBucket& b, WallTime now) {
    BucketInfo info = b.info();
    Json last = nullptr;
    if (info.last_exit) {
        const LastExit& e = *info.last_exit;
        last = {{"code", e.code ? Json(*e.code) : Json(nullptr)},
                {"signal", e.signal ? Json(signal_name(*e.signal)) : Json(nullptr)},
                {"reason", e.reason},
                {"time", format_rfc3339(e.time)}};
    }
    Json started = nullptr, uptime = nullptr;
    if (info.started) {
        started = format_rfc3339(*info.started);
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - *info.started);
        uptime = std::max<int64_t>(0, ms.count());
    }
    return {{"bucket", b.name()},
            {"pid", pid_or_null(b)},
            {"started", std::move(started)},
            {"kind", b.kind_name()},
            {"state", info.state},
            {"restarts", info.restarts},
            {"uptime_ms", std::move(uptime)},
            {"last_exit", std::move(last)},
            {"rss_bytes", info.usage ? Json(info.usage->rss_bytes) : Json(nullptr)},
            {"cpu_ms", info.usage ? Json(info.usage->cpu_ms) : Json(nullptr)}};
}

}  // namespace

void lookup(OpContext& ctx) {
    if (OpBucket* b = existing_bucket(ctx))
        ctx.reply.ok({{"bucket", b->name()}, {"pid", pid_or_null(*b)}});
}

void list(OpContext& ctx) {
    Json buckets = Json::array();
    WallTime now = std::chrono::system_clock::now();
    for (const OpBucket* b : ctx.host.buckets()) buckets.push_back(list_entry(*b, now));
    ctx.reply.ok({{"buckets", std::move(buckets)}});
}

void restart(OpContext& ctx) {
    OpBucket* b = existing_bucket(ctx);
    if (!b) return;
    std::optional<Millis> timeout;
    if (ctx.args.has("timeout_ms")) timeout = Millis(ctx.args.uint("timeout_ms"));
    ctx.host.restart_bucket(*b, timeout,
                            [reply = ctx.reply](Outcome outcome) { reply.send(outcome); });
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
    if (!b->has_process()) {
        ctx.reply.fail(ErrorCode::unavailable,
                       fmt::format("bucket '{}' has no process ({})", b->name(), b->state_name()));
        return;
    }
    if (int rc = b->signal(signo); rc != 0) {
        ctx.reply.fail(ErrorCode::internal,
                       fmt::format("cannot signal bucket '{}': {}", b->name(), std::strerror(-rc)));
        return;
    }
    ctx.reply.ok({{"bucket", b->name()}, {"pid", b->pid()}, {"signal", signal_name(signo)}});
}

}  // namespace ops
}  // namespace kvd
