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
#include "daemon/logs/log_line.hpp"
#include "daemon/outcome.hpp"
#include "daemon/proc/usage.hpp"

namespace kvd {

// How a bucket's last process ended, as `list` shows it.
struct LastExit {
    std::optional<int> code;    // when it exited
    std::optional<int> signal;  // when a signal ended it
    std::string reason;         // exited | stopped | killed
    WallTime time{};
};

// A bucket's supervision, for `list`.
struct BucketInfo {
    std::string_view state;  // starting | running | stopping | backoff | failed
    uint64_t restarts = 0;
    std::optional<LastExit> last_exit;
    std::optional<WallTime> started;          // with a process
    std::optional<proc::ProcessUsage> usage;  // with a process whose /proc entry could be read
};

// One bucket of the registry, as the ops see it. It may have no process for a while (waiting
// to be restarted, or failed).
class OpBucket {
  public:
    // Why a request got no reply line.
    enum class NoReply { gone, timed_out, backlogged };
    // A reply line from the process, or why there is none.
    using ReplyFn = std::function<void(std::variant<std::string_view, NoReply> reply)>;

    virtual const std::string& name() const = 0;
    // Its process, 0 when it has none.
    virtual pid_t pid() const = 0;
    virtual WallTime started() const = 0;
    virtual bool has_process() const = 0;
    // Whether its kind speaks the bucket protocol (put/get/delete/keys).
    virtual bool serves_data() const = 0;
    virtual const std::string& kind_name() const = 0;
    // starting | running | stopping | backoff | failed
    virtual std::string_view state_name() const = 0;
    // For `list`: reads the process's usage from /proc, so not for every request.
    virtual BucketInfo info() const = 0;
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

// The captured output of one bucket (daemon/logs/bucket_log.hpp), as `logs` sees it.
class OpLog {
  public:
    virtual const std::string& bucket() const = 0;
    // The newest `n` lines kept (of stream `only`, if given), oldest first; valid until the
    // log changes.
    virtual std::vector<const logs::LogEntry*> tail(std::size_t n,
                                                    std::optional<logs::Stream> only) const = 0;
    // Lines lost or cut so far (README "Logs").
    virtual uint64_t dropped() const = 0;
    // The latest process's `stream` goes to /dev/null: kvd's open file limit had no room
    // for its pipe (proc/fd_budget.hpp).
    virtual bool uncaptured(logs::Stream stream) const = 0;

  protected:
    ~OpLog() = default;
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
    // kvd's open file limit and how the children use it (proc/fd_budget.hpp).
    struct Descriptors {
        std::size_t limit = 0;
        std::size_t for_buckets = 0;  // the children's share of the limit
        std::size_t in_use = 0;       // by the children
        std::size_t pidfds = 0;
        std::size_t without_pidfd = 0;      // children whose exits are found at SIGCHLD
        std::size_t stderr_uncaptured = 0;  // live buckets whose stderr goes to /dev/null
    } descriptors;
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
    // `done` gets the `create` result, now or later. `kind` empty: the built-in kind.
    virtual void create_bucket(const std::string& name, const std::string& kind,
                               OutcomeFn done) = 0;
    // Stops the bucket's process and starts it again (the `restart` result), or starts one
    // now for a bucket waiting to restart or failed.
    virtual void restart_bucket(OpBucket& bucket, std::optional<Millis> timeout,
                                OutcomeFn done) = 0;
    // `bucket` is one find_bucket() returned; `done` gets the `stop` result once it exited.
    virtual void stop_bucket(OpBucket& bucket, std::optional<Millis> timeout, OutcomeFn done) = 0;
    // The captured output of the bucket `name`, live or gone a short while; null if none.
    virtual OpLog* find_log(std::string_view name) = 0;

    // ---- events
    virtual uint64_t last_seq() const = 0;
    // Publishes a custom event (seq last_seq() + 1) or refuses it; `delivered` runs once
    // every sync receiver released it, possibly before this returns.
    virtual std::variant<uint64_t, Failure> publish(Event event,
                                                    std::function<void()> delivered) = 0;

    // ---- handlers and kvd itself
    virtual Json handlers_info() const = 0;
    virtual DaemonStatus status() const = 0;
    // kvd's figures in the Prometheus text exposition format (the `metrics` result).
    virtual std::string metrics_text() const = 0;
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
    // Turns this client's connection into a stream of `log`'s further lines (after the reply
    // to this request), or says why not.
    virtual std::optional<Failure> follow_log(OpLog& log, std::optional<logs::Stream> only) = 0;

  protected:
    ~OpClient() = default;
};

}  // namespace kvd
