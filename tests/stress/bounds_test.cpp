// Bounds: one scenario per way a permitted client could make kvd hold memory, each against a
// fresh kvd with the default settings. Each prints kvd's peak RSS (VmHWM) and fails if it
// reached 256 MiB:
//   history   --big-events 1 MB notifies (the history keeps 32 MiB of them; an async
//             subscriber that reads nothing keeps as much)
//   sync      a sync subscriber that never acknowledges while 1 MB notifies flow: they are
//             refused with `limit` at its 16 MiB backlog until kvd drops it (ack timeout)
//   pileup    a get to a frozen bucket, then --pileup gets of a 256 KiB value whose replies
//             are ready at once and wait behind it
//   unread    4 clients each pipelining --pileup gets of a 64 KiB value, reading nothing
//   clients   max_clients (1024) connections, then --clients-over more, each refused
// Under sanitizers RSS says little (ASan keeps freed memory in quarantine): the figures are
// only reported there.
#include <fmt/format.h>
#include <signal.h>

#include <algorithm>

#include "tests/stress/stress.hpp"

namespace kvd::stress {
namespace {

constexpr long kPeakLimitKib = 256 * 1024;
constexpr std::size_t kBigPayload = 1'000'000;

// A notify request of about 1 MB, built as text: serialising it as JSON each time would cost
// the test more than kvd.
std::string big_notify_line(int64_t id) {
    static const std::string payload(kBigPayload, 'b');
    return R"({"id":)" + std::to_string(id) + R"(,"op":"notify","type":"big","data":")" + payload +
           "\"}\n";
}

// Sends a big notify and returns its reply (null if none came).
Json notify_big(Client& c, int64_t id) {
    if (!c.send_raw(big_notify_line(id), 60s)) return nullptr;
    auto reply = c.read_json(60s);
    if (!reply || (*reply)["id"] != id) {
        ADD_FAILURE() << "no reply to notify " << id;
        return nullptr;
    }
    return *reply;
}

// Prints kvd's peak RSS and checks it against the limit.
void check_peak(KvdProcess& kvd, const char* scenario) {
    const long peak = peak_rss_kib(kvd.pid());
    progress("bounds/%s RESULT: kvd peak RSS %.1f MiB (VmHWM), now %.1f MiB", scenario,
             peak / 1024.0, rss_kib(kvd.pid()) / 1024.0);
    if (kSanitized) {
        progress("bounds/%s: sanitizer build, peak RSS not checked", scenario);
        return;
    }
    EXPECT_GT(peak, 0);
    EXPECT_LT(peak, kPeakLimitKib) << "kvd's peak RSS reached " << peak / 1024 << " MiB";
}

void expect_clean_exit(KvdProcess& kvd) {
    auto exit = kvd.terminate(60s);
    ASSERT_TRUE(exit.has_value()) << "kvd did not exit after SIGTERM";
    EXPECT_TRUE(exit->success()) << exit->describe();
}

// A bucket named `name` holding key "v" with a value of `bytes` bytes.
void make_bucket(Client& c, const std::string& name, std::size_t bytes) {
    ASSERT_TRUE(is_ok(c.call("create", {{"bucket", name}})));
    ASSERT_TRUE(
        is_ok(c.call("put", {{"bucket", name}, {"key", "v"}, {"value", std::string(bytes, 'v')}})));
}

std::string gets(const std::string& bucket, int first_id, int count) {
    std::string burst;
    for (int i = 0; i < count; ++i)
        burst +=
            Json{{"id", first_id + i}, {"op", "get"}, {"bucket", bucket}, {"key", "v"}}.dump() +
            "\n";
    return burst;
}

// Once this get is answered, `bucket` answered everything kvd had sent it before (a bucket
// answers in order): what other clients' requests brought in is in kvd now.
void sync_with(const std::string& socket_path, const std::string& bucket) {
    Client other(socket_path);
    ASSERT_TRUE(is_ok(other.call("get", {{"bucket", bucket}, {"key", "v"}}, 60s)));
}

// Reads the replies id first..first+count-1, each a value of `bytes` bytes. Checked as text:
// parsing a GB of replies would cost the test more than kvd.
void read_values(Client& c, int first, int count, std::size_t bytes) {
    const std::string value_start = R"(,"ok":true,"result":{"value":")";
    for (int id = first; id < first + count; ++id) {
        auto line = c.read_line(60s);
        ASSERT_TRUE(line.has_value()) << "no reply " << id;
        const std::string head = R"({"id":)" + std::to_string(id) + value_start;
        ASSERT_EQ(line->compare(0, head.size(), head), 0)
            << "reply " << id << ": " << line->substr(0, 200);
        ASSERT_EQ(line->size(), head.size() + bytes + 3) << "reply " << id;  // "}}
    }
}

