// Ops about kvd itself: ping, status, metrics.
#include <unistd.h>

#include "daemon/ops/ops.hpp"

namespace kvd::ops {

void ping(OpContext& ctx) {
    ctx.reply.ok({{"version", KVD_VERSION}, {"pid", getpid()}});
}

void status(OpContext& ctx) {
    DaemonStatus s = ctx.host.status();
    ctx.reply.ok({{"version", KVD_VERSION},
                  {"pid", getpid()},
                  {"uptime_ms", s.uptime_ms},
                  {"buckets", s.buckets},
                  {"handlers", s.handlers},
                  {"subscriptions", s.subscriptions},
                  {"last_seq", s.last_seq},
                  {"boot", s.boot},
                  {"tree", s.tree},
                  {"limits", s.limits},
                  {"descriptors",
                   {{"limit", s.descriptors.limit},
                    {"for_buckets", s.descriptors.for_buckets},
                    {"in_use", s.descriptors.in_use},
                    {"pidfds", s.descriptors.pidfds},
                    {"without_pidfd", s.descriptors.without_pidfd},
                    {"stderr_uncaptured", s.descriptors.stderr_uncaptured}}}});
}

// The same text as the HTTP endpoint's /metrics (README "Metrics"), in {"text": ...}.
void metrics(OpContext& ctx) {
    ctx.reply.ok({{"text", ctx.host.metrics_text()}});
}

}  // namespace kvd::ops
