// kvctl's commands: one short function per command, each building its request,
// talking to kvd through a Client and printing the reply; each returns the exit status.
// The request builders are separate and pure so they can be tested without a socket.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "common/duration.hpp"
#include "common/protocol.hpp"

namespace kvd::ctl {

// What every command needs: where kvd is, how to print, how long to wait.
struct Context {
    std::string socket_path;
    bool json = false;
    Millis timeout{30'000};  // for connecting and for each reply
    std::ostream& out;
    std::ostream& err;
    int wake_fd = -1;       // readable when a stream should end (SIGINT/SIGTERM); -1: none
    bool terminal = false;  // stdout is a terminal (`logs` sets stderr lines apart)
    bool colour = false;    // tables may paint states; never set with --json
};

// The buckets `stop`, `kill` and `restart` act on: names and glob patterns (fnmatch(3): *, ?,
// [...]) as the user gave them, or every bucket. Patterns are matched against kvd's `list`.
struct Targets {
    std::vector<std::string> words{};
    bool all = false;
};

// What a pattern or --all came to: the buckets in the order they will be acted on (the
// words' order, each pattern's matches sorted by name, no bucket twice), and the patterns
// that matched nothing.
struct Expansion {
    std::vector<std::string> buckets;
    std::vector<std::string> unmatched;
};

// Whether `word` is a pattern rather than a name: it holds *, ? or [, which no bucket name can.
bool is_pattern(std::string_view word);
// Whether `targets` needs kvd's list of buckets to be expanded.
bool needs_listing(const Targets& targets);
// Expands `targets` against `listed` (the bucket names kvd has). Names are kept as given,
// whether kvd has them or not: kvd says not_found.
Expansion expand_targets(const Targets& targets, const std::vector<std::string>& listed);

struct LogsOptions {
    std::optional<uint64_t> lines;      // the last N lines; nullopt: kvd's default
    bool follow = false;                // then print lines as they come until kvd closes
    std::optional<std::string> stream;  // "stdout" or "stderr"; nullopt: both
};

struct EventsOptions {
    std::vector<std::string> types;  // empty: every type
    std::optional<uint64_t> from_seq;
    std::optional<uint64_t> count;  // stop after this many events, across reconnections
    bool sync = false;
    // Reconnect when kvd goes away (and wait for it at the start), continuing where the stream
    // left off; without it, losing kvd ends `events` with exit 3.
    bool retry = false;
};

// How long `events --retry` waits between attempts to reach kvd: the first delay, doubled
// after each failure up to the last.
struct RetryDelays {
    Millis first{100};
    Millis max{2000};
};

// Requests as sent, without the id that the Client adds.
Json make_request(std::string_view op);
Json make_bucket_request(std::string_view op, std::string_view bucket);
Json make_key_request(std::string_view op, std::string_view bucket, std::string_view key);
Json make_put_request(std::string_view bucket, std::string_view key, std::string_view value);
Json make_create_request(std::string_view bucket, std::optional<std::string> kind);
Json make_stop_request(std::string_view bucket, std::optional<Millis> timeout);
Json make_restart_request(std::string_view bucket, std::optional<Millis> timeout);
Json make_logs_request(std::string_view bucket, const LogsOptions& options);
// `signal` must already be canonical ("SIGTERM"); see canonical_signal().
Json make_kill_request(std::string_view bucket, std::string_view signal);
Json make_notify_request(std::string_view type, std::optional<Json> data, bool sync);
Json make_subscribe_request(const EventsOptions& options);

// "term", "15", "SIGTERM" -> "SIGTERM"; nullopt for an unknown signal.
std::optional<std::string> canonical_signal(std::string_view name);
// The notify JSON argument; nullopt (and `error`) if it is not one JSON value kvctl can pass
// on: a number too large for a double or nesting deeper than kvd accepts is refused too.
std::optional<Json> parse_json_argument(std::string_view text, std::string* error = nullptr);

// Whether `text` can travel as a JSON string unchanged (valid UTF-8); keys and values that
// cannot would be altered on the way, so kvctl refuses them.
bool is_json_text(std::string_view text);

// Reads everything from `fd` up to end of file (kvctl's stdin for `put BUCKET KEY -`);
// nullopt (and `error`) on a read error or for more than one request line to kvd can hold.
std::optional<std::string> read_value(int fd, std::string* error);

int cmd_ping(Context& ctx);
int cmd_status(Context& ctx);
// `kind`: the [[kind]] to run the buckets as; nullopt: kvd's default (kv-bucket).
int cmd_create(Context& ctx, const std::vector<std::string>& buckets,
               std::optional<std::string> kind = std::nullopt);
int cmd_lookup(Context& ctx, const std::string& bucket);
int cmd_list(Context& ctx);
int cmd_ps(Context& ctx);

// stop, kill and restart act on each target bucket, the requests pipelined on one connection
// (a `list` first when a pattern or --all needs expanding). Exit 0 if every one succeeded, 1 if
// any failed or a pattern matched nothing (one stderr line each, naming the bucket or the
// pattern), 3 if kvd could not be reached. One name given plainly prints as it always did (the
// result, or "kvctl: CODE: MESSAGE"); otherwise each failure is "kvctl: cannot VERB NAME: CODE:
// MESSAGE", and --json prints an array of {"bucket","ok","result"|"error"} (a pattern that
// matched nothing: {"pattern","ok":false,"error"}).
int cmd_stop(Context& ctx, const Targets& targets, std::optional<Millis> timeout);
int cmd_kill(Context& ctx, const Targets& targets, const std::string& signal);
int cmd_restart(Context& ctx, const Targets& targets, std::optional<Millis> timeout);

// Prints a bucket's captured output; with options.follow, the lines that follow too, until kvd
// closes the stream (exit 0) or a signal on ctx.wake_fd (128 + signal). Lost lines are told on
// stderr as "kvctl: N lines lost"; --json prints the line objects (and {"dropped":N}) as JSON
// lines.
int cmd_logs(Context& ctx, const std::string& bucket, const LogsOptions& options);
int cmd_put(Context& ctx, const std::string& bucket, const std::string& key,
            const std::string& value);
int cmd_get(Context& ctx, const std::string& bucket, const std::string& key);
int cmd_delete(Context& ctx, const std::string& bucket, const std::string& key);
int cmd_keys(Context& ctx, const std::string& bucket);
int cmd_notify(Context& ctx, const std::string& type, std::optional<Json> data, bool sync);
// Prints events until --count is reached (0) or a signal on ctx.wake_fd (128 + signal).
// kvd going away is exit 3, unless options.retry: then kvctl reconnects, waiting `delays`
// between attempts, and continues after the last event it printed (or, if kvd restarted,
// from the new run's first event).
int cmd_events(Context& ctx, const EventsOptions& options, RetryDelays delays = {});
int cmd_handlers(Context& ctx);

struct TopOptions {
    Millis interval{1000};  // between refreshes when no event brings one forward
};
// The live view of buckets and handlers (ctl/top.cpp) until q (exit 0) or a signal on
// ctx.wake_fd (128 + signal). It needs a terminal for stdin and stdout (ctx.terminal); without
// one, or with --json, it is a usage error (2). kvd unreachable at the start, gone, or silent
// for ctx.timeout is exit 3, told on stderr once the screen is gone.
int cmd_top(Context& ctx, const TopOptions& options);
int cmd_reload(Context& ctx);
int cmd_metrics(Context& ctx);

}  // namespace kvd::ctl
