// Shutdown under load: clients are busy creating, writing to and stopping buckets when kvd
// gets SIGTERM. kvd must exit 0 within a bound, leave no bucket or handler process behind,
// have delivered an exit event to the sync handler for every bucket it saw created, and every
// client must get replies (ok, or `unavailable` once the shutdown began) or a closed
// connection, never silence. Repeated --shutdown-runs times, each on a fresh kvd.
#include <fmt/format.h>

#include <condition_variable>
#include <set>

#include "tests/stress/stress.hpp"

namespace kvd::stress {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kClients = 4;
constexpr int kBatch = 8;

// How far the clients got, for the test to SIGTERM kvd at the right moment.
struct Progress {
    std::mutex mutex;
    std::condition_variable changed;
    int created = 0;  // guarded by mutex
};

struct ClientLog {
    std::map<std::string, pid_t> created;  // created:true replies
    int replies = 0;
    int unavailable = 0;
    bool closed = false;  // kvd closed the connection
};

// Sends batches of create, put and (for every other bucket) stop until kvd refuses with
// `unavailable` or closes the connection, then reads what is left until kvd closes it. Any
// reply other than ok or unavailable, and any silence past the deadline, fails the test.
void busy_client(const std::string& socket_path, int client_no, ClientLog& log, Progress& tally) {
    Client c(socket_path);
    if (!c.connected()) {
        ADD_FAILURE() << "client " << client_no << ": " << c.connect_error();
        return;
    }
    int64_t id = 1;
    bool refused = false;
    for (int start = 0; !refused && !c.eof(); start += kBatch) {
        std::vector<Json> requests;
        std::vector<std::string> names;
        for (int i = 0; i < kBatch; ++i) {
            names.push_back(fmt::format("s{}-{:06}", client_no, start + i));
            requests.push_back({{"op", "create"}, {"bucket", names.back()}});
            requests.push_back(
                {{"op", "put"}, {"bucket", names.back()}, {"key", "k"}, {"value", "v"}});
            if (i % 2 == 0) requests.push_back({{"op", "stop"}, {"bucket", names.back()}});
        }
        const std::size_t sent = requests.size();
        auto replies = pipeline(c, std::move(requests), id, 60s, /*closed_ok=*/true);
        if (replies.size() < sent && !c.eof()) return;  // silence: pipeline() failed the test
        int newly_created = 0;
        std::size_t r = 0;
        for (int i = 0; i < kBatch && r < replies.size(); ++i) {
            const int n_ops = i % 2 == 0 ? 3 : 2;
            for (int k = 0; k < n_ops && r < replies.size(); ++k, ++r) {
                const Json& reply = replies[r];
                ++log.replies;
                if (is_error(reply, "unavailable")) {
                    ++log.unavailable;
                    refused = true;
                } else if (!is_ok(reply)) {
                    ADD_FAILURE() << "client " << client_no
                                  << ": neither ok nor unavailable: " << reply.dump();
                } else if (k == 0 && reply["result"]["created"] == true) {
                    log.created[names[i]] = pid_in(reply);
                    ++newly_created;
                }
            }
        }
        {
            std::lock_guard lock(tally.mutex);
            tally.created += newly_created;
        }
        tally.changed.notify_all();
    }
    // Whatever is still in flight is answered, then kvd closes the connection at exit.
    log.closed = c.wait_eof(60s);
    EXPECT_TRUE(log.closed) << "client " << client_no << ": kvd did not close the connection";
}

TEST(ShutdownUnderLoad, SigtermWhileClientsAreBusy) {
    const StressOptions& o = options();
    for (int run = 1; run <= o.shutdown_runs; ++run) {
        SCOPED_TRACE("run " + std::to_string(run));
        TempDir dir;
        const std::string audit_out = dir.file("audit.out");
        Json command = {test_handler_path(), "--out", audit_out, "ack"};
        KvdOptions kvd_options;
        kvd_options.config = fmt::format(
            "[daemon]\nmax_buckets = 100000\n\n[[handler]]\nname = \"audit\"\nmode = \"sync\"\n"
            "command = {}\n",
            command.dump());
        KvdProcess kvd(dir, kvd_options);
        ASSERT_TRUE(kvd.ready());
        pid_t handler = -1;
        {
            Client c(kvd.socket_path());
            Json reply = c.call("handlers");
            ASSERT_TRUE(is_ok(reply));
            ASSERT_EQ(reply["result"]["handlers"].size(), 1u);
            handler = reply["result"]["handlers"][0]["pid"];
        }
        ASSERT_GT(handler, 0);

        Progress client_progress;
        std::vector<ClientLog> logs(kClients);
        std::vector<std::thread> clients;
        for (int i = 0; i < kClients; ++i)
            clients.emplace_back(
                [&, i] { busy_client(kvd.socket_path(), i, logs[i], client_progress); });

        // SIGTERM once enough buckets were created, while the clients keep going.
        int created_at_term = 0;
        {
            std::unique_lock lock(client_progress.mutex);
            bool enough = client_progress.changed.wait_for(
                lock, scaled(std::chrono::seconds(120)),
                [&] { return client_progress.created >= o.shutdown_buckets; });
            created_at_term = client_progress.created;
            EXPECT_TRUE(enough) << "only " << created_at_term << " buckets created in time";
        }
        std::set<pid_t> under_kvd;
        for (pid_t p : children_of(kvd.pid())) under_kvd.insert(p);
        const int live_at_term = static_cast<int>(bucket_children(kvd.pid()).size());
        const auto term_at = Clock::now();
        kvd.signal(SIGTERM);
        auto exit = kvd.wait_exit(60s);
        const double shutdown_seconds =
            std::chrono::duration<double>(Clock::now() - term_at).count();
        for (auto& t : clients) t.join();
        ASSERT_TRUE(exit.has_value()) << "kvd did not exit within 60 s of SIGTERM";
        EXPECT_TRUE(exit->success()) << exit->describe();
        EXPECT_FALSE(file_exists(kvd.socket_path()));

        // Every process kvd started is gone: buckets and the handler.
        std::map<std::string, pid_t> created;
        int replies = 0, unavailable = 0;
        for (const auto& log : logs) {
            created.insert(log.created.begin(), log.created.end());
            replies += log.replies;
            unavailable += log.unavailable;
        }
        std::vector<Event> events = read_event_file(audit_out);
        for (const Event& e : events)
            if (e.type == "create") under_kvd.insert(e.pid);
        for (const auto& [name, pid] : created) under_kvd.insert(pid);
        under_kvd.insert(handler);
        EXPECT_TRUE(wait_until(
            [&] {
                for (pid_t p : under_kvd)
                    if (process_alive(p)) return false;
                return true;
            },
            10s, "every process kvd started to be gone"));

        // The sync handler has an exit for every create it saw, and a create for every bucket
        // a client was told was created.
        std::map<std::string, Expected> expected;
        for (const Event& e : events)
            if (e.type == "create") expected[e.bucket] = {e.pid, true};
        for (const auto& [name, pid] : created) {
            auto it = expected.find(name);
            EXPECT_TRUE(it != expected.end() && it->second.pid == pid)
                << name << " (pid " << pid
                << ") was created but the sync handler has no create for it";
        }
        EventCounts counts;
        EXPECT_TRUE(check_events("sync handler", events, expected, &counts));
        progress(
            "shutdown RESULT: run %d: SIGTERM with %d buckets live after %d creates; kvd %s "
            "after %.2f s; the sync handler saw %zu creates and %zu exits; clients got %d "
            "replies, %d of them unavailable",
            run, live_at_term, created_at_term, exit ? exit->describe().c_str() : "hung",
            shutdown_seconds, counts.creates, counts.exits, replies, unavailable);
    }
}

}  // namespace
}  // namespace kvd::stress
