// Load: kvd grows to --buckets live buckets, then --clients clients create and stop buckets
// concurrently (each on its own connection, pipelining) while two subscribers (one async, one
// sync that acks) and a sync handler from the config record every event, and one more
// client pings. Afterwards every receiver saw exactly one create and one exit per bucket, in
// order; `list`, `status` and the kv-bucket processes under kvd agree; every ping was answered.
#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <set>

#include "tests/stress/stress.hpp"

namespace kvd::stress {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string live_name(int i) {
    return fmt::format("live-{:05}", i);
}

// Pings kvd on a connection of its own every 100 ms until stopped, timing each answer.
class Pinger {
  public:
    explicit Pinger(const std::string& socket_path) : client_(socket_path) {
        if (!client_.connected())
            ADD_FAILURE() << "pinger: " << client_.connect_error();
        else
            thread_ = std::thread([this] { run(); });
    }
    ~Pinger() { stop(); }

    void stop() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) thread_.join();
    }
    // Valid once stopped.
    const std::vector<double>& latencies_ms() const { return latencies_ms_; }
    int unanswered() const { return unanswered_; }

  private:
    void run() {
        std::unique_lock lock(mutex_);
        while (!stop_) {
            lock.unlock();
            auto t0 = Clock::now();
            // Generous: the point is that kvd answers at all while it is busy.
            Json reply = client_.call("ping", Json::object(), 60s);
            double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
            lock.lock();
            if (is_ok(reply))
                latencies_ms_.push_back(ms);
            else
                ++unanswered_;
            // Pacing between pings, cut short by stop().
            wake_.wait_for(lock, milliseconds(100), [&] { return stop_; });
        }
    }

    Client client_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stop_ = false;
    std::vector<double> latencies_ms_;
    int unanswered_ = 0;
    std::thread thread_;
};

// One busy client: creates its buckets --batch at a time, each pipelined as create, put, get,
// then stop, and checks every reply. Its buckets end up in `out`.
void churn(const std::string& socket_path, int client_no, std::map<std::string, Expected>& out,
           std::atomic<int>& cycles_done) {
    const StressOptions& o = options();
    Client c(socket_path);
    if (!c.connected()) {
        ADD_FAILURE() << "client " << client_no << ": " << c.connect_error();
        return;
    }
    int64_t id = 1;
    for (int start = 0; start < o.ops; start += o.batch) {
        const int n = std::min(o.batch, o.ops - start);
        std::vector<std::string> names;
        std::vector<Json> requests;
        for (int i = 0; i < n; ++i) {
            names.push_back(fmt::format("c{}-{:06}", client_no, start + i));
            requests.push_back({{"op", "create"}, {"bucket", names.back()}});
            requests.push_back(
                {{"op", "put"}, {"bucket", names.back()}, {"key", "k"}, {"value", names.back()}});
            requests.push_back({{"op", "get"}, {"bucket", names.back()}, {"key", "k"}});
        }
        for (const auto& name : names) requests.push_back({{"op", "stop"}, {"bucket", name}});
        auto replies = pipeline(c, std::move(requests), id);
        if (replies.size() != static_cast<std::size_t>(4 * n)) return;  // already a failure
        for (int i = 0; i < n; ++i) {
            const Json& created = replies[3 * i];
            const Json& put = replies[3 * i + 1];
            const Json& got = replies[3 * i + 2];
            const Json& stopped = replies[3 * n + i];
            pid_t pid = pid_in(created);
            bool good = is_ok(created) && created["result"]["created"] == true && pid > 0 &&
                        is_ok(put) && is_ok(got) && got["result"]["value"] == names[i] &&
                        is_ok(stopped) && pid_in(stopped) == pid &&
                        stopped["result"]["reason"] == "stopped";
            if (!good) {
                ADD_FAILURE() << "client " << client_no << ", bucket " << names[i] << ": create "
                              << created.dump() << ", put " << put.dump() << ", get " << got.dump()
                              << ", stop " << stopped.dump();
                return;
            }
            out[names[i]] = {pid, true};
        }
        cycles_done += n;
    }
}

