// The benchmark's side of a floor program: starts it with a pipe on its stdin and stdout
// and sends it one command at a time (floor_common.hpp describes the protocol).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/process.hpp"

namespace kvd::bench {

class FloorProcess {
  public:
    // `program` is the floor, `child_program` what it spawns (kv-bucket); `flags` go before
    // it on the floor's command line (e.g. --two-hop).
    FloorProcess(const std::string& name, const std::string& program,
                 const std::string& child_program, const std::string& log_path,
                 const std::vector<std::string>& flags = {});
    ~FloorProcess();
    FloorProcess(const FloorProcess&) = delete;
    FloorProcess& operator=(const FloorProcess&) = delete;

    // Sends "VERB ARG" and returns the parsed reply; throws BenchError after `timeout_ms`.
    nlohmann::json command(const std::string& verb, long arg, int64_t timeout_ms = 600'000);
    pid_t pid() const { return process_->pid(); }

  private:
    int to_floor_ = -1;
    int from_floor_ = -1;
    std::string buffer_;
    std::unique_ptr<Process> process_;
};

}  // namespace kvd::bench
