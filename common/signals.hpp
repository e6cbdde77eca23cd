// Signal names as the protocol spells them ("SIGKILL") and their numbers.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kvd {

// Accepts "SIGTERM", "TERM", "term" and "15".
std::optional<int> parse_signal(std::string_view name);

// "SIGTERM"; "SIG<n>" for a number without a name.
std::string signal_name(int signo);

// Whether the default action of `signo` ends the process (SIGTERM, SIGHUP, SIGUSR1, SIGKILL,
// real-time signals…); false for SIGSTOP, SIGCONT, SIGCHLD and the other stop or ignore ones.
bool ends_process_by_default(int signo);

}  // namespace kvd
