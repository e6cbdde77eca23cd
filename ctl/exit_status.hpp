// kvctl's exit statuses: the part of kvctl that scripts rely on most.
#pragma once

namespace kvd::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitDaemonError = 1;  // kvd answered with an error
inline constexpr int kExitUsage = 2;        // bad arguments; nothing was sent
inline constexpr int kExitUnreachable = 3;  // no answer from kvd: not running, refused, timeout

// A command ended by a signal the user sent (Ctrl-C on `events`) exits as a shell reports a
// process killed by it: 128 + the signal number (130 for SIGINT, 143 for SIGTERM).
inline constexpr int exit_status_for_signal(int signo) {
    return 128 + signo;
}

}  // namespace kvd::ctl
