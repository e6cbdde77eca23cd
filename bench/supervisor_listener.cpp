// kvd-bench-listener FIFO: a supervisord event listener (its READY / RESULT protocol on
// stdin/stdout) for PROCESS_STATE_EXITED. For each event it writes "PID NANOSECONDS\n" to
// FIFO, the CLOCK_MONOTONIC time at which the event's header was read, then acknowledges.
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <string>
#include <string_view>

#include "bench/clock.hpp"

namespace {

std::string g_in;

bool fill() {
    char buf[4096];
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n > 0) {
            g_in.append(buf, static_cast<std::size_t>(n));
            return true;
        }
        if (n < 0 && errno == EINTR) continue;
        return false;
    }
}

void write_all(int fd, std::string_view s) {
    while (!s.empty()) {
        ssize_t n = write(fd, s.data(), s.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return;
        }
        s.remove_prefix(static_cast<std::size_t>(n));
    }
}

// "key:value" among space-separated tokens.
std::string token(std::string_view text, std::string_view key) {
    std::string k = " " + std::string(key) + ":";
    std::string padded = " " + std::string(text);
    auto at = padded.find(k);
    if (at == std::string::npos) return {};
    auto start = at + k.size();
    auto end = padded.find_first_of(" \n", start);
    return padded.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace

int main(int argc, char** argv) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGPIPE, SIG_IGN);
    int fifo = argc > 1 ? open(argv[1], O_WRONLY | O_NONBLOCK | O_CLOEXEC) : -1;
    for (;;) {
        write_all(STDOUT_FILENO, "READY\n");
        std::size_t nl;
        while ((nl = g_in.find('\n')) == std::string::npos)
            if (!fill()) return 0;
        int64_t now = kvd::bench::mono_ns();
        std::string header = g_in.substr(0, nl);
        g_in.erase(0, nl + 1);
        std::size_t len = std::strtoul(token(header, "len").c_str(), nullptr, 10);
        while (g_in.size() < len)
            if (!fill()) return 0;
        std::string payload = g_in.substr(0, len);
        g_in.erase(0, len);
        if (fifo >= 0 && token(header, "eventname") == "PROCESS_STATE_EXITED") {
            std::string record = token(payload, "pid") + " " + std::to_string(now) + "\n";
            ssize_t ignored = write(fifo, record.data(), record.size());
            (void)ignored;
        }
        write_all(STDOUT_FILENO, "RESULT 2\nOK");
    }
}
