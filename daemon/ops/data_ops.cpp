// Ops proxied to a bucket's process: put, get, delete, keys.
#include <fmt/format.h>

#include "common/bucket_protocol.hpp"
#include "daemon/daemon.hpp"
#include "daemon/ops/bucket_lookup.hpp"
#include "daemon/ops/ops.hpp"

namespace kvd {

namespace {

using wire::ErrorCode;

// A bucket answers `{"ok":true,"result":{…}}`; the result is passed on without re-parsing.
constexpr std::string_view kOkPrefix = R"({"ok":true,"result":)";

void forward(OpContext& ctx, std::string_view op, bool with_key, bool with_value) {
    Bucket* b = existing_bucket(ctx);
    if (!b) return;
    if (b->stop_requested()) {
        ctx.reply.fail(ErrorCode::unavailable, fmt::format("bucket '{}' is stopping", b->name()));
        return;
    }
    const std::string* key = with_key ? &ctx.str("key") : nullptr;
    const std::string* value = with_value ? &ctx.str("value") : nullptr;
    std::string line = bucket_protocol::request_line(op, key, value);
    b->request(line, [reply = ctx.reply, name = b->name(), key = key ? *key : std::string()](
                         std::optional<std::string_view> answer) {
        if (!answer) {
            reply.fail(ErrorCode::unavailable,
                       fmt::format("bucket '{}' exited before answering", name));
            return;
        }
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

}  // namespace

namespace ops {
void put(OpContext& ctx) { forward(ctx, "put", true, true); }
void get(OpContext& ctx) { forward(ctx, "get", true, false); }
void del(OpContext& ctx) { forward(ctx, "delete", true, false); }
void keys(OpContext& ctx) { forward(ctx, "keys", false, false); }
}  // namespace ops

}  // namespace kvd
