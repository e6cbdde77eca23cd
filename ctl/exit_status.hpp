// kvctl's exit statuses (SPEC §5): the part of kvctl that scripts rely on most.
#pragma once

namespace kvd::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitDaemonError = 1;  // kvd answered with an error
inline constexpr int kExitUsage = 2;        // bad arguments; nothing was sent
inline constexpr int kExitUnreachable = 3;  // no answer from kvd: not running, refused, timeout

}  // namespace kvd::ctl
