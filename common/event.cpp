#include "common/event.hpp"

#include "common/signals.hpp"
#include "common/wire.hpp"

namespace kvd {

std::string Event::to_line() const {
    nlohmann::ordered_json j;
    j["seq"] = seq;
    j["type"] = type;
    if (type == wire::event::kCreate || type == wire::event::kExit) {
        j["bucket"] = bucket;
        j["pid"] = pid;
    }
    if (type == wire::event::kExit) {
        j["code"] = code ? nlohmann::ordered_json(*code) : nlohmann::ordered_json(nullptr);
        j["signal"] = signal ? nlohmann::ordered_json(signal_name(*signal))
                             : nlohmann::ordered_json(nullptr);
        j["reason"] = reason;
    } else if (type == wire::event::kDropped) {
        j["count"] = count;
    } else if (type != wire::event::kCreate) {
        j["data"] = data;
    }
    j["time"] = format_rfc3339(time);
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + '\n';
}

}  // namespace kvd
