#include "bench/floor_peer.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bench/clock.hpp"
#include "bench/conn.hpp"

namespace kvd::bench {

FloorProcess::FloorProcess(const std::string& name, const std::string& program,
                           const std::string& child_program, const std::string& log_path,
                           const std::vector<std::string>& flags) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
        throw BenchError(std::string("pipe2: ") + std::strerror(errno));
    StartSpec spec;
    spec.argv = {program};
    spec.argv.insert(spec.argv.end(), flags.begin(), flags.end());
    spec.argv.push_back(child_program);
    spec.log_path = log_path;
    spec.stdin_fd = in[0];
    spec.stdout_fd = out[1];
    try {
        process_ = std::make_unique<Process>(name, spec);
    } catch (...) {
        for (int fd : {in[0], in[1], out[0], out[1]}) close(fd);
        throw;
    }
    close(in[0]);
    close(out[1]);
    to_floor_ = in[1];
    from_floor_ = out[0];
    fcntl(from_floor_, F_SETFL, fcntl(from_floor_, F_GETFL) | O_NONBLOCK);
}

FloorProcess::~FloorProcess() {
    // End of file on its stdin: the floor kills and reaps its children, then exits.
    if (to_floor_ >= 0) close(to_floor_);
    if (from_floor_ >= 0) close(from_floor_);
    if (!process_->wait_exit(std::chrono::seconds(60)))
        process_->terminate(std::chrono::seconds(5));
}

nlohmann::json FloorProcess::command(const std::string& verb, long arg, int64_t timeout_ms) {
    std::string line = verb + " " + std::to_string(arg) + "\n";
    if (write(to_floor_, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
        throw BenchError(process_->name() + ": cannot send a command");
    int64_t deadline = deadline_in_ms(timeout_ms);
    for (;;) {
        auto nl = buffer_.find('\n');
        if (nl != std::string::npos) {
            std::string reply = buffer_.substr(0, nl);
            buffer_.erase(0, nl + 1);
            auto j = nlohmann::json::parse(reply, nullptr, false);
            if (j.is_discarded() || j.contains("error"))
                throw BenchError(process_->name() + ": bad reply to '" + verb + "': " + reply);
            return j;
        }
        int64_t left = deadline - mono_ns();
        if (left <= 0) throw BenchError(process_->name() + ": no reply to '" + verb + "' in time");
        pollfd p{from_floor_, POLLIN, 0};
        poll(&p, 1, static_cast<int>(left / 1'000'000) + 1);
        char buf[65536];
        ssize_t n = read(from_floor_, buf, sizeof buf);
        if (n == 0) throw BenchError(process_->name() + " exited (see its log)");
        if (n > 0) buffer_.append(buf, static_cast<std::size_t>(n));
    }
}

}  // namespace kvd::bench
