#include "fleet/connection.hpp"

namespace kvd::fleet {

std::string nats_error(natsStatus s) {
    std::string text = natsStatus_GetText(s);
    const char* last = nats_GetLastError(nullptr);
    if (last != nullptr && *last != '\0' && text != last) text += std::string(": ") + last;
    return text;
}

NatsConnection::~NatsConnection() {
    close();
}

void NatsConnection::close() {
    if (js_ != nullptr) jsCtx_Destroy(js_);
    js_ = nullptr;
    if (nc_ != nullptr) {
        natsConnection_Close(nc_);
        natsConnection_Destroy(nc_);
    }
    nc_ = nullptr;
}

std::string NatsConnection::connect(const ConnectOptions& options) {
    close();
    natsOptions* opts = nullptr;
    natsStatus s = natsOptions_Create(&opts);
    std::vector<const char*> servers;
    for (const auto& url : options.servers) servers.push_back(url.c_str());
    if (s == NATS_OK)
        s = natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
    if (s == NATS_OK && !options.creds.empty())
        s = natsOptions_SetUserCredentialsFromFiles(opts, options.creds.c_str(), nullptr);
    if (s == NATS_OK && !options.name.empty()) s = natsOptions_SetName(opts, options.name.c_str());
    if (s == NATS_OK) s = natsOptions_SetTimeout(opts, options.timeout.count());
    if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts, options.reconnect);
    if (s == NATS_OK && options.reconnect) s = natsOptions_SetMaxReconnect(opts, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 250);
    // Each publish goes out at once rather than through the library's flusher thread: kvd-nats
    // has one event in flight in sync mode, so a batching delay is all latency.
    if (s == NATS_OK) s = natsOptions_SetSendAsap(opts, true);
    if (s == NATS_OK) s = natsConnection_Connect(&nc_, opts);
    std::string error;
    if (s != NATS_OK) {
        error = "cannot connect to NATS: " + nats_error(s);
        nc_ = nullptr;
    }
    natsOptions_Destroy(opts);
    if (!error.empty()) return error;

    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = options.js_wait.count();
    jo.PublishAsync.AckHandler = options.ack_handler;
    jo.PublishAsync.AckHandlerClosure = options.ack_closure;
    if (options.max_pending > 0) jo.PublishAsync.MaxPending = options.max_pending;
    s = natsConnection_JetStream(&js_, nc_, &jo);
    if (s != NATS_OK) {
        error = "cannot use JetStream: " + nats_error(s);
        close();
    }
    return error;
}

}  // namespace kvd::fleet
