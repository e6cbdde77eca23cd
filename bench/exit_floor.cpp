// kvd-bench-exit-floor [--two-hop] PROGRAM: the floors for exit-event latency. Both kill an
// idle child (PROGRAM, kv-bucket) and time how long until its exit is known; they differ in
// what "known" means and in how the floor reaps:
//
// one-hop (no flag): a bare libuv program whose children each have a live uv_process_t with
//   an exit callback, the way libuv means processes to be watched; the time is kill() → that
//   callback, in the process that killed. At each SIGCHLD libuv 1.44 calls waitpid() on every
//   live process handle, so this floor shows what libuv's own reaping costs with N children
//   alive (Reaping::exit_cb).
// two-hop (--two-hop): the least kvd's exit path must do. The floor reaps as kvd does, from a
//   pidfd per child (Reaping::pidfd: O(1) per exit at any N; a victim always has its pidfd,
//   background children while the open file limit allows), and at the exit writes one
//   exit-event line over a Unix stream socket to a second process, its receiver (this program
//   again, as `kvd-bench-exit-floor --receive`), which is blocked in read(); the time is
//   kill() → the receiver's read() returning, stamped by the receiver. Two processes wake per
//   exit, as in kvd (kvd, then the subscriber or handler).
//
// Commands: grow / spawn / stop (floor_common.hpp), and
//   kill N   N rounds of: spawn a victim, wait until it answers a request on its socket
//            (so it is idle, as a bucket in kvd is), SIGKILL it and wait for its exit to be
//            known (one-hop: the exit callback; two-hop: the receiver's reply, which carries
//            its time of reading and is sent after it, so it is not timed); reply
//            {"lat_us":[...]}: one latency per round
//
// --receive: for each line read from stdin, writes to stdout the CLOCK_MONOTONIC nanoseconds
// at which the read() that completed it returned, one per line; exits at end of file.
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "bench/clock.hpp"
#include "bench/floor_common.hpp"

using namespace kvd::bench;
using namespace kvd::bench::floor;

namespace {

// Reads one line from a blocking descriptor, without its newline; false at end of file or on
// an error. Byte by byte: it is only used outside the timed interval.
bool read_line(int fd, std::string& line) {
    line.clear();
    char c;
    for (;;) {
        ssize_t n = read(fd, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        if (c == '\n') return true;
        line += c;
    }
}

// One request/reply round trip with a kv-bucket over its socket (blocking).
bool wait_ready(int fd) {
    const char req[] = "{\"op\":\"get\",\"key\":\"ready\"}\n";
    if (write(fd, req, sizeof req - 1) != static_cast<ssize_t>(sizeof req - 1)) return false;
    std::string reply;
    return read_line(fd, reply);
}

bool write_all(int fd, std::string_view s) {
    while (!s.empty()) {
        ssize_t n = write(fd, s.data(), s.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        s.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// The second process of the two-hop floor.
int receive() {
    std::string in;
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n == 0) return 0;
        if (n < 0) {
            if (errno == EINTR) continue;
            return 1;
        }
        int64_t now = mono_ns();
        in.append(buf, static_cast<std::size_t>(n));
        out.clear();
        for (auto nl = in.find('\n'); nl != std::string::npos; nl = in.find('\n')) {
            in.erase(0, nl + 1);
            out += std::to_string(now);
            out += '\n';
        }
        if (!out.empty() && !write_all(STDOUT_FILENO, out)) return 1;
    }
}

std::string self_exe() {
    char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    return n > 0 ? std::string(path, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 2 && std::strcmp(argv[1], "--receive") == 0) return receive();
    bool two_hop = argc == 3 && std::strcmp(argv[1], "--two-hop") == 0;
    if (argc != 2 && !two_hop) {
        std::fprintf(stderr,
                     "usage: kvd-bench-exit-floor [--two-hop] PROGRAM\n"
                     "       kvd-bench-exit-floor --receive\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    // A pidfd per child doubles the descriptors a child takes (kvd raises its limit alike).
    if (two_hop) raise_fd_limit(65536);
    Floor floor(argv[argc - 1], two_hop ? Reaping::pidfd : Reaping::exit_cb);

    // two-hop: the receiver, and the exit-event line the floor writes it for a victim.
    std::vector<std::unique_ptr<Child>> receiver;
    Child* victim = nullptr;
    if (two_hop) {
        receiver.push_back(std::make_unique<Child>());
        if (int rc = floor.spawn(*receiver.back(), self_exe(), "--receive"); rc != 0) {
            std::fprintf(stderr, "floor: spawning the receiver: %s\n", uv_strerror(rc));
            return 1;
        }
        floor.on_exit([&](Child& c) {
            if (&c != victim) return;
            char line[160];
            int len = std::snprintf(line, sizeof line,
                                    "{\"type\":\"exit\",\"bucket\":\"floor\",\"pid\":%d,"
                                    "\"code\":null,\"signal\":\"KILL\",\"reason\":\"killed\"}\n",
                                    static_cast<int>(c.pid));
            // One short line into an empty socket buffer: written whole, never blocks.
            if (!write_all(receiver.front()->socket_fd,
                           std::string_view(line, static_cast<std::size_t>(len))))
                std::fprintf(stderr, "floor: writing to the receiver: %s\n", std::strerror(errno));
        });
    }

    std::vector<std::unique_ptr<Child>> batch;
    std::string verb;
    long n = 0;
    int status = 0;
    while (status == 0 && read_command(verb, n)) {
        if (common_command(floor, verb, n, batch)) {
            continue;
        } else if (verb == "kill") {
            std::vector<double> lat;
            for (long i = 0; i < n && status == 0; ++i) {
                std::vector<std::unique_ptr<Child>> one;
                one.push_back(std::make_unique<Child>());
                Child& c = *one.back();
                if (int rc = floor.spawn(c); rc != 0) {
                    std::fprintf(stderr, "floor: uv_spawn: %s\n", uv_strerror(rc));
                    status = 1;
                    break;
                }
                if (!wait_ready(c.socket_fd)) {
                    std::fprintf(stderr, "floor: the victim did not answer\n");
                    status = 1;
                }
                // The victim's pidfd joins the loop's epoll set (and its closed process
                // handle's callback runs) on the loop's next turn: take that turn now, as
                // kvd's loop has long before a bucket is killed, so it is not timed.
                if (two_hop) uv_run(floor.loop(), UV_RUN_NOWAIT);
                victim = &c;
                int64_t t0 = mono_ns();
                kill(c.pid, SIGKILL);
                floor.run_until([&] { return c.exited; });
                victim = nullptr;
                int64_t t1 = c.exited_ns;
                if (two_hop && status == 0) {
                    std::string stamp;
                    if (!read_line(receiver.front()->socket_fd, stamp)) {
                        std::fprintf(stderr, "floor: the receiver did not answer\n");
                        status = 1;
                    }
                    t1 = std::strtoll(stamp.c_str(), nullptr, 10);
                }
                lat.push_back(ns_to_us(t1 - t0));
                floor.end_all(one, SIGKILL);
            }
            if (status == 0) reply("{\"lat_us\":" + json_array(lat) + "}");
        } else {
            reply("{\"error\":\"unknown command\"}");
        }
    }
    floor.end_all(batch, SIGKILL);
    floor.end_all(receiver, SIGKILL);
    return status;
}
