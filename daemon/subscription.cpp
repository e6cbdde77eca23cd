#include "daemon/subscription.hpp"

#include <spdlog/spdlog.h>

#include "daemon/connection.hpp"

namespace kvd {

Subscription::Subscription(EventManager& events, uv_loop_t* loop, Connection& connection,
                           ReceiverOptions options)
    : connection_(connection),
      peer_(connection.stream()),
      receiver_(events, loop, std::move(options)) {
    receiver_.on_ack_timeout = [this] {
        spdlog::warn("client {} did not acknowledge an event within {}; closing its subscription",
                     connection_.number(), format_duration(receiver_.options().ack_timeout));
        connection_.close_now();  // destroys this subscription
    };
    receiver_.on_unexpected_line = [this](std::string_view line) {
        spdlog::debug("client {} sent a line that is not an ack: {}", connection_.number(),
                      line.substr(0, 200));
    };
}

void Subscription::go_live() {
    receiver_.attach(&peer_);
}

}  // namespace kvd
