// Splits a byte stream into '\n'-terminated lines, refusing any line longer than a limit.
// Pure: no I/O. Feed it whatever a read returned; it hands back complete lines.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kvd {

class LineBuffer {
  public:
    explicit LineBuffer(std::size_t max_line_bytes) : max_line_(max_line_bytes) {}

    // Appends bytes. Returns false once the pending (unterminated) line exceeds the limit;
    // the buffer then stays overflowed and accepts nothing more.
    bool append(std::string_view bytes);

    // Takes the next complete line (without '\n', and without a trailing '\r') into `line`.
    // Lines taken before an overflowing one are still returned.
    bool next_line(std::string& line);

    bool overflowed() const { return overflowed_; }
    // Bytes received but not yet part of a complete line.
    std::size_t pending_bytes() const { return data_.size() - start_; }
    // The memory it holds. Once every line was taken, at most 128 KiB: the room a long line
    // needed is given back.
    std::size_t held_bytes() const { return data_.capacity(); }

  private:
    std::size_t max_line_;
    std::string data_;
    std::size_t start_ = 0;    // first byte not yet returned
    std::size_t scanned_ = 0;  // bytes before this offset hold no '\n' past start_
    bool overflowed_ = false;
};

}  // namespace kvd
