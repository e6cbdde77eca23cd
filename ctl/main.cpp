// kvctl: the command-line client of kvd (see cli.hpp).
#include <iostream>

#include "ctl/cli.hpp"

int main(int argc, char** argv) {
    return kvd::ctl::run(argc, argv, std::cout, std::cerr,
                         kvd::ctl::OutputEnvironment::of_this_process());
}