TEST(Bounds, BigEventsFillTheHistory) {
    const StressOptions& o = options();
    TempDir dir;
    KvdProcess kvd(dir);
    ASSERT_TRUE(kvd.ready());
    Client idle_subscriber(kvd.socket_path());  // subscribed, reads nothing
    ASSERT_TRUE(is_ok(idle_subscriber.call("subscribe")));
    Client publisher(kvd.socket_path());
    for (int done = 0; done < o.big_events;) {
        const int n = std::min(4, o.big_events - done);
        std::string batch;
        for (int i = 0; i < n; ++i) batch += big_notify_line(done + i);
        ASSERT_TRUE(publisher.send_raw(batch, 60s));
        for (int i = 0; i < n; ++i) {
            auto reply = publisher.read_json(60s);
            ASSERT_TRUE(reply.has_value()) << "no reply to notify " << done + i;
            ASSERT_EQ((*reply)["id"], done + i);
            ASSERT_TRUE(is_ok(*reply));
        }
        done += n;
    }
    Json status = publisher.call("status");
    ASSERT_TRUE(is_ok(status));
    EXPECT_EQ(status["result"]["last_seq"], o.big_events);
    if (o.big_events > 40) {
        Json lost = Client(kvd.socket_path()).call("subscribe", {{"from_seq", 1}});
        EXPECT_TRUE(is_error(lost, "history_lost")) << lost.dump().substr(0, 300);
    }
    progress("bounds/history: %d notifies of 1 MB published", o.big_events);
    check_peak(kvd, "history");
    expect_clean_exit(kvd);
}

TEST(Bounds, NeverAckingSyncSubscriberWhileNotifiesFlow) {
    TempDir dir;
    KvdOptions options;
    // The backlog must fill before the subscriber's 5 s acknowledgement timeout drops it.
    // Under the sanitizers kvd takes a few hundred ms per 1 MB notify, so 16 of them come
    // too close to it: there the bound is 4 MiB.
    if (kSanitized) options.config = "[daemon]\nbacklog_bytes = \"4M\"\n";
    KvdProcess kvd(dir, options);
    ASSERT_TRUE(kvd.ready());
    Client subscriber(kvd.socket_path());  // sync, never acknowledges (reads nothing either)
    ASSERT_TRUE(is_ok(subscriber.call("subscribe", {{"mode", "sync"}})));
    Client publisher(kvd.socket_path());

    // 1 MB notifies until the subscriber's backlog is full.
    int accepted = 0;
    int64_t id = 1;
    Json refused;
    for (int i = 0; i < 300 && refused.is_null(); ++i) {
        Json reply = notify_big(publisher, id++);
        if (is_ok(reply))
            ++accepted;
        else
            refused = reply;
    }
    ASSERT_TRUE(is_error(refused, "limit")) << "no notify refused after " << accepted;
    const std::string message = refused["error"]["message"];
    EXPECT_NE(message.find("sync subscriber"), std::string::npos) << message;
    EXPECT_NE(message.find("backlog_bytes"), std::string::npos) << message;
    progress("bounds/sync: %d notifies accepted, then refused: %s", accepted, message.c_str());

    // They keep coming and are refused until kvd drops the subscriber for not acknowledging
    // within 5 s; then they are taken again.
    int refusals = 1;
    ASSERT_TRUE(wait_until(
        [&] {
            Json reply = notify_big(publisher, id++);
            if (is_ok(reply)) return true;
            EXPECT_TRUE(is_error(reply, "limit")) << reply.dump().substr(0, 300);
            ++refusals;
            return false;
        },
        60s, "a notify to be accepted once the subscriber was dropped"));
    EXPECT_TRUE(subscriber.wait_eof(10s)) << "the subscriber's connection was not closed";
    Json status = publisher.call("status");
    EXPECT_EQ(status["result"]["subscriptions"], 0) << status.dump();
    progress("bounds/sync: %d notifies refused before the subscriber was dropped", refusals);
    check_peak(kvd, "sync");
    expect_clean_exit(kvd);
}

