// What the ops may reach of kvd, and no more: the registry's buckets, the event manager, a
// view of the handlers, kvd's own status, and whether shutdown began. kvd implements these
// over its real parts (daemon/op_host.hpp); the ops' unit tests and the request fuzzer
// implement them with fakes, so no op needs libuv or a running daemon.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/clock.hpp"
#include "common/duration.hpp"
#include "common/event.hpp"
#include "common/protocol.hpp"
#include "daemon/config.hpp"
#include "daemon/outcome.hpp"

namespace kvd {

// One live bucket, as the ops see it.
class OpBucket {
  public:
    // Why a request got no reply line.
    enum class NoReply { gone, timed_out, backlogged };
    // A reply line from the process, or why there is none.
    using ReplyFn = std::function<void(std::variant<std::string_view, NoReply> reply)>;

    virtual const std::string& name() const = 0;
    virtual pid_t pid() const = 0;
    virtual WallTime started() const = 0;
    // A `stop` was asked for: the bucket takes no more requests.
    virtual bool stop_requested() const = 0;
    // How long a request may wait for its answer ([bucket] request_timeout).
    virtual Millis request_timeout() const = 0;
    // Sends one request line of the bucket protocol; `fn` gets its reply, exactly once, and
    // only ever from inside the bucket (so the bucket is alive when it runs).
    virtual void request(std::string_view line, ReplyFn fn) = 0;
    // Sends `signo` as is; 0, or a negative errno.
    virtual int signal(int signo) = 0;

  protected:
    ~OpBucket() = default;
};

// kvd's own figures for `status`.
struct DaemonStatus {
    uint64_t uptime_ms = 0;
    std::size_t buckets = 0;
    std::size_t handlers = 0;
    std::size_t subscriptions = 0;
    uint64_t last_seq = 0;
    std::string boot;
    std::string tree;    // how a child's tree is ended: "cgroup" or "process-group"
    std::string limits;  // how limits apply: "memory=cgroup tasks=rlimit cpu=none" and the like
};

class OpHost {
  public:
    virtual ~OpHost() = default;

    // Refused with `unavailable` for ops that change state, once true.
    virtual bool shutting_down() const = 0;

    // ---- the registry
    virtual OpBucket* find_bucket(std::string_view name) = 0;
    // Every bucket, by name.
    virtual std::vector<const OpBucket*> buckets() const = 0;
    // `done` gets the `create` result, now or later.
    virtual void create_bucket(const std::string& name, OutcomeFn done) = 0;
    // `bucket` is one find_bucket() returned; `done` gets the `stop` result once it exited.
    virtual void stop_bucket(OpBucket& bucket, std::optional<Millis> timeout, OutcomeFn done) = 0;

    // ---- events
    virtual uint64_t last_seq() const = 0;
    // Publishes a custom event (seq last_seq() + 1) or refuses it; `delivered` runs once
    // every sync receiver released it, possibly before this returns.
    virtual std::variant<uint64_t, Failure> publish(Event event,
                                                    std::function<void()> delivered) = 0;

    // ---- handlers and kvd itself
    virtual Json handlers_info() const = 0;
    virtual DaemonStatus status() const = 0;
    // Re-reads the config file and applies it (the `reload` result).
    virtual Outcome reload() = 0;
};

// What `subscribe` asked for, its arguments checked.
struct SubscribeRequest {
    HandlerMode mode = HandlerMode::async;
    std::optional<std::vector<std::string>> types;
    std::optional<uint64_t> from_seq;
};

// The client whose request this is.
class OpClient {
  public:
    virtual uint64_t number() const = 0;
    // Turns this client's connection into a stream of events (after the reply to this
    // request), or says why not; on failure it stays an ordinary connection.
    virtual std::optional<Failure> subscribe(const SubscribeRequest& request) = 0;

  protected:
    ~OpClient() = default;
};

}  // namespace kvd
