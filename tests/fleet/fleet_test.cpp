// The fleet end to end: real nats-server processes (one, or a three-node cluster), real kvd
// daemons with kvd-nats as their sync handler, and what a user of the fleet sees: the
// KVD_EVENTS stream holds every event exactly once, the kvd-registry KV follows each host's
// buckets, and kvfleet answers from both.
//
// Sizes: the three-host scenarios create $KVD_FLEET_BUCKETS buckets each (default 200, spread
// over the hosts, half of them then killed); `make fleet-test-full` runs them with 1,000.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <thread>

#include "fleet/connection.hpp"
#include "tests/fleet/nats_servers.hpp"

namespace kvd::test {
namespace {

int bucket_count() {
    const char* env = std::getenv("KVD_FLEET_BUCKETS");
    int n = env != nullptr ? std::atoi(env) : 0;
    return n > 0 ? n : 200;
}

#define SKIP_WITHOUT_NATS()                                                        \
    do {                                                                           \
        if (nats_server_path().empty())                                            \
            GTEST_SKIP() << "nats-server is not installed (scripts/deps.sh nats)"; \
    } while (0)

// (host, type, bucket) -> how many times the stream holds it.
std::map<std::tuple<std::string, std::string, std::string>, int> tally(
    const std::vector<Json>& events) {
    std::map<std::tuple<std::string, std::string, std::string>, int> out;
    for (const auto& e : events)
        if (e.is_object()) ++out[{e.value("host", ""), e.value("type", ""), e.value("bucket", "")}];
    return out;
}

// One host: its own directory, kvd and a client.
struct Host {
    explicit Host(std::string n) : name(std::move(n)) {}
    std::string name;
    std::unique_ptr<TempDir> dir = std::make_unique<TempDir>();
    std::unique_ptr<KvdProcess> kvd;
    std::unique_ptr<Client> client;

