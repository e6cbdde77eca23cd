// kv-bucket: one bucket of kvd. Serves the bucket protocol on stdin/stdout (one socket pair
// with kvd) until end of file, SIGTERM, or the death of kvd.
//
// Orphan safety: the kernel sends SIGKILL when the parent dies (PR_SET_PDEATHSIG), and end
// of file on stdin (kvd's end of the socket closed) also ends the process.
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bucket/store.hpp"
#include "common/line_buffer.hpp"
#include "common/wire.hpp"

namespace {

volatile sig_atomic_t g_stop = 0;

void on_term(int) {
    g_stop = 1;
}

bool write_all(int fd, const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = write(fd, data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR && !g_stop) continue;
            return false;
        }
        off += static_cast<std::size_t>(n);
    }
    return true;
}

void watch_parent() {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // kvd may have died before prctl took effect: then we were already re-parented.
    if (const char* expected = std::getenv("KVD_PID")) {
        if (std::to_string(getppid()) != expected) _exit(1);
    }
}

}  // namespace

int main(int argc, char** argv) {
    const char* name = argc > 1 ? argv[1] : "?";
    watch_parent();

    struct sigaction sa {};
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: a blocked read returns EINTR so we can leave
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);

    std::size_t max_reply_bytes = kvd::Store::kDefaultMaxReplyBytes;
    if (const char* bound = std::getenv("KVD_MAX_REPLY_BYTES")) {
        char* end = nullptr;
        errno = 0;
        unsigned long long n = std::strtoull(bound, &end, 10);
        if (errno == 0 && end != bound && *end == '\0' && n > 0) max_reply_bytes = n;
    }
    kvd::Store store(max_reply_bytes);
    kvd::LineBuffer lines(kvd::wire::kMaxLineBytes * 4);
    std::string line, out;
    char buf[64 * 1024];
    while (!g_stop) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n == 0) break;  // kvd closed its end
        if (n < 0) {
            if (errno == EINTR) continue;
            std::fprintf(stderr, "kv-bucket %s: read: %s\n", name, std::strerror(errno));
            return 1;
        }
        if (!lines.append(std::string_view(buf, static_cast<std::size_t>(n)))) {
            std::fprintf(stderr, "kv-bucket %s: request line too long\n", name);
            return 1;
        }
        // Answer every complete request of this read in one write: pipelined requests
        // cost one syscall per batch, not per request.
        out.clear();
        while (lines.next_line(line)) store.handle_line(line, out);
        if (!out.empty() && !write_all(STDOUT_FILENO, out)) {
            if (g_stop) break;
            std::fprintf(stderr, "kv-bucket %s: write: %s\n", name, std::strerror(errno));
            return 1;
        }
    }
    return 0;
}
