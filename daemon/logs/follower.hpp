// A `logs follow` connection: after the reply with the past lines, it carries each further
// line of the bucket's log (of one stream, if asked) as one JSON object per line, until the
// client hangs up or the bucket is gone (then kvd closes it after the last line).
//
// Bound: kvd holds at most `bound` bytes of lines the client has not taken yet
// ([daemon] client_buffer_bytes); lines beyond it are dropped for this follower only,
// counted, and once the client has taken what was held it gets {"dropped":N} in their place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/lifetime.hpp"
#include "daemon/connection.hpp"
#include "daemon/logs/bucket_log.hpp"

namespace kvd::logs {

class Follower final : public ConnectionStream, public LogListener {
  public:
    // Registers with `log` at once (no line between the reply's and the first followed one
    // is missed); a log that has ended already ends the connection after the reply.
    Follower(BucketLog& log, Connection& connection, std::optional<Stream> only, std::size_t bound);
    ~Follower() override;

    void go_live() override;
    void on_line(std::string_view) override {}  // nothing is expected from the client

    void on_log_line(const LogEntry& entry, const std::string& json_line) override;
    void on_log_end() override;

    uint64_t dropped() const { return dropped_total_; }

  private:
    void write_dropped_when_drained();

    BucketLog* log_;  // null once the log ended
    Connection& connection_;
    std::optional<Stream> only_;
    std::size_t bound_;
    bool live_ = false;
    bool ended_ = false;
    std::string before_live_;  // lines that came before the reply was written
    uint64_t dropped_pending_ = 0;
    uint64_t dropped_total_ = 0;
    bool waiting_for_drain_ = false;
    Lifetime lifetime_;
};

}  // namespace kvd::logs
