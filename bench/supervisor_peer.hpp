// supervisord as the reference for supervising processes: Debian's supervisor, run in the
// foreground in the temporary directory with one program of N sleepers (started and
// stopped as a group through XML-RPC on its Unix socket) and the benchmark's event listener
// subscribed to PROCESS_STATE_EXITED.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "bench/options.hpp"
#include "bench/process.hpp"

namespace kvd::bench {

class Supervisord {
  public:
    // Throws BenchError when supervisord does not start or its listener does not run.
    // `extra_conf` is appended to its config as is (more [program:x] sections).
    Supervisord(const Paths& paths, const TempDir& dir, const std::string& program,
                std::size_t procs, const std::string& fifo_path,
                const std::string& extra_conf = {});

    struct ProcInfo {
        std::string name;
        pid_t pid = 0;
        std::string state;
    };
    // XML-RPC: the response body; throws BenchError on a fault or no answer.
    std::string call(const std::string& method, const std::string& params_xml,
                     int64_t timeout_ms = 120'000);
    std::vector<ProcInfo> sleepers();
    // startProcessGroup / stopProcessGroup with wait=true: return once supervisord says the
    // whole group is running / stopped.
    void start_group();
    void stop_group();
    pid_t pid() const { return process_->pid(); }
    // supervisord's own log (logfile=), at its default level: a line per spawn and exit.
    const std::string& log_path() const { return log_; }
    std::string version;

  private:
    std::string socket_;
    std::string log_;
    std::unique_ptr<Process> process_;
};

}  // namespace kvd::bench
