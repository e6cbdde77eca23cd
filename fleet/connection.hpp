// A connection to a NATS cluster with a JetStream context, shared by kvd-nats and kvfleet.
#pragma once

#include <nats/nats.h>

#include <string>
#include <vector>

#include "common/duration.hpp"

namespace kvd::fleet {

struct ConnectOptions {
    std::vector<std::string> servers;
    std::string creds;      // empty: no credentials file
    std::string name;       // shown by the server's connection list
    Millis timeout{2000};   // for the first connection
    bool reconnect = true;  // once connected, reconnect for ever (kvd-nats) or never
    Millis js_wait{5000};   // JetStream API requests
    // Asynchronous publishing (kvd-nats): called on a library thread for every PubAck or
    // failure; at most `max_pending` publishes in flight.
    jsPubAckHandler ack_handler = nullptr;
    void* ack_closure = nullptr;
    int64_t max_pending = 0;
};

// One connection and its JetStream context; both destroyed with the object.
class NatsConnection {
  public:
    NatsConnection() = default;
    ~NatsConnection();
    NatsConnection(const NatsConnection&) = delete;
    NatsConnection& operator=(const NatsConnection&) = delete;

    // Connects; on failure returns a one-line message and leaves the object unconnected.
    std::string connect(const ConnectOptions& options);
    void close();

    bool connected() const { return nc_ != nullptr; }
    natsConnection* nc() const { return nc_; }
    jsCtx* js() const { return js_; }

  private:
    natsConnection* nc_ = nullptr;
    jsCtx* js_ = nullptr;
};

// "<status text>: <last error text>" for a failed call.
std::string nats_error(natsStatus s);

}  // namespace kvd::fleet
