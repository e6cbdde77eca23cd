// The control service of kvd-nats: request/reply on kvdctl.HOST (see control_subject()). A request
// is one kvd request object; it is forwarded to the local kvd and kvd's reply line comes back
// unchanged. Only the ops in the allow list are served; others get kvd's own error format
// with `permission_denied`. Ops that turn a connection into a stream (`subscribe`, `logs`
// with `follow`) are never served: they are `bad_request` here.
#pragma once

#include <nats/nats.h>

#include <set>
#include <string>
#include <vector>

#include "fleet/kvd_link.hpp"

namespace kvd::fleet {

// The reply for `request` when it must not reach kvd, or "" when it may be forwarded.
std::string control_refusal(const std::string& request, const std::set<std::string>& allowed);

class ControlService {
  public:
    ControlService(KvdLink& link, const std::vector<std::string>& allowed)
        : link_(link), allowed_(allowed.begin(), allowed.end()) {}
    ~ControlService() { stop(); }
    ControlService(const ControlService&) = delete;
    ControlService& operator=(const ControlService&) = delete;

    // Subscribes to `subject` on `nc`. "" on success.
    std::string start(natsConnection* nc, const std::string& subject);
    void stop();

  private:
    static void on_message(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure);
    std::string answer(const std::string& request);

    KvdLink& link_;
    std::set<std::string> allowed_;
    natsSubscription* sub_ = nullptr;
};

}  // namespace kvd::fleet
