// kvd's configuration as a plain struct, and the loader that fills it (README "Configuration"): the
// TOML front end (config/toml_front.hpp) parses the text, the schema (config/schema.cpp) checks
// kvd's keys. The loader does no I/O besides reading the file; every error names
// FILE:LINE:COLUMN.
// What only the system can tell (does the group exist, can the programs run) is checked
// after loading by check_runnable (daemon/config_check.hpp).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/duration.hpp"
#include "common/size.hpp"

namespace kvd {

enum class HandlerMode { sync, async };
enum class RestartPolicy { always, on_failure, never };

std::string_view handler_mode_name(HandlerMode m);
std::string_view restart_policy_name(RestartPolicy p);

struct HandlerConfig {
    std::string name;
    std::vector<std::string> command;  // argv; command[0] resolved as config/schema.cpp says
    HandlerMode mode = HandlerMode::sync;
    std::optional<std::vector<std::string>> events;  // nullopt: every type
    Millis ack_timeout{5000};
    std::size_t queue = 1000;  // async only: writing it on a sync handler is an error
    RestartPolicy restart = RestartPolicy::always;
    Millis restart_delay{100};
    Millis restart_delay_max{30000};
    std::map<std::string, std::string> env;

    bool operator==(const HandlerConfig&) const = default;
};

// How a kind's buckets are restarted when their process ends (OTP's names): temporary never,
// transient after an abnormal end (an exit code other than 0, or a signal), permanent always.
// A stop that was asked for is never followed by a restart.
enum class KindRestart { temporary, transient, permanent };
// When a bucket counts as started: once spawned, or once it sent READY=1 (sd_notify).
enum class Readiness { spawn, notify };

std::string_view kind_restart_name(KindRestart r);
std::string_view readiness_name(Readiness r);

// The built-in kind: `[bucket] program` (kv-bucket) with the seed's behaviour.
inline constexpr std::string_view kDefaultKind = "kv-bucket";

// A `[[kind]]` table: a program kvd runs as a bucket, and how it supervises it.
struct KindConfig {
    std::string name;
    // argv; each "{name}" in an argument is replaced by the bucket's name.
    std::vector<std::string> command;
    std::map<std::string, std::string> env;
    std::optional<std::string> cwd;
    std::optional<std::string> user;  // kvd running as root only
    KindRestart restart = KindRestart::temporary;
    Millis restart_delay{100};
    Millis restart_delay_max{30000};
    std::size_t max_restarts = 5;  // within restart_window; more and the bucket is `failed`
    Millis restart_window{60000};
    Millis stable_after{10000};          // a run this long resets the backoff to restart_delay
    int stop_signal = 15;                // SIGTERM
    std::optional<Millis> stop_timeout;  // nullopt: [bucket] stop_timeout
    Readiness ready = Readiness::spawn;
    Millis ready_timeout{10000};
    bool data = false;  // speaks the bucket protocol on stdin/stdout
    std::optional<std::uint64_t> memory_max;
    std::optional<std::uint64_t> tasks_max;
    std::optional<std::uint32_t> cpu_weight;

    bool operator==(const KindConfig&) const = default;
};

// A `[[bucket.start]]` table: a bucket kvd starts at boot and keeps per its kind's policy.
struct BucketStart {
    std::string name;
    std::string kind{kDefaultKind};

    bool operator==(const BucketStart&) const = default;
};

struct DaemonSection {
    std::optional<std::string> socket;
    mode_t socket_mode = 0660;
    std::optional<std::string> socket_group;
    std::size_t max_buckets = 10000;
    // The history ring for subscribe from_seq: at most this many events, in at most this
    // many bytes.
    std::size_t event_history = 10000;
    std::size_t event_history_bytes = 32 * kMiB;
    std::optional<std::string> log_level;  // trace|debug|info|warn|error; nullopt: not set
    std::size_t max_clients = 1024;        // client connections kept at once
    // The bytes of events one receiver (handler or subscriber) may have waiting.
    std::size_t backlog_bytes = 16 * kMiB;
    // The bytes of one client connection's unsent and waiting replies.
    std::size_t client_buffer_bytes = 8 * kMiB;

