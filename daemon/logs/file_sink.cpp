#include "daemon/logs/file_sink.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kvd::logs {

namespace {
constexpr uint64_t kRetryMs = 1000;
}  // namespace

std::string rotated_path(const std::string& dir, std::string_view name, unsigned index) {
    return index == 0 ? fmt::format("{}/{}.log", dir, name)
                      : fmt::format("{}/{}.log.{}", dir, name, index);
}

FileSink::~FileSink() {
    close_file();
}

std::string FileSink::path() const {
    return rotated_path(settings_.dir, name_, 0);
}

void FileSink::configure(const FileSettings& settings) {
    if (settings.dir != settings_.dir) close_file();
    settings_ = settings;
    if (!enabled()) pending_.clear();
}

bool FileSink::add(std::string_view line) {
    if (!enabled()) return true;
    if (pending_.size() + line.size() > kMaxPendingBytes) {
        ++dropped_;
        return false;
    }
    pending_.append(line);
    return true;
}

void FileSink::reopen() {
    close_file();
    retry_at_ms_ = 0;
}

void FileSink::close_file() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    size_ = 0;
}

void FileSink::failed(const std::string& what, int err) {
    if (!failing_) {
        failing_ = true;
        dropped_at_failure_ = dropped_;
        spdlog::error(
            "log of bucket {}: cannot {}: {}; its lines wait (up to {} KiB), then are "
            "dropped, until writing works again",
            name_, what, std::strerror(err), kMaxPendingBytes / 1024);
    }
}

bool FileSink::open_file() {
    std::string file = path();
    fd_ = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    if (fd_ < 0) {
        failed("open " + file, errno);
        return false;
    }
    struct stat st {};
    size_ = fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
    return true;
}

bool FileSink::rotate() {
    close_file();
    std::string live = rotated_path(settings_.dir, name_, 0);
    if (settings_.keep == 0) {
        if (::unlink(live.c_str()) != 0 && errno != ENOENT) {
            failed("remove " + live, errno);
            return false;
        }
        return open_file();
    }
    for (unsigned i = settings_.keep; i > 1; --i) {
        std::string from = rotated_path(settings_.dir, name_, i - 1);
        std::string to = rotated_path(settings_.dir, name_, i);
        if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
            failed("rename " + from, errno);
            return false;
        }
    }
    std::string first = rotated_path(settings_.dir, name_, 1);
    if (::rename(live.c_str(), first.c_str()) != 0 && errno != ENOENT) {
        failed("rename " + live, errno);
        return false;
    }
    return open_file();
}

void FileSink::flush(uint64_t now_ms) {
    if (!enabled() || pending_.empty()) return;
    if (failing_ && now_ms < retry_at_ms_) return;
    auto give_up_for_now = [&] { retry_at_ms_ = now_ms + kRetryMs; };
    if (fd_ < 0 && !open_file()) return give_up_for_now();
    std::size_t done = 0;
    while (done < pending_.size()) {
        std::string_view rest = std::string_view(pending_).substr(done);
        // The whole lines that still fit in this file; at least one line in an empty file.
        uint64_t room = settings_.max_size > size_ ? settings_.max_size - size_ : 0;
        std::size_t take = rest.size();
        if (take > room) {
            std::size_t last_nl = room == 0 ? std::string_view::npos : rest.rfind('\n', room - 1);
            take = last_nl == std::string_view::npos ? 0 : last_nl + 1;
            if (take == 0 && size_ == 0) {  // one line longer than max_size: alone in a file
                std::size_t nl = rest.find('\n');
                take = nl == std::string_view::npos ? rest.size() : nl + 1;
            }
        }
        if (take == 0) {
            if (!rotate()) break;
            continue;
        }
        ssize_t n = ::write(fd_, rest.data(), take);
        if (n < 0) {
            if (errno == EINTR) continue;
            failed("write " + path(), errno);
            break;
        }
        size_ += static_cast<uint64_t>(n);
        done += static_cast<std::size_t>(n);
    }
    pending_.erase(0, done);
    if (!pending_.empty()) {
        // A partly written line stays at the front: the file continues it at the next try.
        give_up_for_now();
        return;
    }
    if (pending_.capacity() > 64 * 1024) pending_.shrink_to_fit();
    if (failing_) {
        failing_ = false;
        spdlog::info("log of bucket {}: writing {} works again ({} line(s) dropped meanwhile)",
                     name_, path(), dropped_ - dropped_at_failure_);
    }
}

}  // namespace kvd::logs
