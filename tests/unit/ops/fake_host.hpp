// Fakes of what the ops reach (daemon/ops/host.hpp), for the ops' unit tests and the request
// fuzzer: buckets that record the lines sent to them and answer as told, a registry that
// creates and stops at once, and an event log.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/ops/ops.hpp"

namespace kvd::testing {

class FakeBucket final : public OpBucket {
  public:
    FakeBucket(std::string name, pid_t pid) : name_(std::move(name)), pid_(pid) {}

    const std::string& name() const override { return name_; }
    pid_t pid() const override { return pid_; }
    WallTime started() const override { return WallTime{}; }
    bool stop_requested() const override { return stopping; }
    Millis request_timeout() const override { return Millis(5000); }
    void request(std::string_view line, ReplyFn fn) override {
        lines.emplace_back(line);
        if (answer)
            fn(std::string_view(*answer));
        else if (no_reply)
            fn(*no_reply);
        else
            pending.push_back(std::move(fn));
    }
    int signal(int signo) override {
        signals.push_back(signo);
        return signal_result;
    }
    bool has_process() const override { return state == "running" || state == "starting"; }
    bool serves_data() const override { return data; }
    const std::string& kind_name() const override { return kind; }
    std::string_view state_name() const override { return state; }
    BucketInfo info() const override {
        BucketInfo i;
        i.state = state;
        i.restarts = restarts;
        // Started in the future (2100): its uptime reads 0 whenever `list` runs, so that two
        // runs of the same requests (the request fuzzer's) answer alike.
        if (has_process()) i.started = WallTime{} + std::chrono::hours(24 * 365 * 130);
        return i;
    }

    // How it answers: with `answer` when set, else with `no_reply` when set, else not yet
    // (the reply function waits in `pending`).
    std::optional<std::string> answer;
    std::optional<NoReply> no_reply;
    bool stopping = false;
    int signal_result = 0;
    bool data = true;
    std::string kind = "kv-bucket";
    std::string state = "running";
    uint64_t restarts = 0;

    std::vector<std::string> lines;
    std::vector<ReplyFn> pending;
    std::vector<int> signals;

  private:
    std::string name_;
    pid_t pid_;
};

// A bucket's captured lines, as `logs` reads them.
class FakeLog final : public OpLog {
  public:
    explicit FakeLog(std::string name) : name_(std::move(name)) {}
    const std::string& bucket() const override { return name_; }
    std::vector<const logs::LogEntry*> tail(std::size_t n,
                                            std::optional<logs::Stream> only) const override {
        std::vector<const logs::LogEntry*> out;
        for (auto it = entries.rbegin(); it != entries.rend() && out.size() < n; ++it)
            if (!only || it->stream == *only) out.push_back(&*it);
        return {out.rbegin(), out.rend()};
    }
    uint64_t dropped() const override { return dropped_lines; }
    bool uncaptured(logs::Stream stream) const override {
        return stream == logs::Stream::err && stderr_uncaptured;
    }

    std::vector<logs::LogEntry> entries;
    uint64_t dropped_lines = 0;
    bool stderr_uncaptured = false;

  private:
    std::string name_;
};

class FakeHost final : public OpHost {
  public:
    FakeLog& add_log(const std::string& name) {
        auto& slot = logs_[name];
        slot = std::make_unique<FakeLog>(name);
        return *slot;
    }
    FakeBucket& add_bucket(const std::string& name, pid_t pid) {
        auto& slot = buckets_[name];
        slot = std::make_unique<FakeBucket>(name, pid);
        return *slot;
    }
    FakeBucket* bucket(std::string_view name) {
        auto it = buckets_.find(name);
        return it == buckets_.end() ? nullptr : it->second.get();
    }

