// Starting one process for the ProcessTable: the socket pair that becomes its stdin and
// stdout (and the pipe for its stderr, when captured), then the spawner or uv_spawn.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <map>
#include <string>
#include <vector>

#include "daemon/proc/child.hpp"

namespace kvd::proc {

class Spawner;

struct Launched {
    pid_t pid = 0;
    int stdio_fd = -1;   // kvd's end of the socket pair
    int stderr_fd = -1;  // the read end of the stderr pipe, with capture_stderr
};

// Starts `command` through `spawner` when it is non-null (with uv_spawn when no spawner can
// run), else with uv_spawn. 0, or a libuv error code with nothing left open.
int launch(uv_loop_t* loop, Spawner* spawner, const Command& command, Launched& out);

// The environment a child gets, as "NAME=value" strings: `base` (an environ-style array, kvd's
// own) with each name of `add` set to its value.
std::vector<std::string> child_environment(char** base,
                                           const std::map<std::string, std::string>& add);

}  // namespace kvd::proc
