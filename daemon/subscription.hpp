// A subscription (GenEvent.add_mon_handler): a client connection that asked for events. It
// lives exactly as long as the connection: when the client leaves, it is removed.
#pragma once

#include <uv.h>

#include "daemon/connection.hpp"
#include "daemon/receiver.hpp"

namespace kvd {

class Subscription final : public ConnectionStream {
  public:
    Subscription(EventManager& events, uv_loop_t* loop, Connection& connection,
                 ReceiverOptions options);

    Receiver& receiver() { return receiver_; }
    // Starts the stream; called once the `subscribe` reply has been written, so that no
    // event overtakes it.
    void go_live() override;
    void on_line(std::string_view line) override { receiver_.on_line(line); }

  private:
    Connection& connection_;
    UvPeerStream peer_;  // the connection's stream, once live
    Receiver receiver_;
};

}  // namespace kvd
