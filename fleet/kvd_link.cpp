#include "fleet/kvd_link.hpp"

namespace kvd::fleet {

std::optional<std::string> KvdLink::round_trip(const std::string& request_line,
                                               std::string& error) {
    std::lock_guard lock(mutex_);
    if (socket_path_.empty()) {
        error = "kvd's socket is not known ($KVD_SOCKET is not set and no --socket was given)";
        return std::nullopt;
    }
    if (!client_) {
        auto client = std::make_unique<ctl::Client>();
        if (auto e = client->connect(socket_path_, timeout_)) {
            error = e->message;
            return std::nullopt;
        }
        client_ = std::move(client);
    }
    client_->send_line(request_line);
    std::string line;
    auto deadline = ctl::SteadyClock::now() + timeout_;
    if (auto e = client_->read_line(line, deadline)) {
        error = e->message;
        client_.reset();  // the reply may still come: never pair it with a later request
        return std::nullopt;
    }
    return line;
}

std::optional<Reply> KvdLink::call(const std::string& op, std::string& error) {
    Json request{{"id", 1}, {"op", op}};
    auto line = round_trip(request.dump(), error);
    if (!line) return std::nullopt;
    auto reply = parse_reply(*line);
    if (!reply) error = "kvd's reply to '" + op + "' is not a reply: " + line->substr(0, 200);
    return reply;
}

}  // namespace kvd::fleet
