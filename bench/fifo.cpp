#include "bench/fifo.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "bench/clock.hpp"
#include "bench/conn.hpp"

namespace kvd::bench {

RecordFifo::RecordFifo(std::string path) : path_(std::move(path)) {
    if (mkfifo(path_.c_str(), 0600) != 0 && errno != EEXIST)
        throw BenchError("mkfifo " + path_ + ": " + std::strerror(errno));
    // Read-write keeps the FIFO from reporting end of file whenever the writer restarts.
    fd_ = open(path_.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) throw BenchError("open " + path_ + ": " + std::strerror(errno));
}

RecordFifo::~RecordFifo() {
    if (fd_ >= 0) close(fd_);
}

void RecordFifo::read_available() {
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd_, buf, sizeof buf);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            break;
        }
        partial_.append(buf, static_cast<std::size_t>(n));
    }
    std::size_t start = 0;
    for (;;) {
        auto nl = partial_.find('\n', start);
        if (nl == std::string::npos) break;
        std::string_view line(partial_.data() + start, nl - start);
        auto sp = line.rfind(' ');
        if (sp != std::string_view::npos)
            seen_[std::string(line.substr(0, sp))] =
                std::strtoll(std::string(line.substr(sp + 1)).c_str(), nullptr, 10);
        start = nl + 1;
    }
    partial_.erase(0, start);
}

std::optional<int64_t> RecordFifo::wait_for(const std::string& key, int64_t deadline_ns) {
    for (;;) {
        read_available();
        if (auto it = seen_.find(key); it != seen_.end()) {
            int64_t ns = it->second;
            seen_.erase(it);
            return ns;
        }
        int64_t left = deadline_ns - mono_ns();
        if (left <= 0) return std::nullopt;
        pollfd p{fd_, POLLIN, 0};
        poll(&p, 1, static_cast<int>(left / 1'000'000) + 1);
    }
}

void RecordFifo::drain() {
    read_available();
    seen_.clear();
    partial_.clear();
}

}  // namespace kvd::bench
