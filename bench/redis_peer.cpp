#include "bench/redis_peer.hpp"

#include <thread>

#include "bench/clock.hpp"
#include "bench/conn.hpp"

namespace kvd::bench {

RedisServer::RedisServer(const TempDir& dir, const std::string& program)
    : socket_(dir.file("redis.sock")) {
    StartSpec spec;
    spec.argv = {program, "--port", "0",       "--unixsocket", socket_, "--unixsocketperm",
                 "700",   "--save", "",        "--appendonly", "no",    "--daemonize",
                 "no",    "--dir",  dir.path()};
    spec.log_path = dir.file("redis.log");
    process_ = std::make_unique<Process>("redis-server", spec);
    int64_t deadline = deadline_in_ms(20'000);
    for (;;) {
        try {
            Conn c(socket_);
            c.send(resp_command({"PING"}));
            std::string_view line = c.wait_line(deadline_in_ms(5'000));
            if (line.starts_with("+PONG")) return;
            throw BenchError("redis-server answered PING with " + std::string(line));
        } catch (const BenchError&) {
            if (!process_->running())
                throw BenchError("redis-server exited at startup; see " + dir.file("redis.log"));
            if (mono_ns() > deadline) throw BenchError("redis-server did not start");
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
}

std::string resp_command(const std::vector<std::string_view>& args) {
    std::string out = "*" + std::to_string(args.size()) + "\r\n";
    for (auto a : args) {
        out += "$" + std::to_string(a.size()) + "\r\n";
        out.append(a);
        out += "\r\n";
    }
    return out;
}

namespace {
// The header line "<type><text>\r\n": its length including \r\n (0 if incomplete) and the
// integer it carries.
std::size_t header(std::string_view buf, long long& number) {
    auto end = buf.find("\r\n");
    if (end == std::string_view::npos) return 0;
    long long v = 0;
    bool negative = end > 1 && buf[1] == '-';
    for (std::size_t i = negative ? 2 : 1; i < end; ++i) v = v * 10 + (buf[i] - '0');
    number = negative ? -v : v;
    return end + 2;
}
}  // namespace

std::size_t resp_reply_size(std::string_view buf) {
    if (buf.empty()) return 0;
    long long n = 0;
    std::size_t head = header(buf, n);
    if (head == 0) return 0;
    switch (buf[0]) {
        case '+':
        case '-':
        case ':':
            return head;
        case '$': {
            if (n < 0) return head;
            std::size_t total = head + static_cast<std::size_t>(n) + 2;
            return buf.size() >= total ? total : 0;
        }
        case '*': {
            std::size_t total = head;
            for (long long i = 0; i < n; ++i) {
                std::size_t one = resp_reply_size(buf.substr(total));
                if (one == 0) return 0;
                total += one;
            }
            return total;
        }
        default:
            throw BenchError("not a RESP reply: " + std::string(buf.substr(0, 40)));
    }
}

}  // namespace kvd::bench
