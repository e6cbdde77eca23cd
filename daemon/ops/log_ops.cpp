// The op on buckets' captured output: logs.
#include <fmt/format.h>

#include <algorithm>

#include "daemon/ops/bucket_lookup.hpp"
#include "daemon/ops/ops.hpp"

namespace kvd::ops {

namespace {

using wire::ErrorCode;

constexpr uint64_t kDefaultLines = 100;
// The reply carries the newest lines that fit in this many bytes (a ring may be configured
// larger than a client wants to read in one line).
constexpr std::size_t kMaxReplyBytes = 16 * 1024 * 1024;

}  // namespace

// {"lines":[{"stream","line","time"}…],"dropped":N}: the newest `lines` (default 100) kept
// lines of `stream` (default both), oldest first. With `follow`, the connection then carries
// every further line until the client hangs up or the bucket is gone.
void logs(OpContext& ctx) {
    if (!valid_bucket_arg(ctx)) return;
    std::optional<kvd::logs::Stream> only;
    if (ctx.args.has("stream")) {
        std::string_view s = ctx.args.str("stream");
        if (s == "stdout")
            only = kvd::logs::Stream::out;
        else if (s == "stderr")
            only = kvd::logs::Stream::err;
        else {
            ctx.reply.fail(ErrorCode::bad_request,
                           fmt::format("\"stream\" must be \"stdout\" or \"stderr\", not '{}'", s));
            return;
        }
    }
    std::string_view name = ctx.args.str("bucket");
    OpLog* log = ctx.host.find_log(name);
    if (!log) {
        ctx.reply.fail(ErrorCode::not_found, fmt::format("no bucket named '{}'", name));
        return;
    }
    const uint64_t lines = ctx.args.has("lines") ? ctx.args.uint("lines") : kDefaultLines;
    std::vector<const kvd::logs::LogEntry*> entries = log->tail(lines, only);
    // Newest first until the reply is full, then put back in order.
    std::vector<std::string> rendered;
    std::size_t bytes = 0;
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
        std::string line = kvd::logs::follow_line(**it);
        line.pop_back();  // its '\n'
        if (bytes + line.size() + 1 > kMaxReplyBytes) break;
        bytes += line.size() + 1;
        rendered.push_back(std::move(line));
    }
    std::string result = R"({"lines":[)";
    result.reserve(bytes + 64);
    for (auto it = rendered.rbegin(); it != rendered.rend(); ++it) {
        if (it != rendered.rbegin()) result.push_back(',');
        result.append(*it);
    }
    result.append(R"(],"dropped":)");
    result.append(std::to_string(log->dropped()));
    if (log->uncaptured(kvd::logs::Stream::err)) result.append(R"(,"uncaptured":["stderr"])");
    result.push_back('}');
    if (ctx.args.flag("follow"))
        if (auto failure = ctx.client.follow_log(*log, only)) {
            ctx.reply.fail(failure->code, failure->message);
            return;
        }
    ctx.reply.ok_raw(result);
}

}  // namespace kvd::ops
