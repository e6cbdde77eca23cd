// One captured output line of a bucket, and the pure code that makes it: splitting a byte
// stream into lines of bounded length, turning raw bytes into the text kvd keeps (valid UTF-8,
// a cut line marked), and the JSON line a `logs` follower receives. No I/O.
//
// A line longer than the bound keeps its first `max_line` bytes; the rest, up to the next
// '\n', is discarded and counted, and the kept text ends with "…[cut N bytes]" (N the bytes
// discarded). So a program that writes megabytes without a newline costs kvd at most
// `max_line` bytes, and the line shows up once its '\n' (or end of file) comes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.hpp"

namespace kvd::logs {

// Which of a child's output streams a line came from. (Not stdout/stderr: those are macros.)
enum class Stream : uint8_t { out, err };

// "stdout" / "stderr", as the wire and the log file spell them.
std::string_view stream_name(Stream s);

// The longest line kept whole; longer ones are cut (see above).
inline constexpr std::size_t kMaxLineBytes = 16 * 1024;

struct LogEntry {
    Stream stream;
    WallTime time;
    std::string text;  // valid UTF-8, possibly ending in the cut mark
};

// Splits bytes into lines: each '\n' ends one (a '\r' before it is dropped). Holds at most
// `max_line` bytes of an unterminated line.
class LineSplitter {
  public:
    explicit LineSplitter(std::size_t max_line = kMaxLineBytes) : max_line_(max_line) {}

    // Calls on_line(raw, cut_bytes) for every line `bytes` completes. `raw` is valid only
    // during the call.
    template <typename F>
    void feed(std::string_view bytes, F&& on_line) {
        while (!bytes.empty()) {
            std::size_t nl = bytes.find('\n');
            std::string_view piece = bytes.substr(0, nl);
            if (nl == std::string_view::npos) {
                keep(piece);
                return;
            }
            bytes.remove_prefix(nl + 1);
            if (partial_.empty() && cut_ == 0 && piece.size() <= max_line_) {
                on_line(trim_cr(piece), std::size_t{0});  // the usual case: no copy
                continue;
            }
            keep(piece);
            emit(on_line);
        }
    }

    // End of file: the last line, if it had no '\n'.
    template <typename F>
    void finish(F&& on_line) {
        if (!partial_.empty() || cut_ > 0) emit(on_line);
    }

    // Bytes held for an unterminated line.
    std::size_t pending_bytes() const { return partial_.size(); }

  private:
    void keep(std::string_view piece) {
        std::size_t room = max_line_ - partial_.size();
        std::size_t take = piece.size() < room ? piece.size() : room;
        partial_.append(piece.substr(0, take));
        cut_ += piece.size() - take;
    }
    template <typename F>
    void emit(F& on_line) {
        on_line(trim_cr(partial_), cut_);
        partial_.clear();
        if (partial_.capacity() > 4096) partial_.shrink_to_fit();
        cut_ = 0;
    }
    static std::string_view trim_cr(std::string_view s) {
        if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
        return s;
    }

    std::size_t max_line_;
    std::string partial_;
    std::size_t cut_ = 0;
};

// The text kept for a line: `raw` with every byte that does not start a valid UTF-8
// character replaced by U+FFFD, then, when `cut_bytes` > 0, "…[cut N bytes]".
std::string line_text(std::string_view raw, std::size_t cut_bytes);

// Appends `text` (valid UTF-8) as a JSON string, quotes included.
void append_json_string(std::string& out, std::string_view text);

// {"stream":"stderr","line":"…","time":"2026-…Z"} and a '\n': what a follower receives.
std::string follow_line(const LogEntry& entry);

// "2026-…Z stderr text\n": a line of the log file.
std::string file_line(const LogEntry& entry);

}  // namespace kvd::logs
