// kvd-nats's own connection to its kvd's control socket (not its handler socket): used for
// `status` and `list` at start and for the control requests it serves from NATS.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/duration.hpp"
#include "common/protocol.hpp"
#include "ctl/client.hpp"

namespace kvd::fleet {

class KvdLink {
  public:
    KvdLink(std::string socket_path, Millis timeout)
        : socket_path_(std::move(socket_path)), timeout_(timeout) {}

    // Sends one request line and returns kvd's reply line unchanged; on failure nullopt and
    // `error` says why. Thread-safe: requests are serialised on one connection, opened on first
    // use and again after any failure (a request is never sent twice).
    std::optional<std::string> round_trip(const std::string& request_line, std::string& error);

    // round_trip of {"op": op} parsed as a reply.
    std::optional<Reply> call(const std::string& op, std::string& error);

  private:
    std::string socket_path_;
    Millis timeout_;
    std::mutex mutex_;
    std::unique_ptr<ctl::Client> client_;
};

}  // namespace kvd::fleet
