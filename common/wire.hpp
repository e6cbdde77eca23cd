// The wire vocabulary of kvd: every op name, error code and event type that crosses a
// socket is spelled here and nowhere else.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace kvd::wire {

inline constexpr std::string_view kProtocolVersion = "1";

// The longest request or reply line accepted on the control socket, without its '\n'.
inline constexpr std::size_t kMaxLineBytes = 1024 * 1024;

namespace op {
inline constexpr std::string_view kPing = "ping";
inline constexpr std::string_view kStatus = "status";
inline constexpr std::string_view kCreate = "create";
inline constexpr std::string_view kLookup = "lookup";
inline constexpr std::string_view kList = "list";
inline constexpr std::string_view kStop = "stop";
inline constexpr std::string_view kKill = "kill";
inline constexpr std::string_view kPut = "put";
inline constexpr std::string_view kGet = "get";
inline constexpr std::string_view kDelete = "delete";
inline constexpr std::string_view kKeys = "keys";
inline constexpr std::string_view kNotify = "notify";
inline constexpr std::string_view kSubscribe = "subscribe";
inline constexpr std::string_view kHandlers = "handlers";
inline constexpr std::string_view kReload = "reload";
inline constexpr std::string_view kRestart = "restart";
inline constexpr std::string_view kLogs = "logs";
inline constexpr std::string_view kMetrics = "metrics";
}  // namespace op

enum class ErrorCode {
    bad_request,
    invalid_name,
    not_found,
    limit,
    spawn_failed,
    timeout,
    unavailable,
    history_lost,
    permission_denied,
    internal,
};

std::string_view error_code_name(ErrorCode code);
std::optional<ErrorCode> parse_error_code(std::string_view name);

namespace event {
inline constexpr std::string_view kCreate = "create";
inline constexpr std::string_view kExit = "exit";
inline constexpr std::string_view kDropped = "dropped";
inline constexpr std::string_view kFailed = "failed";

// Types a client may not publish with `notify`.
inline bool is_reserved(std::string_view type) {
    return type == kCreate || type == kExit || type == kDropped || type == kFailed;
}
}  // namespace event

// Why a bucket exited, as the `exit` event's `reason` says it.
namespace exit_reason {
inline constexpr std::string_view kExited = "exited";
inline constexpr std::string_view kStopped = "stopped";
inline constexpr std::string_view kKilled = "killed";
}  // namespace exit_reason

}  // namespace kvd::wire
