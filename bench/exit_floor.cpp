// kvd-bench-exit-floor PROGRAM: the floor for exit-event latency. A bare libuv program
// whose children each have a live uv_process_t with an exit callback, the way libuv means
// processes to be watched. At each SIGCHLD libuv 1.44 calls waitpid() on every live process
// handle, so this floor shows what reaping costs with N children alive.
// Commands: grow / spawn / stop (floor_common.hpp), and
//   kill N   N rounds of: spawn a victim, wait until it answers a request on its socket
//            (so it is idle, as a bucket in kvd is), SIGKILL it and wait for libuv's exit
//            callback; reply {"lat_us":[...]}: kill() to exit callback, per round
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>

#include "bench/clock.hpp"
#include "bench/floor_common.hpp"

using namespace kvd::bench;
using namespace kvd::bench::floor;

namespace {

// One request/reply round trip with a kv-bucket over its socket (blocking).
bool wait_ready(int fd) {
    const char req[] = "{\"op\":\"get\",\"key\":\"ready\"}\n";
    if (write(fd, req, sizeof req - 1) != static_cast<ssize_t>(sizeof req - 1)) return false;
    char c;
    for (;;) {
        ssize_t n = read(fd, &c, 1);
        if (n <= 0) return false;
        if (c == '\n') return true;
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: kvd-bench-exit-floor PROGRAM\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    Floor floor(argv[1]);
    std::vector<std::unique_ptr<Child>> batch;
    std::string verb;
    long n = 0;
    while (read_command(verb, n)) {
        if (common_command(floor, verb, n, batch)) {
            continue;
        } else if (verb == "kill") {
            std::vector<double> lat;
            for (long i = 0; i < n; ++i) {
                std::vector<std::unique_ptr<Child>> one;
                one.push_back(std::make_unique<Child>());
                Child& c = *one.back();
                if (int rc = floor.spawn(c); rc != 0) {
                    std::fprintf(stderr, "floor: uv_spawn: %s\n", uv_strerror(rc));
                    return 1;
                }
                if (!wait_ready(c.socket_fd)) {
                    std::fprintf(stderr, "floor: the victim did not answer\n");
                    return 1;
                }
                int64_t t0 = mono_ns();
                kill(c.pid, SIGKILL);
                floor.run_until([&] { return c.exited; });
                lat.push_back(ns_to_us(c.exited_ns - t0));
                floor.end_all(one, SIGKILL);
            }
            reply("{\"lat_us\":" + json_array(lat) + "}");
        } else {
            reply("{\"error\":\"unknown command\"}");
        }
    }
    floor.end_all(batch, SIGKILL);
    return 0;
}
