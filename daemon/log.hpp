// kvd's log: spdlog to stderr. When stderr is the journal ($JOURNAL_STREAM matches it), each
// line starts with a syslog priority prefix ("<3>") so journald files it at the right level
// and the timestamp is left to journald.
#pragma once

#include <spdlog/spdlog.h>

#include <optional>
#include <string_view>

namespace kvd::log {

// Sets up the default logger. Call once, first thing in main().
void init();

// "trace|debug|info|warn|error"; nullopt if `name` is none of them.
std::optional<spdlog::level::level_enum> parse_level(std::string_view name);

void set_level(spdlog::level::level_enum level);

}  // namespace kvd::log
