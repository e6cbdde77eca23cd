// test_handler: plays every handler of the end-to-end tests (README "Writing a handler"). stdin and
// stdout are its end of the socket pair with kvd: one JSON event per line in, acks out. What it
// does with each event is chosen on the command line:
//
//   test_handler [options] MODE [ARG]
//     ack            answer every event with "ok"
//     ack-json       answer every event with {"ack":SEQ}
//     never-ack      read events, never answer
//     async          the same as never-ack, for handlers configured with mode = "async"
//     exit-after N   answer N events, then exit with status 1 (N = 0: exit at once)
//     slow MS        wait MS milliseconds before each "ok"
//     garbage        flood stdout with lines that are not acks (and bytes that are not text)
//     exit-on-event  exit with status 1 on each event received, without answering it
//     close-stdin    close fd 0 at once and keep running without reading; fd 1 is the same
//                    socket and stays open, so to kvd it looks like a handler that stopped
//                    reading (what `exec <&-` in a shell handler does)
//     shutdown-stdin shut down the reading side of the socket (shutdown(0, SHUT_RD)) and keep
//                    running: kvd can no longer write to it at all
//   options:
//     --out FILE     append every event line received to FILE, one write per line
//     --ready FILE   once started, write "pid=PID" and the requested --env lines to FILE
//                    (written to FILE.tmp and renamed, so a reader sees all of it or nothing)
//     --env NAME     report $NAME in the ready file as "NAME=value" (or "NAME" if unset)
//     --stderr TEXT  write TEXT as one line to stderr when started
//     --ignore-term  ignore SIGTERM, so that only SIGKILL or end of file ends it
//     --hold FILE    while FILE exists, read and answer nothing (looked at every 10 ms): a
//                    handler that is stuck until the test lets it go
//
// It exits 0 at end of file on stdin, and 1 when it cannot write to stdout.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

enum class Mode {
    ack,
    ack_json,
    never_ack,
    exit_after,
    slow,
    garbage,
    exit_on_event,
    close_stdin,
    shutdown_stdin
};

struct Options {
    Mode mode = Mode::ack;
    long arg = 0;
    std::string out_path;
    std::string ready_path;
    std::vector<std::string> env_names;
    std::string stderr_line;
    std::string hold_path;
    bool ignore_term = false;
};

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr, "test_handler: %s\n", why);
    std::fprintf(
        stderr,
        "usage: test_handler [--out FILE] [--ready FILE] [--env NAME] [--stderr TEXT] "
        "[--ignore-term] [--hold FILE] ack|ack-json|never-ack|async|exit-after N|slow MS|garbage|"
        "exit-on-event|close-stdin|shutdown-stdin\n");
    std::exit(2);
}

long parse_number(const char* text) {
    long n = 0;
    std::string_view s(text);
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || p != s.data() + s.size() || n < 0) usage("expected a number");
    return n;
}

Options parse_args(int argc, char** argv) {
    Options o;
    bool have_mode = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) usage("option needs a value");
            return argv[++i];
        };
        if (a == "--out")
            o.out_path = value();
        else if (a == "--ready")
            o.ready_path = value();
        else if (a == "--env")
            o.env_names.emplace_back(value());
        else if (a == "--stderr")
            o.stderr_line = value();
        else if (a == "--ignore-term")
            o.ignore_term = true;
        else if (a == "--hold")
            o.hold_path = value();
        else if (have_mode)
            usage("more than one mode");
        else {
            have_mode = true;
            if (a == "ack")
                o.mode = Mode::ack;
            else if (a == "ack-json")
                o.mode = Mode::ack_json;
            else if (a == "never-ack" || a == "async")
                o.mode = Mode::never_ack;
            else if (a == "garbage")
                o.mode = Mode::garbage;
            else if (a == "exit-on-event")
                o.mode = Mode::exit_on_event;
            else if (a == "close-stdin")
                o.mode = Mode::close_stdin;
            else if (a == "shutdown-stdin")
                o.mode = Mode::shutdown_stdin;
            else if (a == "exit-after") {
                o.mode = Mode::exit_after;
                o.arg = parse_number(value());
            } else if (a == "slow") {
                o.mode = Mode::slow;
                o.arg = parse_number(value());
            } else {
                usage("unknown mode");
            }
        }
    }
    if (!have_mode) usage("no mode");
    return o;
}

bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                pollfd p{fd, POLLOUT, 0};
                poll(&p, 1, -1);
                continue;
            }
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

void write_ready_file(const Options& o) {
    std::string text = "pid=" + std::to_string(getpid()) + "\n";
    for (const auto& name : o.env_names) {
        const char* v = std::getenv(name.c_str());
        text += v ? name + "=" + v + "\n" : name + "\n";
    }
    std::string tmp = o.ready_path + ".tmp";
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || !write_all(fd, text)) {
        std::perror("test_handler: ready file");
        std::exit(2);
    }
    close(fd);
    std::rename(tmp.c_str(), o.ready_path.c_str());
}

