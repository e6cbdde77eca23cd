// kvd-fleet-bench: the fleet row of the benchmarks. Starts a nats-server (JetStream, file
// store, R1) and a kvd with kvd-nats as its sync handler in a temporary directory, then
//  - events/s from `notify` through kvd and kvd-nats into JetStream (stored, PubAck'd),
//    against a floor measured in the same run: this process publishing the same payloads
//    with libnats and the same window (1: kvd's sync delivery has one event in flight), and
//    for reference with a window of 256;
//  - the latency kill -> exit event stored in JetStream (seen by a push consumer), against
//    kill -> the same exit event at a subscriber of kvd's own socket, p50/p99.
// Usage: kvd-fleet-bench [--json] [EVENTS [KILLS]] (default 5000 and 300). With --json the
// figures are one JSON object on stdout, for kvd-bench's fleet section (bench/).
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "ctl/client.hpp"
#include "fleet/connection.hpp"

namespace {

using namespace kvd;
using namespace kvd::fleet;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
    pid_t pid = fork();
    if (pid != 0) return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
}

void stop(pid_t pid) {
    kill(pid, SIGTERM);
    for (int i = 0; i < 1000 && waitpid(pid, nullptr, WNOHANG) != pid; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, WNOHANG);
}

uint64_t stream_msgs(jsCtx* js) {
    jsStreamInfo* si = nullptr;
    if (js_GetStreamInfo(&si, js, "KVD_EVENTS", nullptr, nullptr) != NATS_OK) return 0;
    uint64_t n = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    return n;
}

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0
                     : v[std::min(v.size() - 1,
                                  static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

int free_port() {
    // Good enough for a benchmark: nats-server fails loudly if it is taken.
    return 20000 + static_cast<int>(getpid() % 20000);
}

}  // namespace

int main(int argc, char** argv) {
    bool json = argc > 1 && std::string(argv[1]) == "--json";
    if (json) {
        --argc;
        ++argv;
    }
    int events = argc > 1 ? std::atoi(argv[1]) : 5000;
    int kills = argc > 2 ? std::atoi(argv[2]) : 300;
    if (events <= 0 || kills <= 0) {
        std::fprintf(stderr, "usage: kvd-fleet-bench [--json] [EVENTS [KILLS]]\n");
        return 2;
    }
    std::string bin = std::filesystem::canonical("/proc/self/exe").parent_path();
    char tmpl[] = "/tmp/kvd-fleet-bench-XXXXXX";
    std::string dir = mkdtemp(tmpl);
    int port = free_port();
    std::string url = "nats://127.0.0.1:" + std::to_string(port);
    pid_t nats = spawn({"/usr/sbin/nats-server", "-js", "-sd", dir + "/js", "-a", "127.0.0.1", "-p",
                        std::to_string(port)},
                       dir + "/nats.log");
    std::FILE* f = std::fopen((dir + "/kvd.toml").c_str(), "w");
    std::fprintf(f,
                 "[[handler]]\nname = \"nats\"\nmode = \"sync\"\nack_timeout = \"60s\"\ncommand = "
                 "[\"%s/kvd-nats\", \"--server\", \"%s\", \"--host\", \"h1\"]\n",
                 bin.c_str(), url.c_str());
    std::fclose(f);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    pid_t kvd = spawn({bin + "/kvd", "--config", dir + "/kvd.toml", "--socket", dir + "/kvd.sock"},
                      dir + "/kvd.log");
    ctl::Client client;
    for (int i = 0;; ++i) {
        auto e = client.connect(dir + "/kvd.sock", Millis(10000));
        if (!e) break;
        if (i == 100) {
            std::fprintf(stderr, "kvd: %s\n", e->message.c_str());
            return 1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    NatsConnection conn;
    ConnectOptions o;
    o.servers = {url};
    o.reconnect = false;
    for (int i = 0; i < 50 && !conn.connected(); ++i) {
        if (!conn.connect(o).empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    auto call = [&](Json req) {
        int64_t id = client.send(std::move(req));
        Reply r;
        client.read_reply(r, id, Clock::now() + std::chrono::seconds(60));
        return r;
    };
    // kvd-nats has created the stream once the first event is stored.
    call({{"op", "notify"}, {"type", "warmup"}, {"sync", true}});
    uint64_t base = stream_msgs(conn.js());

    // 1. notify -> kvd -> kvd-nats -> JetStream.
    auto start = Clock::now();
    for (int sent = 0; sent < events;) {
        int batch = std::min(500, events - sent);
        std::vector<int64_t> ids;
        for (int i = 0; i < batch; ++i)
            ids.push_back(
                client.send({{"op", "notify"}, {"type", "bench"}, {"data", {{"i", sent + i}}}}));
        for (auto id : ids) {
            Reply r;
            client.read_reply(r, id, Clock::now() + std::chrono::seconds(60));
        }
        sent += batch;
        while (stream_msgs(conn.js()) + 2000 <
               base + static_cast<uint64_t>(sent))  // keep kvd's backlog small
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    while (stream_msgs(conn.js()) < base + static_cast<uint64_t>(events))
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    double kvd_rate = events / seconds_since(start);

    // 2. The floor: the same payloads, straight from libnats, window 1 and 256.
    std::string payload =
        R"({"seq":123456,"type":"bench","data":{"i":1234},"time":"2026-12-02T14:00:00.000000Z","host":"h1","boot":"0123456789abcdef0123456789abcdef"})";
    auto floor = [&](NatsConnection& c, int window) {
        auto t = Clock::now();
        jsPubOptions po;
        jsPubOptions_Init(&po);
        for (int i = 0; i < events; ++i) {
            natsMsg* m = nullptr;
            std::string id = "floor:" + std::to_string(window) + ":" + std::to_string(i);
            natsMsg_Create(&m, "kvd.floor.bench", nullptr, payload.data(),
                           static_cast<int>(payload.size()));
            natsMsgHeader_Set(m, "Nats-Msg-Id", id.c_str());
            if (window == 1) {
                jsPubAck* pa = nullptr;
                js_PublishMsg(&pa, c.js(), m, &po, nullptr);
                jsPubAck_Destroy(pa);
                natsMsg_Destroy(m);
            } else {
                js_PublishMsgAsync(c.js(), &m, &po);  // MaxPending (256 here) bounds the window
                natsMsg_Destroy(m);
            }
        }
        if (window > 1) js_PublishAsyncComplete(c.js(), nullptr);
        return events / seconds_since(t);
    };
    double floor1 = floor(conn, 1);
    NatsConnection conn256;
    ConnectOptions o256 = o;
    o256.max_pending = 256;
    conn256.connect(o256);
    double floor256 = floor(conn256, 256);

    // 3. kill -> exit stored in JetStream, seen by a push consumer; and, as the reference,
    // kill -> that exit at a subscriber of kvd's socket.
    ctl::Client local;
    if (auto e = local.connect(dir + "/kvd.sock", Millis(10000))) {
        std::fprintf(stderr, "kvd: %s\n", e->message.c_str());
        return 1;
    }
    {
        Reply r;
        local.read_reply(r, local.send({{"op", "subscribe"}, {"types", {"exit"}}}),
                         Clock::now() + std::chrono::seconds(10));
    }
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = "KVD_EVENTS";
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverNew;
    natsSubscription* sub = nullptr;
    js_SubscribeSync(&sub, conn.js(), "kvd.h1.exit", nullptr, &so, nullptr);
    std::vector<double> lat, local_lat;
    for (int i = 0; i < kills; ++i) {
        std::string name = "k" + std::to_string(i);
        call({{"op", "create"}, {"bucket", name}});
        auto t = Clock::now();
        call({{"op", "kill"}, {"bucket", name}});
        std::string line;
        if (local.read_line(line, Clock::now() + std::chrono::seconds(10))) break;
        double local_us = seconds_since(t) * 1e6;
        natsMsg* m = nullptr;
        if (natsSubscription_NextMsg(&m, sub, 10000) != NATS_OK) break;
        lat.push_back(seconds_since(t) * 1e6);
        local_lat.push_back(local_us);
        natsMsg_Destroy(m);
    }
    natsSubscription_Destroy(sub);

    if (json) {
        Json out{{"events", events},
                 {"kvd_rate", kvd_rate},
                 {"floor_window_1", floor1},
                 {"floor_window_256", floor256},
                 {"kill_to_jetstream_us", lat},
                 {"kill_to_subscriber_us", local_lat}};
        std::printf("%s\n", out.dump().c_str());
    } else {
        std::printf("fleet: notify -> kvd-nats -> JetStream      %8.0f events/s  (%d events)\n",
                    kvd_rate, events);
        std::printf(
            "fleet: floor, libnats publish, window 1     %8.0f events/s  (kvd / floor = %.2f)\n",
            floor1, kvd_rate / floor1);
        std::printf("fleet: floor, libnats publish, window 256   %8.0f events/s  (reference)\n",
                    floor256);
        std::printf(
            "fleet: kill -> exit stored in JetStream      p50 %6.0f us  p99 %6.0f us  (%zu "
            "kills)\n",
            percentile(lat, 0.50), percentile(lat, 0.99), lat.size());
        std::printf(
            "fleet: kill -> exit at a kvd subscriber      p50 %6.0f us  p99 %6.0f us  "
            "(reference)\n",
            percentile(local_lat, 0.50), percentile(local_lat, 0.99));
    }
    conn.close();
    conn256.close();
    stop(kvd);
    stop(nats);
    nats_Close();
    std::filesystem::remove_all(dir);
    return 0;
}
