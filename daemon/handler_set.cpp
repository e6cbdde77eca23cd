#include "daemon/handler_set.hpp"

#include <memory>

namespace kvd {

namespace {
// How long a handler has to exit after its stdin is closed.
constexpr Millis kStopGrace{5000};
}  // namespace

void HandlerSet::start_all(const std::vector<HandlerConfig>& configs) {
    for (const auto& c : configs) {
        auto h = std::make_unique<Handler>(env_, c);
        h->start();
        handlers_.emplace(c.name, std::move(h));
    }
}

void HandlerSet::retire(std::unique_ptr<Handler> h) {
    h->stop(kStopGrace, [] {});
    retiring_.push_back(std::move(h));
}

ReloadSummary HandlerSet::reload(const std::vector<HandlerConfig>& configs) {
    ReloadSummary summary;
    // Handlers retired by earlier reloads are freed once their process is gone.
    std::erase_if(retiring_, [](const std::unique_ptr<Handler>& h) {
        return h->state() == Handler::State::stopped;
    });
    std::map<std::string, const HandlerConfig*> wanted;
    for (const auto& c : configs) wanted[c.name] = &c;

    for (auto it = handlers_.begin(); it != handlers_.end();) {
        auto w = wanted.find(it->first);
        if (w == wanted.end()) {
            summary.stopped.push_back(it->first);
            retire(std::move(it->second));
            it = handlers_.erase(it);
        } else {
            ++it;
        }
    }
    for (const auto& [name, config] : wanted) {
        auto it = handlers_.find(name);
        if (it == handlers_.end()) {
            auto h = std::make_unique<Handler>(env_, *config);
            h->start();
            handlers_.emplace(name, std::move(h));
            summary.started.push_back(name);
        } else if (!(it->second->config() == *config)) {
            // The new instance gets, in order and before anything newer, every event the
            // old one had not acknowledged or not yet been sent: as after a crash restart.
            Receiver::Backlog backlog = it->second->take_backlog();
            retire(std::move(it->second));
            it->second = std::make_unique<Handler>(env_, *config);
            it->second->adopt(std::move(backlog));
            it->second->start();
            summary.restarted.push_back(name);
        }
    }
    return summary;
}

void HandlerSet::stop_all(Millis grace, std::function<void()> done) {
    auto remaining = std::make_shared<std::size_t>(handlers_.size() + retiring_.size() + 1);
    auto one_done = [remaining, done = std::move(done)] {
        if (--*remaining == 0) done();
    };
    for (auto& [name, h] : handlers_) h->stop(grace, one_done);
    for (auto& h : retiring_)
        if (h->state() != Handler::State::stopped)
            h->stop(grace, one_done);
        else
            one_done();
    one_done();
}

void HandlerSet::kill_all() {
    for (auto& [name, h] : handlers_) h->kill_now();
    for (auto& h : retiring_) h->kill_now();
}

Json HandlerSet::info() const {
    Json list = Json::array();
    for (const auto& [name, h] : handlers_) list.push_back(h->info());
    return list;
}

}  // namespace kvd
