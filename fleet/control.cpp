#include "fleet/control.hpp"

#include <nlohmann/json.hpp>

#include "fleet/connection.hpp"

namespace kvd::fleet {

namespace {

using Json = nlohmann::json;

std::string error_reply(const Json& id, const std::string& code, const std::string& message) {
    Json reply{{"ok", false}, {"error", {{"code", code}, {"message", message}}}};
    if (!id.is_null()) reply["id"] = id;
    return reply.dump();
}

}  // namespace

std::string control_refusal(const std::string& request, const std::set<std::string>& allowed) {
    Json j = Json::parse(request, nullptr, false);
    if (!j.is_object())
        return error_reply(nullptr, "bad_request", "the request is not a JSON object");
    Json id = j.contains("id") ? j["id"] : Json();
    auto op = j.find("op");
    if (op == j.end() || !op->is_string())
        return error_reply(id, "bad_request", "missing string field 'op'");
    const std::string name = op->get<std::string>();
    auto follow = j.find("follow");
    bool follows = follow != j.end() && follow->is_boolean() && follow->get<bool>();
    bool streams = name == "subscribe" || (name == "logs" && follows);
    if (streams)
        return error_reply(id, "bad_request",
                           "op '" + name + "' streams; it is not served over NATS");
    if (!allowed.count(name))
        return error_reply(id, "permission_denied",
                           "op '" + name + "' is not in this host's allowed list");
    return "";
}

std::string ControlService::start(natsConnection* nc, const std::string& subject) {
    stop();
    natsStatus s = natsConnection_Subscribe(&sub_, nc, subject.c_str(), on_message, this);
    if (s != NATS_OK) {
        sub_ = nullptr;
        return "cannot subscribe to " + subject + ": " + nats_error(s);
    }
    return "";
}

void ControlService::stop() {
    if (sub_ == nullptr) return;
    natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
    sub_ = nullptr;
}

std::string ControlService::answer(const std::string& request) {
    std::string refusal = control_refusal(request, allowed_);
    if (!refusal.empty()) return refusal;
    std::string error;
    auto reply = link_.round_trip(request, error);
    if (reply) return *reply;
    Json j = Json::parse(request, nullptr, false);
    return error_reply(j.is_object() && j.contains("id") ? j["id"] : Json(), "unavailable",
                       "kvd did not answer: " + error);
}

void ControlService::on_message(natsConnection* nc, natsSubscription*, natsMsg* msg,
                                void* closure) {
    auto* self = static_cast<ControlService*>(closure);
    const char* reply_to = natsMsg_GetReply(msg);
    if (reply_to != nullptr && *reply_to != '\0') {
        std::string request(natsMsg_GetData(msg),
                            static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
        std::string reply = self->answer(request);
        natsConnection_Publish(nc, reply_to, reply.data(), static_cast<int>(reply.size()));
    }
    natsMsg_Destroy(msg);
}

}  // namespace kvd::fleet
