// kvd-bench-ack-handler [FIFO]: the handler kvd runs during the benchmark. It does the least
// a handler can: acknowledges each event the moment it has read it (in sync mode, as
// $KVD_HANDLER_MODE says), and for every `exit` event writes "BUCKET NANOSECONDS\n" to FIFO,
// the CLOCK_MONOTONIC time at which the event's line was read. It never blocks on the FIFO:
// a full FIFO loses records, never delays an ack. Exits at end of file, like every handler.
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "bench/clock.hpp"

namespace {

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

// The value of a string field in an event line, found without a JSON parser: kvd writes
// `"bucket":"NAME"` and bucket names never need escaping.
std::string_view string_field(std::string_view line, std::string_view key) {
    auto at = line.find(key);
    if (at == std::string_view::npos) return {};
    auto start = at + key.size();
    auto end = line.find('"', start);
    return end == std::string_view::npos ? std::string_view{} : line.substr(start, end - start);
}

}  // namespace

int main(int argc, char** argv) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGPIPE, SIG_IGN);
    const char* mode = std::getenv("KVD_HANDLER_MODE");
    bool sync = !mode || std::strcmp(mode, "async") != 0;
    int fifo = argc > 1 ? open(argv[1], O_WRONLY | O_NONBLOCK | O_CLOEXEC) : -1;

    std::string in;
    std::string acks;
    char buf[65536];
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n == 0) return 0;
        if (n < 0) {
            if (errno == EINTR) continue;
            return 1;
        }
        int64_t now = kvd::bench::mono_ns();
        in.append(buf, static_cast<std::size_t>(n));
        std::size_t start = 0;
        acks.clear();
        std::string records;
        for (;;) {
            auto nl = in.find('\n', start);
            if (nl == std::string::npos) break;
            std::string_view line(in.data() + start, nl - start);
            start = nl + 1;
            if (sync) acks += "ok\n";
            if (fifo >= 0 && line.find(R"("type":"exit")") != std::string_view::npos) {
                records += string_field(line, R"("bucket":")");
                records += ' ';
                records += std::to_string(now);
                records += '\n';
            }
        }
        in.erase(0, start);
        if (!acks.empty()) write_all(STDOUT_FILENO, acks);
        // One write per record batch; a FIFO write of at most PIPE_BUF bytes is atomic.
        if (!records.empty()) {
            ssize_t ignored = write(fifo, records.data(), records.size());
            (void)ignored;
        }
    }
}
