// Every handler of the config, by name: started together, reloaded by difference, and
// stopped together at shutdown.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/handler.hpp"

namespace kvd {

struct ReloadSummary {
    std::vector<std::string> started, stopped, restarted;
};

class HandlerSet {
  public:
    explicit HandlerSet(HandlerEnv env) : env_(std::move(env)) {}
    HandlerSet(const HandlerSet&) = delete;
    HandlerSet& operator=(const HandlerSet&) = delete;

    void start_all(const std::vector<HandlerConfig>& configs);
    // New names start, missing ones stop, changed ones restart; unchanged ones keep running.
    ReloadSummary reload(const std::vector<HandlerConfig>& configs);
    // Closes every handler's stdin and waits for all to exit (SIGKILL after `grace`).
    void stop_all(Millis grace, std::function<void()> done);
    // SIGKILL to every handler process still running, retiring ones included.
    void kill_all();

    Json info() const;
    std::size_t size() const { return handlers_.size(); }

  private:
    void retire(std::unique_ptr<Handler> h);

    HandlerEnv env_;
    std::map<std::string, std::unique_ptr<Handler>> handlers_;  // by name, listed sorted
    // Handlers removed or replaced by a reload, kept until their process is gone.
    std::vector<std::unique_ptr<Handler>> retiring_;
};

}  // namespace kvd
