// Ops proxied to a bucket's process: put, get, delete, keys.
#include <fmt/format.h>

#include "common/bucket_protocol.hpp"
#include "common/names.hpp"
#include "daemon/daemon.hpp"
#include "daemon/ops/bucket_lookup.hpp"
#include "daemon/ops/ops.hpp"

namespace kvd {

namespace {

using wire::ErrorCode;

// A bucket answers `{"ok":true,"result":{…}}`; the result is passed on without re-parsing.
constexpr std::string_view kOkPrefix = R"({"ok":true,"result":)";

// Sends one request line to `b` and answers with its reply. `key` is the decoded key, for
// the not_found message.
void send_to_bucket(Bucket& b, const std::string& line, Responder reply, std::string_view key) {
    // The callback runs only from inside Bucket (a reply, or failing what is pending while it
    // goes away), so the bucket is alive whenever it runs.
    b.request(line, [reply = std::move(reply), bucket = &b, key = std::string(key)](
                        std::variant<std::string_view, Bucket::NoReply> outcome) {
        const std::string& name = bucket->name();
        if (const auto* why = std::get_if<Bucket::NoReply>(&outcome)) {
            switch (*why) {
                case Bucket::NoReply::gone:
                    reply.fail(ErrorCode::unavailable,
                               fmt::format("bucket '{}' exited before answering", name));
                    break;
                case Bucket::NoReply::timed_out:
                    reply.fail(ErrorCode::timeout,
                               fmt::format("bucket '{}' (pid {}) did not answer within the "
                                           "request timeout",
                                           name, bucket->pid()));
                    break;
                case Bucket::NoReply::backlogged:
                    reply.fail(ErrorCode::limit,
                               fmt::format("bucket '{}' (pid {}) is not reading its requests; "
                                           "too many bytes are waiting for it",
                                           name, bucket->pid()));
                    break;
            }
            return;
        }
        const std::string_view* answer = &std::get<std::string_view>(outcome);
        if (answer->size() > kOkPrefix.size() && answer->starts_with(kOkPrefix) &&
            answer->back() == '}') {
            reply.ok_raw(answer->substr(kOkPrefix.size(),
                                        answer->size() - kOkPrefix.size() - 1));
            return;
        }
        auto parsed = bucket_protocol::parse_reply(*answer);
        if (!parsed) {
            reply.fail(ErrorCode::internal,
                       fmt::format("bucket '{}' sent a malformed reply", name));
        } else if (parsed->ok) {
            reply.ok(parsed->result);
        } else if (parsed->code == "not_found") {
            reply.fail(ErrorCode::not_found,
                       fmt::format("no key '{}' in bucket '{}'", key, name));
        } else {
            auto code = wire::parse_error_code(parsed->code).value_or(ErrorCode::internal);
            reply.fail(code, fmt::format("bucket '{}': {}", name, parsed->message));
        }
    });
}

void forward(OpContext& ctx, std::string_view op, bool with_key, bool with_value) {
    Bucket* b = existing_bucket(ctx);
    if (!b) return;
    if (b->stop_requested()) {
        ctx.reply.fail(ErrorCode::unavailable, fmt::format("bucket '{}' is stopping", b->name()));
        return;
    }
    const std::string* key = with_key ? &ctx.str("key") : nullptr;
    const std::string* value = with_value ? &ctx.str("value") : nullptr;
    send_to_bucket(*b, bucket_protocol::request_line(op, key, value), ctx.reply,
                   key ? std::string_view(*key) : std::string_view());
}

// The fast path: plain strings are their own JSON encoding, so key and value go to the
// bucket exactly as the client sent them. Anything that would be an error answer is left to
// the general path.
bool fast_forward(FastOpContext& ctx, std::string_view op, bool with_key, bool with_value) {
    std::string_view name = ctx.text("bucket");
    if (!is_valid_bucket_name(name)) return false;
    Bucket* b = ctx.daemon.registry().find(name);
    if (!b || b->stop_requested()) return false;
    const json_scan::Member* key = with_key ? ctx.arg("key") : nullptr;
    const json_scan::Member* value = with_value ? ctx.arg("value") : nullptr;
    send_to_bucket(*b,
                   bucket_protocol::request_line_json(op, key ? key->raw : std::string_view(),
                                                      value ? value->raw : std::string_view()),
                   std::move(ctx.reply), key ? key->text() : std::string_view());
    return true;
}

}  // namespace

namespace ops {
void put(OpContext& ctx) { forward(ctx, "put", true, true); }
void get(OpContext& ctx) { forward(ctx, "get", true, false); }
void del(OpContext& ctx) { forward(ctx, "delete", true, false); }
void keys(OpContext& ctx) { forward(ctx, "keys", false, false); }
bool fast_put(FastOpContext& ctx) { return fast_forward(ctx, "put", true, true); }
bool fast_get(FastOpContext& ctx) { return fast_forward(ctx, "get", true, false); }
bool fast_del(FastOpContext& ctx) { return fast_forward(ctx, "delete", true, false); }
bool fast_keys(FastOpContext& ctx) { return fast_forward(ctx, "keys", false, false); }
}  // namespace ops

}  // namespace kvd
