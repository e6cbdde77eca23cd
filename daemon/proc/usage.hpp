// What a running process uses, read from /proc: resident memory and CPU time.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace kvd::proc {

// What the kernel says a process used: resident memory and CPU time (user + system).
struct ProcessUsage {
    uint64_t rss_bytes = 0;
    uint64_t cpu_ms = 0;
};

// nullopt when the process's stat cannot be read (it has just ended, or /proc is hidden).
std::optional<ProcessUsage> read_usage(pid_t pid);
// The parent of `pid`, from the same /proc/PID/stat; 0 when it cannot be read.
pid_t read_parent(pid_t pid);
// The usage in the text of /proc/PID/stat, given the clock tick rate and page size. Pure.
std::optional<ProcessUsage> parse_proc_stat(std::string_view stat, long ticks_per_second,
                                            long page_size);

}  // namespace kvd::proc
