#include "tests/fleet/nats_servers.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "fleet/connection.hpp"
#include "fleet/registry.hpp"

namespace kvd::test {

std::string nats_server_path() {
    for (const char* p :
         {"/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"})
        if (access(p, X_OK) == 0) return p;
    return "";
}
std::string kvd_nats_path() {
    return KVD_BIN_DIR "/kvd-nats";
}
std::string kvfleet_path() {
    return KVD_BIN_DIR "/kvfleet";
}

int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

namespace {

bool port_accepts(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    return ok;
}

pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0) return pid;
    // The server dies with the test process, so an aborted run leaves none behind.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
}

void stop(pid_t pid) {
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 500; ++i) {
        if (waitpid(pid, nullptr, WNOHANG) == pid) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
}

std::string connect(fleet::NatsConnection& conn, const std::vector<std::string>& urls) {
    fleet::ConnectOptions o;
    o.servers = urls;
    o.reconnect = false;
    return conn.connect(o);
}

}  // namespace

NatsCluster::NatsCluster(const TempDir& dir, int nodes, int first_port) {
    nodes_.resize(static_cast<std::size_t>(nodes));
    for (auto& n : nodes_) {
        n.port = free_port();
        n.cluster_port = free_port();
    }
    if (first_port > 0) nodes_[0].port = first_port;
    std::string routes;
    for (const auto& n : nodes_)
        routes +=
            (routes.empty() ? "" : ",") + ("nats://127.0.0.1:" + std::to_string(n.cluster_port));
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
        Node& n = nodes_[i];
        std::string name = "n" + std::to_string(i + 1);
        n.log = dir.file("nats-" + name + ".log");
        std::vector<std::string> args = {
            nats_server_path(),     "-js", "-sd", dir.file("js-" + name), "-a", "127.0.0.1", "-p",
            std::to_string(n.port), "-n",  name};
        if (nodes > 1) {
            args.insert(args.end(),
                        {"--cluster_name", "kvdtest", "--cluster",
                         "nats://127.0.0.1:" + std::to_string(n.cluster_port), "--routes", routes});
        }
        n.pid = spawn(args, n.log);
    }
}

NatsCluster::~NatsCluster() {
    for (auto& n : nodes_) stop(n.pid);
    if (::testing::Test::HasFailure()) std::cerr << logs();
}

::testing::AssertionResult NatsCluster::wait_ready(milliseconds timeout) {
    return wait_until(
        [&] {
            for (const auto& n : nodes_)
                if (n.pid > 0 && !port_accepts(n.port)) return false;
            return true;
        },
        timeout, "every nats-server accepts connections");
}

std::vector<std::string> NatsCluster::urls() const {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < nodes_.size(); ++i)
        if (nodes_[i].pid > 0) out.push_back(url(static_cast<int>(i)));
    return out;
}

std::string NatsCluster::url(int node) const {
    return "nats://127.0.0.1:" + std::to_string(nodes_[static_cast<std::size_t>(node)].port);
}

void NatsCluster::kill_node(int node) {
    Node& n = nodes_[static_cast<std::size_t>(node)];
    kill(n.pid, SIGKILL);
    waitpid(n.pid, nullptr, 0);
    n.pid = -1;
}

std::string NatsCluster::logs() const {
    std::string out;
    for (const auto& n : nodes_) {
        std::string text = read_file(n.log);
        if (text.size() > 4000) text = "..." + text.substr(text.size() - 4000);
        out += "---- " + n.log + "\n" + text;
    }
    return out;
}

int64_t stream_count(const std::vector<std::string>& urls, const std::string& stream) {
    fleet::NatsConnection conn;
    if (!connect(conn, urls).empty()) return -1;
    jsStreamInfo* si = nullptr;
    if (js_GetStreamInfo(&si, conn.js(), stream.c_str(), nullptr, nullptr) != NATS_OK) return -1;
    int64_t n = static_cast<int64_t>(si->State.Msgs);
    jsStreamInfo_Destroy(si);
    return n;
}

std::vector<Json> read_stream(const std::vector<std::string>& urls, const std::string& stream) {
    std::vector<Json> out;
    int64_t total = stream_count(urls, stream);
    EXPECT_GE(total, 0) << "cannot read stream " << stream;
    if (total <= 0) return out;
    fleet::NatsConnection conn;
    std::string error = connect(conn, urls);
    EXPECT_EQ(error, "");
    if (!error.empty()) return out;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream.c_str();
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverAll;
    natsSubscription* sub = nullptr;
    natsStatus s = NATS_OK;
    // Just after a node was lost, the cluster may still be electing leaders: the consumer
    // cannot be created until it is done.
    EXPECT_TRUE(wait_until(
        [&] {
            s = js_SubscribeSync(&sub, conn.js(), "kvd.>", nullptr, &so, nullptr);
            return s == NATS_OK;
        },
        30s, "a consumer on the stream"))
        << fleet::nats_error(s);
    if (s != NATS_OK) return out;
    for (int64_t i = 0; i < total; ++i) {
        natsMsg* msg = nullptr;
        s = natsSubscription_NextMsg(&msg, sub, static_cast<int64_t>(scaled(5s).count()));
        EXPECT_EQ(s, NATS_OK) << "message " << i << " of " << total << ": " << fleet::nats_error(s);
        if (s != NATS_OK) break;
        out.push_back(Json::parse(
            std::string(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg))),
            nullptr, false));
        natsMsg_Destroy(msg);
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    return out;
}

std::map<std::string, Json> read_registry_entries(const std::vector<std::string>& urls,
                                                  const std::string& registry) {
    std::map<std::string, Json> out;
    fleet::NatsConnection conn;
    std::string error = connect(conn, urls);
    EXPECT_EQ(error, "");
    if (!error.empty()) return out;
    std::vector<fleet::RegistryEntry> entries;
    // Just after a node was lost, the cluster may still be electing leaders: listing keys
    // (a consumer underneath) fails until it is done.
    EXPECT_TRUE(wait_until(
        [&] {
            kvStore* kv = nullptr;
            natsStatus s = js_KeyValue(&kv, conn.js(), registry.c_str());
            error = s == NATS_OK ? "" : fleet::nats_error(s);
            entries.clear();
            if (s == NATS_OK) error = fleet::read_registry(kv, entries);
            if (kv != nullptr) kvStore_Destroy(kv);
            return error.empty();
        },
        30s, "the registry's entries"))
        << error;
    for (const auto& e : entries)
        out[e.bucket] = Json{{"host", e.host},
                             {"pid", e.pid},
                             {"boot", e.boot},
                             {"kind", e.kind},
                             {"since", e.since}};
    return out;
}

std::string fleet_config(const std::string& host, const std::vector<std::string>& urls,
                         int replicas, const std::vector<std::string>& extra_args,
                         const std::string& handler_keys) {
    Json command = {kvd_nats_path(),          "--host",     host, "--replicas",
                    std::to_string(replicas), "--ack-wait", "1s"};
    for (const auto& u : urls) {
        command.push_back("--server");
        command.push_back(u);
    }
    for (const auto& a : extra_args) command.push_back(a);
    return "[[handler]]\nname = \"nats\"\n" + handler_keys +
           "ack_timeout = \"60s\"\ncommand = " + command.dump() + "\n";
}

}  // namespace kvd::test
