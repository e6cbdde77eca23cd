#include "common/line_buffer.hpp"

namespace kvd {

namespace {
// Room kept between reads once every line was handed out; more is given back.
constexpr std::size_t kKeptCapacity = 128 * 1024;

// Whether the unterminated tail from `start` is already longer than `max` bytes. A final
// '\r' is not counted: it may be the first half of a "\r\n" whose '\n' is still in
// flight, and the line it ends is measured without it.
bool tail_too_long(const std::string& data, std::size_t start, std::size_t max) {
    std::size_t n = data.size() - start;
    if (n > 0 && data.back() == '\r') --n;
    return n > max;
}
}  // namespace

bool LineBuffer::append(std::string_view bytes) {
    if (overflowed_) return false;
    // Compact lazily so that a stream of short lines does not shift bytes on every read.
    if (start_ > 0 && (start_ == data_.size() || start_ > 64 * 1024)) {
        data_.erase(0, start_);
        scanned_ -= start_;
        start_ = 0;
    }
    data_.append(bytes);
    // Only the unterminated tail can overflow; complete lines were checked in next_line().
    std::size_t newline = data_.find('\n', scanned_);
    if (newline == std::string::npos && tail_too_long(data_, start_, max_line_)) overflowed_ = true;
    return !overflowed_;
}

bool LineBuffer::next_line(std::string& line) {
    if (start_ == data_.size() && start_ > 0) {
        // Everything was handed out: start afresh, and give back the room a long line took.
        data_.clear();
        start_ = scanned_ = 0;
        if (data_.capacity() > kKeptCapacity) data_.shrink_to_fit();
        return false;
    }
    std::size_t newline = data_.find('\n', scanned_ > start_ ? scanned_ : start_);
    if (newline == std::string::npos) {
        scanned_ = data_.size();
        if (tail_too_long(data_, start_, max_line_)) overflowed_ = true;
        return false;
    }
    std::size_t end = newline;
    if (end > start_ && data_[end - 1] == '\r') --end;
    if (end - start_ > max_line_) {
        overflowed_ = true;
        return false;
    }
    line.assign(data_, start_, end - start_);
    start_ = newline + 1;
    scanned_ = start_;
    return true;
}

}  // namespace kvd