    bool shutting_down() const override { return shutting; }
    OpBucket* find_bucket(std::string_view name) override { return bucket(name); }
    std::vector<const OpBucket*> buckets() const override {
        std::vector<const OpBucket*> all;
        for (const auto& [name, b] : buckets_) all.push_back(b.get());
        return all;
    }
    void create_bucket(const std::string& name, const std::string& kind, OutcomeFn done) override {
        created.push_back(name);
        created_kinds.push_back(kind);
        bool fresh = !bucket(name);
        FakeBucket& b = fresh ? add_bucket(name, next_pid++) : *bucket(name);
        done(Json{{"bucket", name}, {"pid", b.pid()}, {"created", fresh}});
    }
    void restart_bucket(OpBucket& b, std::optional<Millis> timeout, OutcomeFn done) override {
        restarted.push_back({b.name(), timeout});
        auto& fb = static_cast<FakeBucket&>(b);
        ++fb.restarts;
        done(Json{{"bucket", b.name()}, {"pid", b.pid()}, {"restarts", fb.restarts}});
    }
    void stop_bucket(OpBucket& b, std::optional<Millis> timeout, OutcomeFn done) override {
        stopped.push_back({b.name(), timeout});
        Json result{{"bucket", b.name()}, {"pid", b.pid()}, {"reason", "stopped"}};
        buckets_.erase(b.name());
        done(std::move(result));
    }
    OpLog* find_log(std::string_view name) override {
        auto it = logs_.find(name);
        return it == logs_.end() ? nullptr : it->second.get();
    }
    uint64_t last_seq() const override { return seq; }
    std::variant<uint64_t, Failure> publish(Event event, std::function<void()> delivered) override {
        if (refuse_publish) return *refuse_publish;
        event.seq = ++seq;
        published.push_back(event);
        if (hold_delivery)
            undelivered.push_back(std::move(delivered));
        else
            delivered();
        return event.seq;
    }
    Json handlers_info() const override { return handlers; }
    DaemonStatus status() const override {
        return {1234,
                buckets_.size(),
                2,
                3,
                seq,
                "00112233445566778899aabbccddeeff",
                "process-group",
                "memory=rlimit tasks=rlimit cpu=none",
                {20000, 17952, 12000, 100, 3, 2}};
    }
    std::string metrics_text() const override { return metrics; }
    Outcome reload() override {
        ++reloads;
        return reload_result;
    }

    bool shutting = false;
    std::string metrics = "# TYPE kvd_event_seq gauge\nkvd_event_seq 0\n";
    pid_t next_pid = 1000;
    std::vector<std::string> created;
    std::vector<std::string> created_kinds;
    std::vector<std::pair<std::string, std::optional<Millis>>> restarted;
    std::vector<std::pair<std::string, std::optional<Millis>>> stopped;
    uint64_t seq = 0;
    std::vector<Event> published;
    std::optional<Failure> refuse_publish;
    // Sync receivers that have not released the events yet: each event's `delivered`.
    bool hold_delivery = false;
    std::vector<std::function<void()>> undelivered;
    Json handlers = Json::array();
    Outcome reload_result =
        Json{{"started", Json::array()}, {"stopped", Json::array()}, {"restarted", Json::array()}};
    int reloads = 0;

  private:
    std::map<std::string, std::unique_ptr<FakeBucket>, std::less<>> buckets_;
    std::map<std::string, std::unique_ptr<FakeLog>, std::less<>> logs_;
};

class FakeClient final : public OpClient {
  public:
    uint64_t number() const override { return 7; }
    std::optional<Failure> subscribe(const SubscribeRequest& request) override {
        if (refuse) return refuse;
        subscriptions.push_back(request);
        return std::nullopt;
    }

    std::optional<Failure> follow_log(OpLog& log, std::optional<logs::Stream> only) override {
        if (refuse) return refuse;
        follows.emplace_back(log.bucket(), only);
        return std::nullopt;
    }

    std::optional<Failure> refuse;
    std::vector<SubscribeRequest> subscriptions;
    std::vector<std::pair<std::string, std::optional<logs::Stream>>> follows;
};

// Takes the reply lines of the requests it numbered.
class ReplyRecorder final : public ReplySink {
  public:
    void complete(uint64_t serial, std::string&& line) override {
        ++answers[serial];
        lines[serial] = std::move(line);
    }
    std::map<uint64_t, std::string> lines;
    std::map<uint64_t, int> answers;
};

// Runs one request line; the recorder gets its reply (now, or when the fake answers later).
inline uint64_t dispatch(FakeHost& host, FakeClient& client,
                         const std::shared_ptr<ReplyRecorder>& recorder, std::string_view line,
                         Parser parser = Parser::fastest) {
    static uint64_t serial = 0;
    uint64_t mine = ++serial;
    dispatch_request(host, client, line, Responder(recorder, mine, "null"), parser);
    return mine;
}

}  // namespace kvd::testing
