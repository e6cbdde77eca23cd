// Starting one process for the ProcessTable: its stdio (the socket pair with kvd, pipes,
// /dev/null, as the Command asks), then the spawner, or kvd itself when no spawner runs.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daemon/proc/child.hpp"

namespace kvd::proc {

class Spawner;

// Where the table puts the child: the cgroup it joins before exec, and the rlimits standing
// in for the limits its cgroup cannot apply.
struct Placement {
    int cgroup_procs_fd = -1;  // kept by the caller
    std::optional<uint64_t> rlimit_as;
    std::optional<uint64_t> rlimit_nproc;
};

struct Launched {
    pid_t pid = 0;
    int stdio_fd = -1;   // kvd's end of the socket pair, when there is one
    int stdout_fd = -1;  // the read end of the stdout pipe, with Stdio::pipe_out
    int stderr_fd = -1;  // the read end of the stderr pipe, with capture_stderr
};

// Starts `command` through `spawner` when it is non-null, else (or when no spawner can run)
// from kvd itself with spawn_direct(). 0, or a libuv error code with nothing left open.
int launch(Spawner* spawner, const Command& command, const Placement& placement, Launched& out);

// The environment a child gets, as "NAME=value" strings: `base` (an environ-style array, kvd's
// own) with each name of `add` set to its value.
std::vector<std::string> child_environment(char** base,
                                           const std::map<std::string, std::string>& add);

}  // namespace kvd::proc