TEST(Bounds, FinishedRepliesPileUpBehindASlowRequest) {
    const StressOptions& o = options();
    constexpr std::size_t kValue = 256 * 1024;
    TempDir dir;
    KvdProcess kvd(dir);
    ASSERT_TRUE(kvd.ready());
    Client setup(kvd.socket_path());
    ASSERT_NO_FATAL_FAILURE(make_bucket(setup, "big", kValue));
    Json frozen = setup.call("create", {{"bucket", "frozen"}});
    ASSERT_TRUE(is_ok(frozen));
    const pid_t frozen_pid = frozen["result"]["pid"];
    ASSERT_EQ(::kill(frozen_pid, SIGSTOP), 0);

    Client c(kvd.socket_path());
    std::string burst =
        Json{{"id", 0}, {"op", "get"}, {"bucket", "frozen"}, {"key", "v"}}.dump() + "\n";
    burst += gets("big", 1, o.pileup);
    ASSERT_TRUE(c.send_raw(burst, 60s));
    ASSERT_NO_FATAL_FAILURE(sync_with(kvd.socket_path(), "big"));
    progress(
        "bounds/pileup: 1 get to a frozen bucket and %d gets of %zu KiB behind it sent, "
        "none read; kvd RSS %.1f MiB",
        o.pileup, kValue / 1024, rss_kib(kvd.pid()) / 1024.0);

    ASSERT_EQ(::kill(frozen_pid, SIGCONT), 0);
    auto head = c.read_json(60s);
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ((*head)["id"], 0);  // not_found, or timeout if the bucket stayed frozen 5 s
    read_values(c, 1, o.pileup, kValue);
    check_peak(kvd, "pileup");
    expect_clean_exit(kvd);
}

TEST(Bounds, ClientsPipelineWithoutReading) {
    const StressOptions& o = options();
    constexpr std::size_t kValue = 64 * 1024;
    constexpr int kClients = 4;
    TempDir dir;
    KvdProcess kvd(dir);
    ASSERT_TRUE(kvd.ready());
    Client setup(kvd.socket_path());
    ASSERT_NO_FATAL_FAILURE(make_bucket(setup, "big", kValue));

    std::vector<std::unique_ptr<Client>> clients;
    const std::string burst = gets("big", 1, o.pileup);
    for (int i = 0; i < kClients; ++i) {
        clients.push_back(std::make_unique<Client>(kvd.socket_path()));
        ASSERT_TRUE(clients.back()->send_raw(burst, 60s));
    }
    ASSERT_NO_FATAL_FAILURE(sync_with(kvd.socket_path(), "big"));
    progress(
        "bounds/unread: %d clients sent %d gets of %zu KiB each, reading nothing; kvd RSS "
        "%.1f MiB",
        kClients, o.pileup, kValue / 1024, rss_kib(kvd.pid()) / 1024.0);
    for (auto& c : clients) read_values(*c, 1, o.pileup, kValue);
    check_peak(kvd, "unread");
    expect_clean_exit(kvd);
}

TEST(Bounds, MaxClientsAndMore) {
    const StressOptions& o = options();
    constexpr int kMaxClients = 1024;  // the default
    TempDir dir;
    KvdProcess kvd(dir);
    ASSERT_TRUE(kvd.ready());
    std::vector<std::unique_ptr<Client>> served;
    for (int i = 0; i < kMaxClients; ++i) {
        served.push_back(std::make_unique<Client>(kvd.socket_path()));
        ASSERT_TRUE(served.back()->connected()) << served.back()->connect_error();
        ASSERT_TRUE(is_ok(served.back()->call("ping"))) << "client " << i;
    }
    int refused = 0;
    for (int i = 0; i < o.clients_over; ++i) {
        Client over(kvd.socket_path());
        auto line = over.read_json(30s);
        if (line && is_error(*line, "limit") && over.wait_eof(30s)) ++refused;
    }
    EXPECT_EQ(refused, o.clients_over);
    for (auto& c : served) ASSERT_TRUE(is_ok(c->call("ping")));
    progress("bounds/clients: %d clients served, %d more refused with limit", kMaxClients, refused);
    check_peak(kvd, "clients");
    served.clear();
    expect_clean_exit(kvd);
}

}  // namespace
}  // namespace kvd::stress