    void start(const std::string& config) {
        client.reset();
        kvd.reset();
        KvdOptions o;
        o.config = config;
        kvd = std::make_unique<KvdProcess>(*dir, o);
        client = std::make_unique<Client>(kvd->socket_path());
    }
    pid_t forwarder_pid() { return handler_info(*client, "nats").value("pid", -1); }
    // Every event kvd published has been acked by kvd-nats.
    bool drained() {
        Json h = handler_info(*client, "nats");
        return h.value("state", "") == "running" && h.value("queued", -1) == 0;
    }
    std::map<std::string, int64_t> list() {
        std::map<std::string, int64_t> out;
        Json r = client->call("list");
        for (const auto& b : r["result"]["buckets"])
            out[b["bucket"].get<std::string>()] = b["pid"].get<int64_t>();
        return out;
    }
};

// What the registry holds for `host`: bucket -> pid.
std::map<std::string, int64_t> registry_of(const std::map<std::string, Json>& registry,
                                           const std::string& host) {
    std::map<std::string, int64_t> out;
    for (const auto& [bucket, e] : registry)
        if (e.value("host", "") == host) out[bucket] = e.value("pid", int64_t{-1});
    return out;
}

TEST(FleetSingleHost, EventsReachTheStreamOnceAndTheRegistryFollowsTheBucket) {
    SKIP_WITHOUT_NATS();
    TempDir dir;
    NatsCluster nats(dir, 1);
    ASSERT_TRUE(nats.wait_ready());
    Host h1("h1");
    h1.start(fleet_config("h1", nats.urls()));
    ASSERT_TRUE(h1.kvd->ready());

    ASSERT_TRUE(is_ok(h1.client->call("create", {{"bucket", "shopping"}})));
    ASSERT_TRUE(is_ok(h1.client->call("create", {{"bucket", "a.b:c"}})));
    pid_t pid = pid_in(h1.client->call("lookup", {{"bucket", "shopping"}}));
    // `create` replies after kvd-nats acked its event, which it does after the PubAck and the
    // registry write: both are there now, no waiting.
    auto registry = read_registry_entries(nats.urls());
    ASSERT_EQ(registry.count("shopping"), 1u);
    EXPECT_EQ(registry["shopping"]["host"], "h1");
    EXPECT_EQ(registry["shopping"]["pid"], pid);
    EXPECT_EQ(registry["shopping"]["kind"], "kv-bucket");
    EXPECT_EQ(registry["shopping"]["boot"], h1.client->call("status")["result"]["boot"]);
    EXPECT_EQ(registry.count("a.b:c"), 1u)
        << "a name with '.' and ':' is escaped in its key, not lost";

    RunResult lookup = run_program(kvfleet_path(), {"--nats", nats.url(0), "lookup", "shopping"});
    EXPECT_EQ(lookup.exit_code, 0) << lookup;
    EXPECT_EQ(lookup.out, "h1 " + std::to_string(pid) + "\n");
    RunResult missing = run_program(kvfleet_path(), {"--nats", nats.url(0), "lookup", "nope"});
    EXPECT_EQ(missing.exit_code, 1) << missing;

    ASSERT_TRUE(is_ok(h1.client->call("stop", {{"bucket", "shopping"}})));
    registry = read_registry_entries(nats.urls());
    EXPECT_EQ(registry.count("shopping"), 0u) << "the exit removed the entry";
    EXPECT_EQ(registry.count("a.b:c"), 1u);

    auto events = read_stream(nats.urls());
    auto counts = tally(events);
    EXPECT_EQ(events.size(), 3u);
    EXPECT_EQ((counts[{"h1", "create", "shopping"}]), 1);
    EXPECT_EQ((counts[{"h1", "exit", "shopping"}]), 1);
    EXPECT_EQ((counts[{"h1", "create", "a.b:c"}]), 1);

    // kvfleet events: the stream from its start, as kvd wrote each event plus host and boot.
    RunResult ev = run_program(kvfleet_path(),
                               {"--nats", nats.url(0), "events", "--from", "1", "--count", "3"});
    ASSERT_EQ(ev.exit_code, 0) << ev;
    Json first = Json::parse(ev.out.substr(0, ev.out.find('\n')));
    EXPECT_EQ(first["seq"], 1);
    EXPECT_EQ(first["type"], "create");
    EXPECT_EQ(first["host"], "h1");

    // Control through NATS: read-only ops are served, others refused in kvd's error format.
    RunResult list =
        run_program(kvfleet_path(), {"--nats", nats.url(0), "--json", "ctl", "h1", "list"});
    ASSERT_EQ(list.exit_code, 0) << list;
    EXPECT_EQ(Json::parse(list.out)["buckets"].size(), 1u);
    RunResult stop = run_program(kvfleet_path(),
                                 {"--nats", nats.url(0), "--json", "ctl", "h1", "stop", "a.b:c"});
    EXPECT_EQ(stop.exit_code, 1) << stop;
    EXPECT_EQ(Json::parse(stop.out)["code"], "permission_denied");
    EXPECT_TRUE(h1.client->call("lookup", {{"bucket", "a.b:c"}})["ok"] == true)
        << "the refused stop did nothing";
    RunResult nobody = run_program(kvfleet_path(), {"--nats", nats.url(0), "ctl", "h7", "ping"});
    EXPECT_EQ(nobody.exit_code, 3) << nobody;
}

TEST(FleetSingleHost, NothingIsAckedWhileNatsIsDownAndEverythingArrivesAfter) {
    SKIP_WITHOUT_NATS();
    TempDir dir;
    // The server starts only after kvd: kvd-nats retries, kvd holds the events.
    int port = free_port();
    std::unique_ptr<NatsCluster> nats;  // declared before the host: it outlives kvd's shutdown
    Host h1("h1");
    h1.start(fleet_config("h1", {"nats://127.0.0.1:" + std::to_string(port)}));
    std::unique_ptr<Client> creator = std::make_unique<Client>(h1.kvd->socket_path());
    ASSERT_TRUE(creator->send_json({{"id", 1}, {"op", "create"}, {"bucket", "early"}}));
    ASSERT_TRUE(
        wait_until([&] { return handler_info(*h1.client, "nats").value("delivered", 0) >= 1; }, 10s,
                   "the create event was delivered to kvd-nats"));
    EXPECT_EQ(handler_info(*h1.client, "nats").value("acked", -1), 0) << "no ack without a PubAck";
    EXPECT_EQ(handler_info(*h1.client, "nats").value("queued", 0), 1);

    // Now a server on that port.
    nats = std::make_unique<NatsCluster>(dir, 1, port);
    ASSERT_TRUE(nats->wait_ready());
    auto reply = creator->read_json(20s);
    ASSERT_TRUE(reply.has_value());
    EXPECT_TRUE(is_ok(*reply));
    std::vector<std::string> urls = {"nats://127.0.0.1:" + std::to_string(port)};
    auto counts = tally(read_stream(urls));
    EXPECT_EQ((counts[{"h1", "create", "early"}]), 1);
    EXPECT_EQ(read_registry_entries(urls).count("early"), 1u);
}

// kvd-nats as an async handler: kvd never waits for NATS; while NATS is down, kvd's queue
// for it overflows, and the loss reaches the stream as a `dropped` event whose count makes up
// exactly for the missing events. The creates among them are not lost to the registry:
// kvd-nats reconciles it with kvd's list on `dropped`.
TEST(FleetSingleHost, AsyncModeNeverWaitsAndTellsTheLossWithDropped) {
    SKIP_WITHOUT_NATS();
    TempDir dir;
    int port = free_port();
    std::vector<std::string> urls = {"nats://127.0.0.1:" + std::to_string(port)};
    std::unique_ptr<NatsCluster> nats;  // declared before the host: it outlives kvd's shutdown
    Host h1("h1");
    h1.start(fleet_config("h1", urls, 1, {"--window", "4"}, "mode = \"async\"\nqueue = 10\n"));
    ASSERT_TRUE(h1.kvd->ready());
    // Large events fill the handler's socket, then its queue of 10 overflows: the creates,
    // queued between two floods, are among the oldest and go first.
    const std::string big(32 * 1024, 'x');
    auto flood = [&](int n) {
        for (int i = 0; i < n; ++i)
            ASSERT_TRUE(is_ok(
                h1.client->call("notify", {{"type", "big"}, {"data", {{"i", i}, {"pad", big}}}})));
    };
    flood(20);
    std::map<std::string, int64_t> created;
    for (int i = 0; i < 5; ++i) {
        std::string name = "c" + std::to_string(i);
        Json r = h1.client->call("create", {{"bucket", name}});
        ASSERT_TRUE(is_ok(r)) << r.dump() << " (async: NATS being down holds nothing)";
        created[name] = pid_in(r);
    }
    flood(20);
    const int published = 45;
    ASSERT_GT(handler_info(*h1.client, "nats").value("dropped", 0), 0)
        << handler_info(*h1.client, "nats").dump();

    nats = std::make_unique<NatsCluster>(dir, 1, port);
    ASSERT_TRUE(nats->wait_ready());
    // Every event kvd still had reached the stream, with one `dropped` standing for the rest.
    std::vector<Json> events;
    int stored = 0, lost = 0;
    ASSERT_TRUE(wait_until(
        [&] {
            if (stream_count(urls) <= 0) return false;  // not made yet, or empty
            events = read_stream(urls);
            stored = lost = 0;
            for (const auto& e : events) {
                if (e.value("host", "") != "h1") continue;
                if (e.value("type", "") == "dropped")
                    lost += e.value("count", 0);
                else
                    ++stored;
            }
            return stored + lost == published;
        },
        30s, "the stream to account for all 45 events"))
        << "stored " << stored << ", dropped " << lost;
    EXPECT_GT(lost, 0);
    // The registry has every bucket, including those whose create events were dropped.
    ASSERT_TRUE(wait_until(
        [&] {
            auto registry = read_registry_entries(urls);
            return registry_of(registry, "h1") == created;
        },
        30s, "the registry to hold c0..c4"));
}

TEST(FleetTwoHosts, ANameOnTwoHostsIsReportedAndTheLateExitDeletesNothingOfTheOther) {
    SKIP_WITHOUT_NATS();
    TempDir dir;
    NatsCluster nats(dir, 1);
    ASSERT_TRUE(nats.wait_ready());
    Host h1("h1"), h2("h2");
    h1.start(fleet_config("h1", nats.urls()));
    h2.start(fleet_config("h2", nats.urls()));
    pid_t pid1 = pid_in(h1.client->call("create", {{"bucket", "shared"}}));
    ASSERT_GT(pid1, 0);
    ASSERT_TRUE(is_ok(h2.client->call("create", {{"bucket", "shared"}})));
    auto registry = read_registry_entries(nats.urls());
    EXPECT_EQ(registry["shared"]["host"], "h1") << "the first host's entry is not overwritten";
    EXPECT_EQ(registry["shared"]["pid"], pid1);
    EXPECT_NE(h2.kvd->log().find("bucket 'shared' is registered by host 'h1'"), std::string::npos)
        << h2.kvd->log();
    // h2's bucket ends: its exit must not delete h1's entry.
    ASSERT_TRUE(is_ok(h2.client->call("stop", {{"bucket", "shared"}})));
    registry = read_registry_entries(nats.urls());
    EXPECT_EQ(registry["shared"]["host"], "h1");
    EXPECT_EQ(registry["shared"]["pid"], pid1);
    // Both creates and h2's exit are in the stream, each once.
    auto counts = tally(read_stream(nats.urls()));
    EXPECT_EQ((counts[{"h1", "create", "shared"}]), 1);
    EXPECT_EQ((counts[{"h2", "create", "shared"}]), 1);
    EXPECT_EQ((counts[{"h2", "exit", "shared"}]), 1);
}

TEST(FleetSingleHost, AnExistingStreamConfiguredOtherwiseIsNeverChanged) {
    SKIP_WITHOUT_NATS();
    TempDir dir;
    NatsCluster nats(dir, 1);
    ASSERT_TRUE(nats.wait_ready());
    {
        // Someone made KVD_EVENTS with a one-hour max age and no kvd.> subject.
        fleet::NatsConnection conn;
        fleet::ConnectOptions o;
        o.servers = nats.urls();
        ASSERT_EQ(conn.connect(o), "");
        jsStreamConfig cfg;
        jsStreamConfig_Init(&cfg);
        const char* subjects[] = {"other.>"};
        cfg.Name = "KVD_EVENTS";
        cfg.Subjects = subjects;
        cfg.SubjectsLen = 1;
        cfg.Storage = js_FileStorage;
        cfg.MaxAge = 3600LL * 1000000000;
        jsStreamInfo* si = nullptr;
        ASSERT_EQ(js_AddStream(&si, conn.js(), &cfg, nullptr, nullptr), NATS_OK);
        jsStreamInfo_Destroy(si);
    }
    Host h1("h1");
    h1.start(fleet_config("h1", nats.urls(), 1, {"--stream-mismatch", "refuse"}));
    ASSERT_TRUE(wait_until(
        [&] { return h1.kvd->log().find("stream_mismatch = \"refuse\"") != std::string::npos; },
        10s, "kvd-nats refused the stream"));
    EXPECT_NE(h1.kvd->log().find("its subjects do not include kvd.>"), std::string::npos)
        << h1.kvd->log();
    EXPECT_NE(h1.kvd->log().find("max_age 3600000 ms"), std::string::npos) << h1.kvd->log();
    fleet::NatsConnection conn;
    fleet::ConnectOptions o;
    o.servers = nats.urls();
    ASSERT_EQ(conn.connect(o), "");
    jsStreamInfo* si = nullptr;
    ASSERT_EQ(js_GetStreamInfo(&si, conn.js(), "KVD_EVENTS", nullptr, nullptr), NATS_OK);
    EXPECT_EQ(si->Config->MaxAge, 3600LL * 1000000000) << "the stream is unchanged";
    EXPECT_STREQ(si->Config->Subjects[0], "other.>");
    jsStreamInfo_Destroy(si);
}

// Three hosts h1..h3, each a kvd with kvd-nats, on a three-node NATS cluster (R3 stream and KV).
class FleetThreeHosts : public ::testing::Test {
  protected:
    void SetUp() override {
        if (nats_server_path().empty())
            GTEST_SKIP() << "nats-server is not installed (scripts/deps.sh nats)";
        nats_ = std::make_unique<NatsCluster>(dir_, 3);
        ASSERT_TRUE(nats_->wait_ready());
        urls_ = nats_->urls();
        for (int i = 0; i < 3; ++i) {
            hosts_.push_back(std::make_unique<Host>("h" + std::to_string(i + 1)));
            hosts_.back()->start(fleet_config(hosts_.back()->name, urls_, 3));
            ASSERT_TRUE(hosts_.back()->kvd->ready());
        }
    }
    void TearDown() override {
        for (auto& h : hosts_) h->kvd.reset();
        if (HasFailure() && nats_) std::cerr << nats_->logs();
    }

