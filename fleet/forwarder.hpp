// kvd-nats's main loop: reads kvd's events from the handler socket, publishes each to
// JetStream (subject kvd.HOST.TYPE, Nats-Msg-Id HOST:BOOT:SEQ) with at most `window` in
// flight, applies it to the fleet registry, and acks it to kvd only once both are done,
// always in seq order. A publish without a PubAck within ack_wait, or failed, is sent again
// after a growing pause (the stream's duplicate window absorbs the copies). While NATS cannot
// be reached nothing is acked, so kvd holds the events (sync mode). The loop ends when the
// handler socket reaches end of file.
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/line_buffer.hpp"
#include "fleet/connection.hpp"
#include "fleet/control.hpp"
#include "fleet/kvd_link.hpp"
#include "fleet/registry.hpp"
#include "fleet/settings.hpp"

namespace kvd::fleet {

using Clock = std::chrono::steady_clock;

class Forwarder {
  public:
    // `in_fd`/`out_fd`: the handler socket's ends (stdin, stdout). `send_acks`: false for an
    // async handler, which kvd does not expect to answer.
    Forwarder(Settings settings, std::string boot, int in_fd, int out_fd, bool send_acks);
    ~Forwarder();
    Forwarder(const Forwarder&) = delete;
    Forwarder& operator=(const Forwarder&) = delete;

    // Runs until end of file on `in_fd`; returns the exit status.
    int run();

  private:
    struct Pending {
        uint64_t seq = 0;  // 0: a line that is not an event; acked with "ok" as it is
        std::string line;
        std::string type, bucket, kind, time;
        int64_t pid = 0;
        std::string msg_id;
        bool stored = false;
        bool registry_done = false;
        bool in_flight = false;
        int attempts = 0;
        Clock::time_point next_try{};
        Clock::time_point sent_at{};
    };
    struct Completion {
        std::string msg_id;
        bool ok = false;
        std::string error;
    };

    static void on_puback(jsCtx* js, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure);

    void try_connect(Clock::time_point now);
    std::string ensure_stream();
    void try_boot(Clock::time_point now);
    void try_reconcile(Clock::time_point now);
    void take_lines();
    void drain_completions(Clock::time_point now);
    void advance_registry(Clock::time_point now);
    void publish_due(Clock::time_point now);
    bool write_acks();
    void publish(Pending& p, Clock::time_point now);
    void disconnect(const std::string& why, Clock::time_point now);
    Clock::time_point next_wakeup(Clock::time_point now) const;

    Settings settings_;
    std::string boot_;
    int in_fd_, out_fd_;
    bool send_acks_;
    int wake_fd_ = -1;  // eventfd: PubAcks are waiting in completions_

    NatsConnection conn_;
    Registry registry_;
    KvdLink link_;
    ControlService control_;

    std::mutex completions_mutex_;
    std::vector<Completion> completions_;

    LineBuffer input_;
    bool eof_ = false;
    Clock::time_point eof_deadline_{};
    std::deque<Pending> pending_;

    int connect_failures_ = 0;
    Clock::time_point next_connect_{};
    bool stream_warned_ = false;
    bool refused_ = false;
    Clock::time_point next_boot_{};
    bool reconciled_ = false;
    int reconcile_failures_ = 0;
    Clock::time_point next_reconcile_{};
    int registry_failures_ = 0;
    Clock::time_point next_registry_{};
    std::string last_error_;
    uint64_t acked_ = 0;
};

}  // namespace kvd::fleet
