#include "daemon/proc/usage.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <string>

namespace kvd::proc {

std::optional<ProcessUsage> parse_proc_stat(std::string_view stat, long ticks_per_second,
                                            long page_size) {
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are
    // counted from the last ')'. After it, field 3 (state) comes first; utime is field 14,
    // stime 15 and rss 24.
    std::size_t close = stat.rfind(')');
    if (close == std::string_view::npos || ticks_per_second <= 0 || page_size <= 0)
        return std::nullopt;
    std::string_view rest = stat.substr(close + 1);
    uint64_t utime = 0, stime = 0, rss = 0;
    int field = 2;
    std::size_t i = 0;
    while (i < rest.size() && field < 24) {
        while (i < rest.size() && rest[i] == ' ') ++i;
        std::size_t end = rest.find(' ', i);
        if (end == std::string_view::npos) end = rest.size();
        ++field;
        std::string_view token = rest.substr(i, end - i);
        uint64_t* into = field == 14 ? &utime : field == 15 ? &stime : field == 24 ? &rss : nullptr;
        if (into) {
            auto [p, ec] = std::from_chars(token.data(), token.data() + token.size(), *into);
            if (ec != std::errc() || p != token.data() + token.size()) return std::nullopt;
        }
        i = end;
    }
    if (field < 24) return std::nullopt;
    ProcessUsage u;
    u.cpu_ms = (utime + stime) * 1000 / static_cast<uint64_t>(ticks_per_second);
    u.rss_bytes = rss * static_cast<uint64_t>(page_size);
    return u;
}

namespace {

// /proc/PID/stat, or "" when it cannot be read.
std::string read_stat(pid_t pid) {
    std::string path = "/proc/" + std::to_string(pid) + "/stat";
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {};
    char buf[1024];
    ssize_t n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace

std::optional<ProcessUsage> read_usage(pid_t pid) {
    static const long ticks = sysconf(_SC_CLK_TCK);
    static const long page = sysconf(_SC_PAGESIZE);
    std::string stat = read_stat(pid);
    if (stat.empty()) return std::nullopt;
    return parse_proc_stat(stat, ticks, page);
}

pid_t read_parent(pid_t pid) {
    // "pid (comm) S ppid ...": comm may hold anything, so fields start after the last ')'.
    std::string stat = read_stat(pid);
    std::size_t close = stat.rfind(')');
    if (close == std::string::npos || close + 4 >= stat.size()) return 0;
    std::string_view ppid = std::string_view(stat).substr(close + 4);  // past ") S "
    pid_t parent = 0;
    auto [p, ec] = std::from_chars(ppid.data(), ppid.data() + ppid.size(), parent);
    return ec == std::errc() && *p == ' ' ? parent : 0;
}

}  // namespace kvd::proc