    // Creates `n` buckets round-robin over the hosts, then kills every second one; `fault` runs
    // once, when half of the creates are done.
    void run_load(int n, const std::function<void()>& fault) {
        for (int i = 0; i < n; ++i) {
            if (i == n / 2 && fault) fault();
            Host& h = *hosts_[static_cast<std::size_t>(i % 3)];
            std::string name = "b" + std::to_string(i);
            Json r = h.client->call("create", {{"bucket", name}}, 60s);
            ASSERT_TRUE(is_ok(r)) << name;
            expected_[{h.name, "create", name}] = 1;
        }
        for (int i = 0; i < n; i += 2) {
            Host& h = *hosts_[static_cast<std::size_t>(i % 3)];
            std::string name = "b" + std::to_string(i);
            ASSERT_TRUE(is_ok(h.client->call("kill", {{"bucket", name}})));
            expected_[{h.name, "exit", name}] = 1;
        }
    }

    // The stream holds each expected event exactly once and nothing else; the registry holds
    // exactly each host's `list`.
    void check_fleet() {
        for (auto& h : hosts_)
            ASSERT_TRUE(wait_until([&] { return h->drained(); }, 60s,
                                   h->name + "'s kvd-nats acked everything"));
        ASSERT_TRUE(wait_until(
            [&] { return stream_count(urls_) >= static_cast<int64_t>(expected_.size()); }, 30s,
            "the stream holds every event"));
        auto counts = tally(read_stream(urls_));
        EXPECT_EQ(counts.size(), expected_.size());
        int wrong = 0;
        for (const auto& [key, n] : counts)
            if (n != 1 || !expected_.count(key)) {
                if (++wrong <= 10)
                    ADD_FAILURE() << std::get<0>(key) << " " << std::get<1>(key) << " "
                                  << std::get<2>(key) << " stored " << n << " times";
            }
        EXPECT_EQ(wrong, 0);
        check_registry();
    }

