// Ops proxied to a bucket's process: put, get, delete, keys.
#include <fmt/format.h>

#include "common/bucket_protocol.hpp"
#include "common/duration.hpp"
#include "common/names.hpp"
#include "daemon/ops/bucket_lookup.hpp"
#include "daemon/ops/ops.hpp"

namespace kvd {

namespace {

using wire::ErrorCode;

// A bucket answers `{"ok":true,"result":{…}}`; the result is passed on without re-parsing.
constexpr std::string_view kOkPrefix = R"({"ok":true,"result":)";

// Sends one request line to `b` and answers with its reply. `key` is the decoded key, for
// the not_found message.
void send_to_bucket(OpBucket& b, std::string_view line, Responder reply, std::string_view key) {
    // The callback runs only from inside Bucket (a reply, or failing what is pending while it
    // goes away), so the bucket is alive whenever it runs.
    b.request(line, [reply = std::move(reply), bucket = &b, key = std::string(key)](
                        std::variant<std::string_view, OpBucket::NoReply> outcome) {
        const std::string& name = bucket->name();
        if (const auto* why = std::get_if<OpBucket::NoReply>(&outcome)) {
            switch (*why) {
                case OpBucket::NoReply::gone:
                    reply.fail(ErrorCode::unavailable,
                               fmt::format("bucket '{}' exited before answering", name));
                    break;
                case OpBucket::NoReply::timed_out:
                    reply.fail(ErrorCode::timeout,
                               fmt::format("bucket '{}' (pid {}) did not answer within {} "
                                           "([bucket] request_timeout)",
                                           name, bucket->pid(),
                                           format_duration(bucket->request_timeout())));
                    break;
                case OpBucket::NoReply::backlogged:
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
            reply.ok_raw(answer->substr(kOkPrefix.size(), answer->size() - kOkPrefix.size() - 1));
            return;
        }
        auto parsed = bucket_protocol::parse_reply(*answer);
        if (!parsed) {
            reply.fail(ErrorCode::internal,
                       fmt::format("bucket '{}' sent a malformed reply", name));
        } else if (parsed->ok) {
            reply.ok(parsed->result);
        } else if (parsed->code == "not_found") {
            reply.fail(ErrorCode::not_found, fmt::format("no key '{}' in bucket '{}'", key, name));
        } else {
            auto code = wire::parse_error_code(parsed->code).value_or(ErrorCode::internal);
            reply.fail(code, fmt::format("bucket '{}': {}", name, parsed->message));
        }
    });
}

// Sends the op to the bucket: keys and values travel as the client wrote them when that is
// already their canonical JSON, so a plain put is forwarded without decoding its value.
void forward(OpContext& ctx, std::string_view op, bool with_key, bool with_value) {
    OpBucket* b = existing_bucket(ctx);
    if (!b) return;
    if (!b->serves_data()) {
        ctx.reply.fail(ErrorCode::bad_request,
                       fmt::format("bucket '{}' is of kind '{}', which holds no data (kind.data "
                                   "= false): {} does not apply",
                                   b->name(), b->kind_name(), op));
        return;
    }
    if (b->stop_requested()) {
        ctx.reply.fail(ErrorCode::unavailable, fmt::format("bucket '{}' is stopping", b->name()));
        return;
    }
    if (b->state_name() != "running") {
        ctx.reply.fail(ErrorCode::unavailable,
                       fmt::format("bucket '{}' is not running ({})", b->name(), b->state_name()));
        return;
    }
    std::string key_scratch, value_scratch;
    std::string_view key = with_key ? ctx.args.json("key", key_scratch) : std::string_view();
    std::string_view value =
        with_value ? ctx.args.json("value", value_scratch) : std::string_view();
    send_to_bucket(*b, bucket_protocol::request_line_json(op, key, value), std::move(ctx.reply),
                   with_key ? ctx.args.str("key") : std::string_view());
}

}  // namespace

namespace ops {
void put(OpContext& ctx) {
    forward(ctx, "put", true, true);
}
void get(OpContext& ctx) {
    forward(ctx, "get", true, false);
}
void del(OpContext& ctx) {
    forward(ctx, "delete", true, false);
}
void keys(OpContext& ctx) {
    forward(ctx, "keys", false, false);
}
}  // namespace ops

}  // namespace kvd
