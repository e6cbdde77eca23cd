// kvd as the benchmark runs it: a daemon in the temporary directory with a config written
// for the run, and a pipelining client for its control socket.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "bench/conn.hpp"
#include "bench/options.hpp"
#include "bench/process.hpp"

namespace kvd::bench {

enum class HandlerKind {
    none,
    ack,         // bench/ack_handler.cpp, sync: acks at once, reports exit receive times
    log_events,  // config/handlers/log-events, sync: the shell loop users start from
};

struct KvdSetup {
    HandlerKind handler = HandlerKind::ack;
    std::string handler_arg;  // ack: the FIFO it reports exit events to; log_events: its log file
    std::size_t max_buckets = 12000;
    std::string extra_toml;  // appended to the config as is (e.g. [[kind]] tables)
};

class KvdServer {
  public:
    // Writes <dir>/<tag>.toml, starts kvd on <dir>/<tag>.sock with its log in <dir>/<tag>.log
    // and waits until it answers (its handlers are started before it accepts clients).
    KvdServer(const Paths& paths, const TempDir& dir, const std::string& tag,
              const KvdSetup& setup);
    ~KvdServer();
    KvdServer(const KvdServer&) = delete;
    KvdServer& operator=(const KvdServer&) = delete;

    const std::string& socket() const { return socket_; }
    const std::string& log_path() const { return log_; }
    pid_t pid() const { return process_->pid(); }
    bool running() { return process_->running(); }
    // Graceful shutdown (SIGTERM stops every bucket first).
    void stop();

  private:
    std::string socket_;
    std::string log_;
    std::unique_ptr<Process> process_;
};

// One connection to kvd's control socket. Requests are written as
// {"id":N,<fields>} and replies are matched in order (kvd answers in request order).
class KvdClient {
  public:
    explicit KvdClient(const std::string& socket) : conn_(socket) {}

    Conn& conn() { return conn_; }
    // Queues one request; `fields` is the inside of the JSON object without the id.
    int64_t send(std::string_view fields);
    // The next reply line (in order), unparsed.
    std::string_view next_reply_line(int64_t deadline_ns);
    // A blocking request; throws BenchError when the reply is not ok.
    nlohmann::json call(std::string_view fields, int64_t timeout_ms = 60'000);

    // Sends `count` requests made by `make(i)` keeping at most `window` unanswered, and hands
    // each reply line to `on_reply(i, line)` in order.
    void pipeline(std::size_t count, std::size_t window,
                  const std::function<std::string(std::size_t)>& make,
                  const std::function<void(std::size_t, std::string_view)>& on_reply,
                  int64_t timeout_ms = 600'000);

    // Pipelined create / stop of many buckets; create returns their pids. A `kind` other than
    // "" goes into each create.
    std::vector<pid_t> create_all(const std::vector<std::string>& names, std::size_t window = 1024,
                                  const std::string& kind = {});
    void stop_all(const std::vector<std::string>& names, std::size_t window = 1024);

  private:
    Conn conn_;
    int64_t next_id_ = 1;
};

// A subscription on a connection of its own: `subscribe` with the given types, then only
// events arrive.
class KvdSubscriber {
  public:
    KvdSubscriber(const std::string& socket, const std::vector<std::string>& types);
    Conn& conn() { return conn_; }
    // Waits for the `exit` event of `bucket`; returns the CLOCK_MONOTONIC time the line was
    // read, or -1 at the deadline.
    int64_t wait_exit_of(const std::string& bucket, int64_t deadline_ns);
    // Discards whatever arrived so far.
    void drain();

  private:
    Conn conn_;
};

// The fields of a create of `bucket` (of `kind`, unless it is "").
std::string create_fields(const std::string& bucket, const std::string& kind = {});

// "ok":true in a reply line, without parsing it.
inline bool reply_ok(std::string_view line) {
    return line.find(R"("ok":true)") != std::string_view::npos;
}

// bucket names b<prefix><i> for i in [0, n).
std::vector<std::string> bucket_names(const std::string& prefix, std::size_t n);

}  // namespace kvd::bench
