// Shared pieces of the stress scenarios (tests/stress): the counts they run with, progress
// lines, pipelined requests, event recorders (subscribers on their own threads) and the
// checks every receiver's event stream must pass.
//
// The scenarios drive the real kvd through the end-to-end harness (tests/e2e/harness.hpp),
// so its rules hold here too: timeouts are scaled for sanitizer builds, nothing sleeps to let
// things settle, speed is reported and never asserted.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace kvd::stress {

using namespace kvd::test;

// The counts, from the command line (see main.cpp); the defaults are the full run.
struct StressOptions {
    int buckets = 10000;         // load: live buckets grown before the clients start
    int clients = 8;             // load: concurrent clients creating and stopping
    int ops = 1000;              // load: buckets each client creates and stops
    int batch = 16;              // load: buckets a client pipelines at a time
    int cycles = 100000;         // memory: create/put/stop cycles
    int cycle_batch = 32;        // memory: cycles pipelined at a time
    int shutdown_runs = 3;       // shutdown: SIGTERMs under load, each on a fresh kvd
    int shutdown_buckets = 300;  // shutdown: buckets created before the SIGTERM
    int big_events = 400;        // bounds: 1 MB notifies into the history
    int pileup = 4000;           // bounds: requests a client pipelines and leaves unread
    int clients_over = 100;      // bounds: connections beyond max_clients
};

const StressOptions& options();
StressOptions& mutable_options();

// One line on stderr, "[stress +12.3s] …", flushed at once so a user sees the run is alive.
void progress(const char* format, ...) __attribute__((format(printf, 1, 2)));

// Raises this process's open-file soft limit to its hard limit.
void raise_fd_limit();

// The kv-bucket processes whose parent is `parent` (zombies included).
std::vector<pid_t> bucket_children(pid_t parent);

// Writes `requests` in one go (each gets the id next_id, next_id + 1, …) and reads as many
// replies, checking that each echoes its id. Fewer replies than requests means the
// connection closed or the deadline passed (the test has failed then, unless `closed_ok`).
std::vector<Json> pipeline(Client& client, std::vector<Json> requests, int64_t& next_id,
                           milliseconds timeout = 60s, bool closed_ok = false);

// One create or exit event, as a receiver saw it.
struct Event {
    uint64_t seq = 0;
    std::string type;
    std::string bucket;
    pid_t pid = -1;
    std::string reason;  // exit only
};

// An event line parsed; nullopt when it is not an event object with an integer seq.
std::optional<Event> parse_event(std::string_view line);
// The events of a handler's --out file.
std::vector<Event> read_event_file(const std::string& path);

// A subscriber on its own connection and thread, recording every event it receives. A sync
// one answers each event with "ok" (so kvd's operations wait for it). With `keep` false it
// only counts, for runs too long to keep every event.
class EventRecorder {
  public:
    enum class Mode { async, sync };
    EventRecorder(const std::string& socket_path, Mode mode, bool keep = true);
    ~EventRecorder();
    EventRecorder(const EventRecorder&) = delete;
    EventRecorder& operator=(const EventRecorder&) = delete;

    // Whether the subscribe request was answered ok.
    bool subscribed() const { return subscribed_; }
    const char* name() const {
        return mode_ == Mode::sync ? "sync subscriber" : "async subscriber";
    }
    // The highest seq received so far.
    uint64_t last_seq() const { return last_seq_.load(); }
    uint64_t count() const { return count_.load(); }
    // Lines that were not events or whose seq did not increase, and `dropped` events.
    uint64_t out_of_order() const { return out_of_order_.load(); }
    uint64_t dropped() const { return dropped_.load(); }
    std::vector<Event> events() const;
    // Ends the thread (also done by the destructor).
    void stop();

  private:
    void run();

    Client client_;
    Mode mode_;
    bool keep_;
    bool subscribed_ = false;
    std::atomic<bool> stop_{false};
    std::atomic<uint64_t> last_seq_{0};
    std::atomic<uint64_t> count_{0};
    std::atomic<uint64_t> out_of_order_{0};
    std::atomic<uint64_t> dropped_{0};
    mutable std::mutex mutex_;
    std::vector<Event> events_;
    std::thread thread_;
};

// What a receiver must have seen of one bucket: its create with `pid` and, when `stopped`,
// its exit with that pid and reason `stopped`, after the create.
struct Expected {
    pid_t pid = -1;
    bool stopped = false;
};

struct EventCounts {
    std::size_t creates = 0;
    std::size_t exits = 0;
};

// Checks one receiver's stream: seq strictly increasing, only create and exit events, and for
// every bucket in `expected` exactly one create and (if stopped) exactly one exit, create
// first, with the right pid; no event for a bucket not in `expected`. The failure lists the
// first problems found. `counts` gets what was seen.
::testing::AssertionResult check_events(const std::string& receiver,
                                        const std::vector<Event>& events,
                                        const std::map<std::string, Expected>& expected,
                                        EventCounts* counts = nullptr);

}  // namespace kvd::stress
