// Test support for the fleet: real nats-server processes (JetStream, file store in a temp
// dir, loopback ports chosen free at run time), alone or as a cluster, and readers of what
// kvd-nats wrote into JetStream.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace kvd::test {

// The nats-server binary, or "" when it is not installed (the tests then skip).
std::string nats_server_path();
std::string kvd_nats_path();
std::string kvfleet_path();

// A free TCP port on 127.0.0.1 (bound, read and released).
int free_port();

// One nats-server, or every node of a cluster of `nodes` (named n1..nN, routes between all).
// Each node's store and log live in `dir`. Torn down (SIGTERM, bounded wait, SIGKILL) with
// the object.
class NatsCluster {
  public:
    // `first_port`: the client port of node 1 when the test needs it known before (0: free).
    NatsCluster(const TempDir& dir, int nodes, int first_port = 0);
    ~NatsCluster();
    NatsCluster(const NatsCluster&) = delete;
    NatsCluster& operator=(const NatsCluster&) = delete;

    // Every node accepts connections.
    ::testing::AssertionResult wait_ready(milliseconds timeout = 10s);
    std::vector<std::string> urls() const;
    std::string url(int node) const;
    void kill_node(int node);  // SIGKILL and reap
    std::string logs() const;

  private:
    struct Node {
        int port = 0, cluster_port = 0;
        pid_t pid = -1;
        std::string log;
    };
    std::vector<Node> nodes_;
};

// The events in the stream, each parsed; fails the test when it cannot read them.
std::vector<Json> read_stream(const std::vector<std::string>& urls,
                              const std::string& stream = "KVD_EVENTS");
// The number of messages in the stream, or -1 when it cannot be read (yet).
int64_t stream_count(const std::vector<std::string>& urls,
                     const std::string& stream = "KVD_EVENTS");
// Every registry entry as {bucket: {host, pid, boot, kind, since}}; fails the test on error.
std::map<std::string, Json> read_registry_entries(const std::vector<std::string>& urls,
                                                  const std::string& registry = "kvd-registry");

// A [[handler]] config running kvd-nats for host `host` against `urls`, with `extra_args`
// for kvd-nats and `handler_keys` (TOML lines) for its [[handler]] table.
std::string fleet_config(const std::string& host, const std::vector<std::string>& urls,
                         int replicas = 1, const std::vector<std::string>& extra_args = {},
                         const std::string& handler_keys = "mode = \"sync\"\n");

}  // namespace kvd::test
