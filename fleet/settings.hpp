// kvd-nats's settings: built-in defaults, then a TOML file (--config), then argv flags.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/duration.hpp"

namespace kvd::fleet {

enum class StreamMismatch { warn, refuse };

struct Settings {
    std::vector<std::string> servers{"nats://127.0.0.1:4222"};
    std::string creds;                      // a NATS .creds file; empty: none
    std::string host;                       // default: the hostname, as a subject token
    std::string stream = "KVD_EVENTS";      // the JetStream stream of every host's events
    std::string registry = "kvd-registry";  // the JetStream KV bucket of the fleet registry
    int replicas = 1;                       // of the stream and the KV bucket when created here
    Millis max_age{168LL * 3600 * 1000};    // of the stream when created here (0: for ever)
    Millis duplicate_window{120000};        // the stream's Nats-Msg-Id dedup window
    int window = 256;                       // events published and not yet stored, at most
    Millis ack_wait{2000};                  // a PubAck not back by then: publish again
    Millis request_timeout{10000};          // a control request forwarded to kvd
    std::vector<std::string> allow{"ping", "status", "lookup", "list", "handlers", "keys", "get"};
    StreamMismatch stream_mismatch = StreamMismatch::warn;
    std::string socket;  // kvd's control socket; default $KVD_SOCKET
};

// Reads `path` into `s`; every key it holds replaces the default. Errors (unknown key, wrong
// type, bad duration) come back as "FILE:LINE:COLUMN: message" lines, "" when none.
std::string load_settings_file(const std::string& path, Settings& s);

// The machine's hostname as a subject token.
std::string default_host();

}  // namespace kvd::fleet
