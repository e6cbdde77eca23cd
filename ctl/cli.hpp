// kvctl's command line: parses the arguments with CLI11, resolves the socket path
// and runs one command. main() is this plus the real streams.
#pragma once

#include <ostream>

namespace kvd::ctl {

// Returns the exit status. Usage errors print CLI11's message and exit 2; --help, `help
// [COMMAND]` and --version print to `out` and exit 0. Never throws.
int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace kvd::ctl