    void check_registry() {
        auto registry = read_registry_entries(urls_);
        std::size_t total = 0;
        for (auto& h : hosts_) {
            auto local = h->list();
            total += local.size();
            EXPECT_EQ(registry_of(registry, h->name), local)
                << "the registry matches " << h->name << "'s list";
        }
        EXPECT_EQ(registry.size(), total);
    }

    TempDir dir_;
    std::unique_ptr<NatsCluster> nats_;
    std::vector<std::string> urls_;
    std::vector<std::unique_ptr<Host>> hosts_;
    std::map<std::tuple<std::string, std::string, std::string>, int> expected_;
};

TEST_F(FleetThreeHosts, EveryEventOnceAndTheRegistryMatchesEveryList) {
    run_load(bucket_count(), nullptr);
    check_fleet();

    // A kvd that dies leaves its entries behind; its next run's kvd-nats removes them.
    Host& h1 = *hosts_[0];
    ASSERT_FALSE(registry_of(read_registry_entries(urls_), "h1").empty());
    h1.kvd->kill9();
    h1.start(fleet_config("h1", urls_, 3));
    ASSERT_TRUE(is_ok(h1.client->call("create", {{"bucket", "after-restart"}})));
    ASSERT_TRUE(
        wait_until([&] { return registry_of(read_registry_entries(urls_), "h1") == h1.list(); },
                   20s, "h1's registry entries are its new list"));
    check_registry();
}

TEST_F(FleetThreeHosts, AForwarderKilledMidRunLosesAndDuplicatesNothing) {
    run_load(bucket_count(), [&] {
        pid_t pid = hosts_[1]->forwarder_pid();
        ASSERT_GT(pid, 0);
        ASSERT_EQ(kill(pid, SIGKILL), 0);
    });
    check_fleet();
    EXPECT_GE(handler_info(*hosts_[1]->client, "nats").value("restarts", 0), 1);
}

TEST_F(FleetThreeHosts, ANatsNodeKilledMidRunLosesNothing) {
    run_load(bucket_count(), [&] { nats_->kill_node(2); });
    urls_ = nats_->urls();
    check_fleet();
}

}  // namespace
}  // namespace kvd::test
