// Whether a valid config can run on this system: what the TOML loader (config.hpp) cannot
// know without looking around. The socket_group must exist, and the bucket program and every
// handler's program must be found where kvd will look for them and be executable. Run by
// --check-config, at start-up and by reload, so that a config kvd cannot run is refused the
// same way as an invalid one: each problem a ConfigError at the value at fault.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/config.hpp"

namespace kvd {

// What of kvd's own environment the checks depend on.
struct RunEnvironment {
    // $PATH as kvd has it: a bare bucket program not next to kvd is looked up in it, and so is
    // a bare handler program unless the handler's env sets PATH. nullopt when unset (the C
    // library's default search path then applies, as for execvp).
    std::optional<std::string> path;
};

// This process's environment.
RunEnvironment run_environment_of_this_process();

// Every problem found, in file order; empty when the config can run. Errors name the config's
// file, or "built-in defaults" for a config without one.
std::vector<ConfigError> check_runnable(const Config& config, const RunEnvironment& env);

}  // namespace kvd
