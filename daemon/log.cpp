#include "daemon/log.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

namespace kvd::log {

namespace {

// True when fd 2 is the stream systemd's journal gave us (JOURNAL_STREAM=dev:inode).
bool stderr_is_journal() {
    const char* js = std::getenv("JOURNAL_STREAM");
    if (!js) return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
    struct stat st {};
    if (fstat(STDERR_FILENO, &st) != 0) return false;
    return st.st_dev == dev && st.st_ino == ino;
}

// "%*" in the pattern: the sd-daemon priority prefix for the message's level.
class SyslogPriorityFlag : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        static constexpr const char* kPrefix[] = {"<7>", "<7>", "<6>", "<4>", "<3>", "<2>", "<6>"};
        const char* p = kPrefix[static_cast<int>(msg.level)];
        dest.append(p, p + 3);
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<SyslogPriorityFlag>();
    }
};

// What waits for stderr's reader at most; past it, lines are dropped and counted.
constexpr std::size_t kMaxPendingLogBytes = 1024 * 1024;

// Writes formatted lines to stderr without ever blocking (see log.hpp).
class NonBlockingStderrSink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    NonBlockingStderrSink() {
        struct stat st {};
        if (fstat(STDERR_FILENO, &st) == 0) {
            if (S_ISSOCK(st.st_mode)) {
                socket_ = true;
            } else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
                // A description of its own, so that O_NONBLOCK does not change the pipe or
                // terminal for the other processes sharing fd 2's description.
                int fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
                if (fd >= 0) fd_ = fd;
            }
        }
    }
    ~NonBlockingStderrSink() override {
        if (fd_ != STDERR_FILENO) ::close(fd_);
    }

    bool flush_pending() {
        std::lock_guard<std::mutex> lock(mutex_);
        write_out();
        return pending_.empty();
    }
    bool has_pending() {
        std::lock_guard<std::mutex> lock(mutex_);
        return !pending_.empty();
    }
    // Waits up to `timeout_ms` for stderr to take what is waiting (at exit only).
    void drain(int timeout_ms) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        for (;;) {
            write_out();
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (pending_.empty() || left.count() <= 0) return;
            pollfd p{fd_, POLLOUT, 0};
            poll(&p, 1, static_cast<int>(left.count()));
        }
    }

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        spdlog::memory_buf_t formatted;
        formatter_->format(msg, formatted);
        write_out();
        if (dropped_ > 0 && pending_.size() < kMaxPendingLogBytes) {
            pending_ += fmt::format("kvd: {} log line(s) dropped: stderr was full\n", dropped_);
            dropped_ = 0;
        }
        if (pending_.size() + formatted.size() > kMaxPendingLogBytes) {
            ++dropped_;
            return;
        }
        pending_.append(formatted.data(), formatted.size());
        write_out();
    }
    void flush_() override { write_out(); }

  private:
    void write_out() {
        while (!pending_.empty()) {
            ssize_t n =
                socket_ ? send(fd_, pending_.data(), pending_.size(), MSG_DONTWAIT | MSG_NOSIGNAL)
                        : write(fd_, pending_.data(), pending_.size());
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK) pending_.clear();  // nobody reads
                return;
            }
            pending_.erase(0, static_cast<std::size_t>(n));
        }
    }

    int fd_ = STDERR_FILENO;
    bool socket_ = false;
    std::string pending_;
    uint64_t dropped_ = 0;
};

std::shared_ptr<NonBlockingStderrSink>& stderr_sink() {
    static std::shared_ptr<NonBlockingStderrSink> sink;
    return sink;
}

}  // namespace

bool flush_pending() {
    return !stderr_sink() || stderr_sink()->flush_pending();
}
bool has_pending() {
    return stderr_sink() && stderr_sink()->has_pending();
}
void drain(int timeout_ms) {
    if (stderr_sink()) stderr_sink()->drain(timeout_ms);
}

bool RepeatLimiter::admit(uint64_t now_ms, uint64_t& suppressed) {
    suppressed = 0;
    if (!started_ || now_ms - window_start_ >= window_ms_) {
        started_ = true;
        window_start_ = now_ms;
        used_ = 0;
        suppressed = take_suppressed();
    }
    if (used_ < burst_) {
        ++used_;
        return true;
    }
    ++suppressed_;
    return false;
}

uint64_t RepeatLimiter::take_suppressed() {
    return std::exchange(suppressed_, 0);
}

void init() {
    stderr_sink() = std::make_shared<NonBlockingStderrSink>();
    auto logger = std::make_shared<spdlog::logger>("kvd", stderr_sink());
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    if (stderr_is_journal()) {
        formatter->add_flag<SyslogPriorityFlag>('*').set_pattern("%*%v");
    } else {
        formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%e kvd[%P] %l: %v");
    }
    logger->set_formatter(std::move(formatter));
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(std::move(logger));
    spdlog::set_level(spdlog::level::info);
}

std::optional<spdlog::level::level_enum> parse_level(std::string_view name) {
    if (name == "trace") return spdlog::level::trace;
    if (name == "debug") return spdlog::level::debug;
    if (name == "info") return spdlog::level::info;
    if (name == "warn") return spdlog::level::warn;
    if (name == "error") return spdlog::level::err;
    return std::nullopt;
}

void set_level(spdlog::level::level_enum level) {
    spdlog::set_level(level);
}

}  // namespace kvd::log