    bool operator==(const DaemonSection&) const = default;
};

struct BucketSection {
    std::string program = "kv-bucket";
    Millis stop_timeout{5000};
    Millis request_timeout{5000};             // a request the bucket does not answer: timeout
    std::size_t max_reply_bytes = 64 * kMiB;  // the most one bucket reply may carry
    std::vector<BucketStart> start;           // [[bucket.start]]
    // Each bucket's captured output (README "Logs"): log_dir/NAME.log when set, rotated at
    // log_max_size keeping log_keep old files; the newest log_buffer bytes kept in memory.
    std::optional<std::string> log_dir;
    std::size_t log_max_size = 10 * kMiB;
    std::size_t log_keep = 5;
    std::size_t log_buffer = 256 * kKiB;
    bool log_journal = false;

    bool operator==(const BucketSection&) const = default;
};

// [metrics]: the HTTP endpoint serving what `kvctl metrics` prints (README "Metrics").
struct MetricsSection {
    // "HOST:PORT" (an IPv4 address, or an IPv6 one in brackets); nullopt: no endpoint.
    std::optional<std::string> listen;

    bool operator==(const MetricsSection&) const = default;
};

// Why `address` is not a `[metrics] listen` value ("HOST:PORT", HOST an IPv4 address or an
// IPv6 one in brackets, PORT 0 to 65535), or empty when it is one.
std::string listen_address_problem(std::string_view address);

// Where a value was written in the config file (1-based); 0:0 when it was not written.
struct SourcePosition {
    int line = 0;
    int column = 0;
};

struct Config {
    std::string path;  // the file it came from; empty for the built-in defaults
    DaemonSection daemon;
    BucketSection bucket;
    MetricsSection metrics;
    std::vector<HandlerConfig> handlers;
    std::vector<KindConfig> kinds;  // [[kind]], not counting the built-in kv-bucket

    // The kind named `name`, or null (also for the built-in one, which has no table).
    const KindConfig* find_kind(std::string_view name) const;

    // Where the values check_runnable looks at were written, so that its errors point at them
    // as the loader's do. Kept apart from the sections: moving a handler within the file does
    // not make it a changed handler on reload.
    struct Sources {
        SourcePosition socket_group;
        SourcePosition bucket_program;
        SourcePosition bucket_log_dir;
        std::vector<SourcePosition> handler_program;  // command[0] of handlers[i]
        std::vector<SourcePosition> kind_program;     // command[0] of kinds[i]
        std::vector<SourcePosition> kind_cwd;         // cwd of kinds[i] (0:0 if unset)
        std::vector<SourcePosition> kind_user;        // user of kinds[i] (0:0 if unset)
    } sources;
};

struct ConfigError {
    std::string file;
    int line = 0;    // 1-based; 0 when the error is about the whole file
    int column = 0;  // 1-based; 0 when unknown
    std::string message;

    // "FILE:LINE:COLUMN: message"
    std::string to_string() const;
};

using ConfigResult = std::variant<Config, std::vector<ConfigError>>;

// `message` with control characters escaped ("\n", "\x01"), so that an error quoting the
// user's strings stays one line.
std::string config_message_line(std::string_view message);

// Parses TOML text; `filename` is used in error messages and to resolve relative paths.
ConfigResult parse_config(std::string_view text, const std::string& filename);

// Every key the schema accepts in the tables `text` has, as "key" for the top level and
// "section.key" inside one ("daemon.socket", "handler.mode"), sorted: the list the man page
// test checks kvd.toml(5) against. Empty when `text` is not TOML.
std::vector<std::string> config_schema_keys(std::string_view text);

// Reads and parses a file; a file that cannot be read is one error with line 0.
ConfigResult load_config_file(const std::string& path);

}  // namespace kvd
