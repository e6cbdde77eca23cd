// kvd-nats's diagnostics: one line each on stderr, which kvd logs under the handler's name.
#pragma once

#include <fmt/format.h>

#include <cstdio>

namespace kvd::fleet {

template <typename... Args>
void log_line(const char* level, fmt::format_string<Args...> format, Args&&... args) {
    std::string line = fmt::format("{}: ", level);
    line += fmt::format(format, std::forward<Args>(args)...);
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
}

template <typename... Args>
void log_info(fmt::format_string<Args...> format, Args&&... args) {
    log_line("info", format, std::forward<Args>(args)...);
}
template <typename... Args>
void log_warn(fmt::format_string<Args...> format, Args&&... args) {
    log_line("warn", format, std::forward<Args>(args)...);
}
template <typename... Args>
void log_error(fmt::format_string<Args...> format, Args&&... args) {
    log_line("error", format, std::forward<Args>(args)...);
}

}  // namespace kvd::fleet
