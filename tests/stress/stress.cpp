// The shared pieces of the stress scenarios (see stress.hpp).
#include "tests/stress/stress.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <set>
#include <sstream>

namespace kvd::stress {

namespace {
const auto g_start = std::chrono::steady_clock::now();
}  // namespace

StressOptions& mutable_options() {
    static StressOptions o;
    return o;
}

const StressOptions& options() {
    return mutable_options();
}

void progress(const char* format, ...) {
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - g_start).count();
    char text[1024];
    va_list args;
    va_start(args, format);
    std::vsnprintf(text, sizeof text, format, args);
    va_end(args);
    std::fprintf(stderr, "[stress +%.1fs] %s\n", elapsed, text);
    std::fflush(stderr);
}

void raise_fd_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

std::vector<pid_t> bucket_children(pid_t parent) {
    std::vector<pid_t> out;
    for (pid_t child : children_of(parent)) {
        std::string name = process_name(child);
        if (name.size() >= 9 && name.compare(name.size() - 9, 9, "kv-bucket") == 0)
            out.push_back(child);
    }
    return out;
}

std::vector<Json> pipeline(Client& client, std::vector<Json> requests, int64_t& next_id,
                           milliseconds timeout, bool closed_ok) {
    std::vector<Json> replies;
    std::string batch;
    const int64_t first_id = next_id;
    for (Json& r : requests) {
        r["id"] = next_id++;
        batch += r.dump();
        batch += '\n';
    }
    if (!client.send_raw(batch, timeout) && !closed_ok) {
        ADD_FAILURE() << "could not send " << requests.size() << " pipelined requests";
    }
    replies.reserve(requests.size());
    for (std::size_t i = 0; i < requests.size(); ++i) {
        auto reply = client.read_json(timeout);
        if (!reply) {
            if (!client.eof()) {
                ADD_FAILURE() << "no reply in time to " << requests[i].dump();
            } else if (!closed_ok) {
                ADD_FAILURE() << "connection closed before the reply to " << requests[i].dump();
            }
            break;
        }
        if (!reply->is_object() || (*reply)["id"] != first_id + static_cast<int64_t>(i)) {
            ADD_FAILURE() << "reply " << reply->dump() << " out of order for "
                          << requests[i].dump();
        }
        replies.push_back(std::move(*reply));
    }
    return replies;
}

std::optional<Event> parse_event(std::string_view line) {
    Json j = Json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("seq") || !j["seq"].is_number_unsigned() ||
        !j.contains("type") || !j["type"].is_string())
        return std::nullopt;
    Event e;
    e.seq = j["seq"].get<uint64_t>();
    e.type = j["type"].get<std::string>();
    if (j.contains("bucket") && j["bucket"].is_string()) e.bucket = j["bucket"].get<std::string>();
    if (j.contains("pid") && j["pid"].is_number_integer()) e.pid = j["pid"].get<pid_t>();
    if (j.contains("reason") && j["reason"].is_string()) e.reason = j["reason"].get<std::string>();
    return e;
}

std::vector<Event> read_event_file(const std::string& path) {
    std::vector<Event> events;
    for (const auto& line : read_lines(path)) {
        if (auto e = parse_event(line))
            events.push_back(std::move(*e));
        else
            ADD_FAILURE() << path << ": not an event: " << line;
    }
    return events;
}

// ---- EventRecorder --------------------------------------------------------------------------

EventRecorder::EventRecorder(const std::string& socket_path, Mode mode, bool keep)
    : client_(socket_path), mode_(mode), keep_(keep) {
    if (!client_.connected()) {
        ADD_FAILURE() << name() << ": " << client_.connect_error();
        return;
    }
    Json reply = client_.call("subscribe", {{"mode", mode == Mode::sync ? "sync" : "async"}});
    subscribed_ = static_cast<bool>(is_ok(reply));
    if (!subscribed_) {
        ADD_FAILURE() << name() << ": subscribe failed: " << reply.dump();
        return;
    }
    thread_ = std::thread([this] { run(); });
}