TEST(Load, LiveBucketsBusyClientsAndSubscribers) {
    const StressOptions& o = options();
    TempDir dir;
    const std::string audit_out = dir.file("audit.out");
    Json command = {test_handler_path(), "--out", audit_out, "ack"};
    KvdOptions kvd_options;
    kvd_options.config = fmt::format(
        "[daemon]\nmax_buckets = {}\n\n[[handler]]\nname = \"audit\"\nmode = \"sync\"\ncommand = "
        "{}\n",
        o.buckets + o.clients * o.batch + 16, command.dump());
    KvdProcess kvd(dir, kvd_options);
    ASSERT_TRUE(kvd.ready());
    EventRecorder async_sub(kvd.socket_path(), EventRecorder::Mode::async);
    EventRecorder sync_sub(kvd.socket_path(), EventRecorder::Mode::sync);
    ASSERT_TRUE(async_sub.subscribed() && sync_sub.subscribed());
    std::map<std::string, Expected> expected;

    // 1. Grow to --buckets live buckets, pipelined 100 at a time on one connection.
    const auto grow_start = Clock::now();
    Client control(kvd.socket_path());
    ASSERT_TRUE(control.connected()) << control.connect_error();
    int64_t control_id = 1;
    for (int done = 0, next_report = 1000; done < o.buckets;) {
        const int n = std::min(100, o.buckets - done);
        std::vector<Json> requests;
        for (int i = 0; i < n; ++i)
            requests.push_back({{"op", "create"}, {"bucket", live_name(done + i)}});
        auto replies = pipeline(control, std::move(requests), control_id);
        ASSERT_EQ(replies.size(), static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) {
            ASSERT_TRUE(is_ok(replies[i])) << live_name(done + i);
            expected[live_name(done + i)] = {pid_in(replies[i]), false};
        }
        done += n;
        if (done >= next_report || done == o.buckets) {
            progress("load: %d/%d buckets live (%.0f creates/s), kvd RSS %.1f MiB", done, o.buckets,
                     done / seconds_since(grow_start), rss_kib(kvd.pid()) / 1024.0);
            next_report += 1000;
        }
    }
    const double grow_seconds = seconds_since(grow_start);
    const long rss_full_kib = rss_kib(kvd.pid());

    // 2. The busy clients, watched by the pinger.
    const auto churn_start = Clock::now();
    std::atomic<int> cycles_done{0};
    std::vector<std::map<std::string, Expected>> created(o.clients);
    {
        Pinger pinger(kvd.socket_path());
        std::mutex mutex;
        std::condition_variable finished;
        int running = o.clients;
        std::vector<std::thread> clients;
        for (int c = 0; c < o.clients; ++c) {
            clients.emplace_back([&, c] {
                churn(kvd.socket_path(), c, created[c], cycles_done);
                std::lock_guard lock(mutex);
                --running;
                finished.notify_all();
            });
        }
        {
            std::unique_lock lock(mutex);
            while (
                !finished.wait_for(lock, std::chrono::seconds(5), [&] { return running == 0; })) {
                progress("load: %d/%d client create+stop cycles done (%.0f/s), %d clients busy",
                         cycles_done.load(), o.clients * o.ops,
                         cycles_done.load() / seconds_since(churn_start), running);
            }
        }
        for (auto& t : clients) t.join();
        pinger.stop();
        const double churn_seconds = seconds_since(churn_start);
        std::vector<double> pings = pinger.latencies_ms();
        EXPECT_EQ(pinger.unanswered(), 0) << "pings that got no ok answer within 60 s";
        ASSERT_FALSE(pings.empty()) << "no ping was answered";
        std::sort(pings.begin(), pings.end());
        progress(
            "load RESULT: %d clients x %d create/put/get/stop cycles in %.1f s (%.0f cycles/s) "
            "with %d other buckets live",
            o.clients, o.ops, churn_seconds, o.clients * o.ops / churn_seconds, o.buckets);
        progress("load RESULT: %zu pings answered, latency median %.2f ms, max %.2f ms",
                 pings.size(), pings[pings.size() / 2], pings.back());
    }
    ASSERT_EQ(cycles_done.load(), o.clients * o.ops) << "a client stopped early (see above)";
    for (const auto& m : created) expected.insert(m.begin(), m.end());

    // 3. The registry, `list` and the processes under kvd agree.
    Json list = control.call("list", Json::object(), 60s);
    ASSERT_TRUE(is_ok(list));
    std::map<std::string, pid_t> listed;
    for (const Json& b : list["result"]["buckets"]) listed[b["bucket"]] = b["pid"].get<pid_t>();
    std::map<std::string, pid_t> live;
    for (const auto& [name, e] : expected)
        if (!e.stopped) live[name] = e.pid;
    EXPECT_EQ(listed.size(), static_cast<std::size_t>(o.buckets));
    EXPECT_TRUE(listed == live)
        << "`list` does not hold exactly the buckets created and not stopped";
    std::set<pid_t> listed_pids;
    for (const auto& [name, pid] : listed) listed_pids.insert(pid);
    auto children = bucket_children(kvd.pid());
    EXPECT_EQ(std::set<pid_t>(children.begin(), children.end()), listed_pids)
        << "the kv-bucket processes under kvd are not the listed ones";
    EXPECT_EQ(control.call("status")["result"]["buckets"], o.buckets);

    // 4. Stop every bucket still live; no kv-bucket process is left.
    const auto stop_start = Clock::now();
    std::vector<std::string> names;
    for (const auto& [name, pid] : live) names.push_back(name);
    for (std::size_t done = 0, next_report = 1000; done < names.size();) {
        const std::size_t n = std::min<std::size_t>(100, names.size() - done);
        std::vector<Json> requests;
        for (std::size_t i = 0; i < n; ++i)
            requests.push_back({{"op", "stop"}, {"bucket", names[done + i]}});
        auto replies = pipeline(control, std::move(requests), control_id);
        ASSERT_EQ(replies.size(), n);
        for (std::size_t i = 0; i < n; ++i) {
            ASSERT_TRUE(is_ok(replies[i])) << names[done + i];
            expected[names[done + i]].stopped = true;
        }
        done += n;
        if (done >= next_report || done == names.size()) {
            progress("load: %zu/%zu buckets stopped", done, names.size());
            next_report += 1000;
        }
    }
    const double stop_seconds = seconds_since(stop_start);
    EXPECT_TRUE(wait_until([&] { return bucket_children(kvd.pid()).empty(); }, 10s,
                           "no kv-bucket process left under kvd"));
    Json status = control.call("status");
    EXPECT_EQ(status["result"]["buckets"], 0);

    // 5. Every receiver saw exactly one create and one exit per bucket, in seq order. The
    // sync ones have everything already (each stop replied after their acks); the async one
    // may still be reading.
    const uint64_t last_seq = status["result"]["last_seq"].get<uint64_t>();
    EXPECT_EQ(last_seq, 2 * expected.size())
        << "events published: one create and one exit per bucket";
    EXPECT_TRUE(wait_until([&] { return async_sub.last_seq() >= last_seq; }, 60s,
                           "the async subscriber to receive seq " + std::to_string(last_seq)));
    EXPECT_GE(sync_sub.last_seq(), last_seq);
    async_sub.stop();
    sync_sub.stop();
    EXPECT_EQ(async_sub.dropped(), 0u);
    EXPECT_EQ(async_sub.out_of_order() + sync_sub.out_of_order(), 0u);
    EventCounts a, s, h;
    EXPECT_TRUE(check_events("async subscriber", async_sub.events(), expected, &a));
    EXPECT_TRUE(check_events("sync subscriber", sync_sub.events(), expected, &s));
    EXPECT_TRUE(check_events("sync handler", read_event_file(audit_out), expected, &h));
    progress(
        "load RESULT: %zu buckets; create/exit events seen: async subscriber %zu/%zu, "
        "sync subscriber %zu/%zu, sync handler %zu/%zu; last seq %llu",
        expected.size(), a.creates, a.exits, s.creates, s.exits, h.creates, h.exits,
        static_cast<unsigned long long>(last_seq));
    progress(
        "load RESULT: grew to %d buckets in %.1f s (%.0f creates/s), kvd RSS %.1f MiB; "
        "stopped them in %.1f s",
        o.buckets, grow_seconds, o.buckets / grow_seconds, rss_full_kib / 1024.0, stop_seconds);

    auto exit = kvd.terminate(60s);
    ASSERT_TRUE(exit.has_value()) << "kvd did not exit after SIGTERM";
    EXPECT_TRUE(exit->success()) << exit->describe();
}

}  // namespace
}  // namespace kvd::stress
