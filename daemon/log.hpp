// kvd's log: spdlog to stderr. When stderr is the journal ($JOURNAL_STREAM matches it), each
// line starts with a syslog priority prefix ("<3>") so journald files it at the right level
// and the timestamp is left to journald.
//
// Logging never blocks kvd's loop: stderr is written without blocking (a pipe or terminal is
// reopened non-blocking, a socket is sent to with MSG_DONTWAIT), what the reader has not
// taken yet waits in a bounded buffer, and what does not fit is dropped and counted ("N log
// lines dropped: stderr was full"). Repeated lines from one source (refused clients, a
// handler flooding its stderr) are rate-limited with "N similar lines suppressed".
#pragma once

#include <spdlog/spdlog.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace kvd::log {

// Sets up the default logger. Call once, first thing in main().
void init();

// "trace|debug|info|warn|error"; nullopt if `name` is none of them.
std::optional<spdlog::level::level_enum> parse_level(std::string_view name);

void set_level(spdlog::level::level_enum level);

// Writes out what is waiting in the log buffer, as far as stderr takes it now; true when
// nothing is left waiting. kvd calls it from a timer while something waits.
bool flush_pending();
bool has_pending();
// At exit: waits up to `timeout_ms` for stderr to take what is still waiting.
void drain(int timeout_ms);

// A rate limit per source of repeated log lines: at most `burst` lines per `window`; the
// rest are counted and reported as one "N similar lines suppressed" line when the next
// window opens (or on flush). Pure: the caller gives the time.
class RepeatLimiter {
  public:
    RepeatLimiter(unsigned burst, uint64_t window_ms) : burst_(burst), window_ms_(window_ms) {}
    // Whether a line may be logged at `now_ms`. When a new window opens after lines were
    // suppressed, `suppressed` is set to their number (to be reported first).
    bool admit(uint64_t now_ms, uint64_t& suppressed);
    // Lines suppressed in the current window and not reported yet; resets the count.
    uint64_t take_suppressed();

  private:
    unsigned burst_;
    uint64_t window_ms_;
    uint64_t window_start_ = 0;
    unsigned used_ = 0;
    uint64_t suppressed_ = 0;
    bool started_ = false;
};

}  // namespace kvd::log
