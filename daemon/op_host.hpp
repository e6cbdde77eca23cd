// The ops' view of kvd (daemon/ops/host.hpp) over its real parts: the registry, the event
// manager, the handler set, and a client connection.
#pragma once

#include "daemon/ops/host.hpp"

namespace kvd {

class Connection;
class Daemon;

class DaemonOpHost final : public OpHost {
  public:
    explicit DaemonOpHost(Daemon& daemon) : daemon_(daemon) {}

    bool shutting_down() const override;
    OpBucket* find_bucket(std::string_view name) override;
    std::vector<const OpBucket*> buckets() const override;
    void create_bucket(const std::string& name, const std::string& kind, OutcomeFn done) override;
    void restart_bucket(OpBucket& bucket, std::optional<Millis> timeout, OutcomeFn done) override;
    void stop_bucket(OpBucket& bucket, std::optional<Millis> timeout, OutcomeFn done) override;
    OpLog* find_log(std::string_view name) override;
    uint64_t last_seq() const override;
    std::variant<uint64_t, Failure> publish(Event event, std::function<void()> delivered) override;
    Json handlers_info() const override;
    DaemonStatus status() const override;
    std::string metrics_text() const override;
    Outcome reload() override;

  private:
    Daemon& daemon_;
};

// The client of one request: made for the request, and gone with it.
class ConnectionClient final : public OpClient {
  public:
    ConnectionClient(Daemon& daemon, Connection& connection)
        : daemon_(daemon), connection_(connection) {}

    uint64_t number() const override;
    std::optional<Failure> subscribe(const SubscribeRequest& request) override;
    std::optional<Failure> follow_log(OpLog& log, std::optional<logs::Stream> only) override;

  private:
    Daemon& daemon_;
    Connection& connection_;
};

}  // namespace kvd
