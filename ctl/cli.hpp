// kvctl's command line: parses the arguments with CLI11, resolves the socket path
// and runs one command. main() is this plus the real streams.
#pragma once

#include <ostream>
#include <string>

namespace kvd::ctl {

// Where kvctl's output goes, as main() finds it: tables are coloured and `logs` marks stderr
// lines only on a terminal, and colour also heeds $NO_COLOR and $TERM. The default, what tests
// get, is no terminal.
struct OutputEnvironment {
    bool stdout_is_terminal = false;
    std::string no_color{};  // $NO_COLOR; set and not empty: no colour
    std::string term{};      // $TERM; "dumb": no colour

    // isatty(1), $NO_COLOR and $TERM of this process.
    static OutputEnvironment of_this_process();
};

// Returns the exit status. Usage errors print CLI11's message and exit 2; --help, `help
// [COMMAND]` and --version print to `out` and exit 0. Never throws.
int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
        const OutputEnvironment& output = {});

}  // namespace kvd::ctl