EventRecorder::~EventRecorder() {
    stop();
}

void EventRecorder::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

std::vector<Event> EventRecorder::events() const {
    std::lock_guard lock(mutex_);
    return events_;
}

void EventRecorder::run() {
    while (!stop_) {
        // A short wait, so that stop() is noticed; kvd closing the connection ends it too.
        auto line = client_.read_line(milliseconds(200));
        if (!line) {
            if (client_.eof()) return;
            continue;
        }
        auto e = parse_event(*line);
        if (!e || e->seq <= last_seq_) {
            ++out_of_order_;
            if (!e) continue;
        }
        if (e->type == "dropped") ++dropped_;
        last_seq_ = std::max(last_seq_.load(), e->seq);
        ++count_;
        if (keep_) {
            std::lock_guard lock(mutex_);
            events_.push_back(std::move(*e));
        }
        if (mode_ == Mode::sync && !client_.send_line("ok")) return;
    }
}

// ---- checks ---------------------------------------------------------------------------------

::testing::AssertionResult check_events(const std::string& receiver,
                                        const std::vector<Event>& events,
                                        const std::map<std::string, Expected>& expected,
                                        EventCounts* counts) {
    std::vector<std::string> problems;
    auto problem = [&](std::string text) {
        if (problems.size() < 20)
            problems.push_back(std::move(text));
        else if (problems.size() == 20)
            problems.push_back("…");
    };
    struct Seen {
        int creates = 0;
        int exits = 0;
        uint64_t create_seq = 0;
        uint64_t exit_seq = 0;
    };
    std::map<std::string, Seen> seen;
    EventCounts local;
    uint64_t last = 0;
    for (const Event& e : events) {
        if (e.seq <= last)
            problem("seq " + std::to_string(e.seq) + " after seq " + std::to_string(last));
        last = std::max(last, e.seq);
        auto it = expected.find(e.bucket);
        if (e.type != "create" && e.type != "exit") {
            problem("unexpected event type '" + e.type + "' at seq " + std::to_string(e.seq));
            continue;
        }
        if (it == expected.end()) {
            problem(e.type + " of unknown bucket '" + e.bucket + "' at seq " +
                    std::to_string(e.seq));
            continue;
        }
        Seen& s = seen[e.bucket];
        if (e.pid != it->second.pid)
            problem(e.type + " of " + e.bucket + " has pid " + std::to_string(e.pid) +
                    ", expected " + std::to_string(it->second.pid));
        if (e.type == "create") {
            ++local.creates;
            if (++s.creates == 1) s.create_seq = e.seq;
        } else {
            ++local.exits;
            if (++s.exits == 1) s.exit_seq = e.seq;
            if (e.reason != "stopped")
                problem("exit of " + e.bucket + " has reason '" + e.reason +
                        "', expected 'stopped'");
        }
    }
    for (const auto& [bucket, want] : expected) {
        Seen s = seen.count(bucket) ? seen[bucket] : Seen{};
        if (s.creates != 1)
            problem(bucket + ": " + std::to_string(s.creates) + " create events, expected 1");
        int want_exits = want.stopped ? 1 : 0;
        if (s.exits != want_exits)
            problem(bucket + ": " + std::to_string(s.exits) + " exit events, expected " +
                    std::to_string(want_exits));
        if (s.creates >= 1 && s.exits >= 1 && s.exit_seq < s.create_seq)
            problem(bucket + ": exit (seq " + std::to_string(s.exit_seq) + ") before create (seq " +
                    std::to_string(s.create_seq) + ")");
    }
    if (counts) *counts = local;
    if (problems.empty()) return ::testing::AssertionSuccess();
    auto failure = ::testing::AssertionFailure();
    failure << receiver << ": " << events.size() << " events, problems:";
    for (const auto& p : problems) failure << "\n  " << p;
    return failure;
}

}  // namespace kvd::stress