// The value of the top-level "seq" of an event line; 0 if there is none. Events are written
// by kvd, so a plain scan for the key is enough here.
unsigned long long seq_of(std::string_view line) {
    auto at = line.find("\"seq\":");
    if (at == std::string_view::npos) return 0;
    std::string_view rest = line.substr(at + 6);
    unsigned long long seq = 0;
    std::from_chars(rest.data(), rest.data() + rest.size(), seq);
    return seq;
}

// Returns once `path` does not exist (at once when no path is given).
void wait_while_exists(const std::string& path) {
    while (!path.empty() && access(path.c_str(), F_OK) == 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

std::string junk_chunk() {
    std::string chunk;
    for (int i = 0; i < 64; ++i) chunk += "this is not an ack {\"ack\":\"nope\"} okay\n";
    for (int i = 0; i < 256; ++i) chunk += static_cast<char>(i == '\n' ? 0 : i);
    chunk += '\n';
    return chunk;
}

}  // namespace

int main(int argc, char** argv) {
    Options o = parse_args(argc, argv);
    std::signal(SIGPIPE, SIG_IGN);
    if (o.ignore_term) std::signal(SIGTERM, SIG_IGN);
    if (!o.stderr_line.empty()) std::fprintf(stderr, "%s\n", o.stderr_line.c_str());

    int out_fd = -1;
    if (!o.out_path.empty()) {
        out_fd = open(o.out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (out_fd < 0) {
            std::perror("test_handler: --out");
            return 2;
        }
    }
    if (!o.ready_path.empty()) write_ready_file(o);
    if (o.mode == Mode::exit_after && o.arg == 0) return 1;
    if (o.mode == Mode::close_stdin || o.mode == Mode::shutdown_stdin) {
        if (o.mode == Mode::close_stdin)
            close(STDIN_FILENO);
        else if (shutdown(STDIN_FILENO, SHUT_RD) != 0)
            return 2;
        // Still running, reading nothing: only a signal ends it.
        for (;;) pause();
    }

    // In garbage mode stdout is written whenever it has room, so both directions are polled
    // and the socket is non-blocking (stdin and stdout share it).
    const std::string junk = o.mode == Mode::garbage ? junk_chunk() : std::string();
    std::size_t junk_off = 0;
    if (o.mode == Mode::garbage)
        fcntl(STDOUT_FILENO, F_SETFL, fcntl(STDOUT_FILENO, F_GETFL) | O_NONBLOCK);

    std::string pending;
    long acked = 0;
    char buf[65536];
    for (;;) {
        pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {STDOUT_FILENO, POLLOUT, 0}};
        int n = poll(fds, o.mode == Mode::garbage ? 2 : 1, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            return 1;
        }
        if (o.mode == Mode::garbage && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = write(STDOUT_FILENO, junk.data() + junk_off, junk.size() - junk_off);
            if (w < 0 && errno != EAGAIN && errno != EINTR) return 1;
            if (w > 0) junk_off = (junk_off + static_cast<std::size_t>(w)) % junk.size();
        }
        if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        wait_while_exists(o.hold_path);
        ssize_t r = read(STDIN_FILENO, buf, sizeof buf);
        if (r == 0) return 0;
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return errno == ECONNRESET ? 0 : 1;
        }
        pending.append(buf, static_cast<std::size_t>(r));
        std::size_t nl;
        while ((nl = pending.find('\n')) != std::string::npos) {
            std::string line = pending.substr(0, nl);
            pending.erase(0, nl + 1);
            if (out_fd >= 0) write_all(out_fd, line + "\n");
            if (o.mode == Mode::exit_on_event) return 1;
            std::string reply;
            switch (o.mode) {
                case Mode::ack:
                    reply = "ok\n";
                    break;
                case Mode::ack_json:
                    reply = "{\"ack\":" + std::to_string(seq_of(line)) + "}\n";
                    break;
                case Mode::slow:
                    std::this_thread::sleep_for(std::chrono::milliseconds(o.arg));
                    reply = "ok\n";
                    break;
                case Mode::exit_after:
                    reply = "ok\n";
                    break;
                case Mode::never_ack:
                case Mode::garbage:
                case Mode::exit_on_event:
                case Mode::close_stdin:
                case Mode::shutdown_stdin:
                    break;
            }
            wait_while_exists(o.hold_path);
            if (!reply.empty() && !write_all(STDOUT_FILENO, reply)) return 1;
            if (o.mode == Mode::exit_after && ++acked >= o.arg) return 1;
        }
    }
}
