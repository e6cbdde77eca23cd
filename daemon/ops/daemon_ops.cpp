// Ops about kvd itself: ping, status.
#include <unistd.h>

#include "daemon/daemon.hpp"
#include "daemon/ops/ops.hpp"

namespace kvd::ops {

void ping(OpContext& ctx) { ctx.reply.ok({{"version", KVD_VERSION}, {"pid", getpid()}}); }

void status(OpContext& ctx) {
    Daemon& d = ctx.daemon;
    ctx.reply.ok({{"version", KVD_VERSION},
                  {"pid", getpid()},
                  {"uptime_ms", d.uptime_ms()},
                  {"buckets", d.registry().size()},
                  {"handlers", d.handlers().size()},
                  {"subscriptions", d.events().subscription_count()},
                  {"last_seq", d.events().last_seq()},
                  {"boot", d.boot()}});
}

}  // namespace kvd::ops
