// kvd-bench-spawn-floor PROGRAM: the floor for `create`. It spawns PROGRAM (kv-bucket) with
// uv_spawn exactly as kvd does and nothing else: no registry, no event, no client. Its
// commands are grow / spawn / stop (floor_common.hpp).
#include <csignal>
#include <cstdio>
#include <string>

#include "bench/floor_common.hpp"

using namespace kvd::bench::floor;

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: kvd-bench-spawn-floor PROGRAM\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    Floor floor(argv[1]);
    std::vector<std::unique_ptr<Child>> batch;
    std::string verb;
    long n = 0;
    while (read_command(verb, n))
        if (!common_command(floor, verb, n, batch)) reply("{\"error\":\"unknown command\"}");
    floor.end_all(batch, SIGKILL);
    return 0;
}
