#include "common/wire.hpp"

#include <array>
#include <utility>

namespace kvd::wire {

namespace {
constexpr std::array<std::pair<ErrorCode, std::string_view>, 10> kErrorNames{{
    {ErrorCode::bad_request, "bad_request"},
    {ErrorCode::invalid_name, "invalid_name"},
    {ErrorCode::not_found, "not_found"},
    {ErrorCode::limit, "limit"},
    {ErrorCode::spawn_failed, "spawn_failed"},
    {ErrorCode::timeout, "timeout"},
    {ErrorCode::unavailable, "unavailable"},
    {ErrorCode::history_lost, "history_lost"},
    {ErrorCode::permission_denied, "permission_denied"},
    {ErrorCode::internal, "internal"},
}};
}  // namespace

std::string_view error_code_name(ErrorCode code) {
    for (const auto& [c, name] : kErrorNames)
        if (c == code) return name;
    return "internal";
}

std::optional<ErrorCode> parse_error_code(std::string_view name) {
    for (const auto& [c, n] : kErrorNames)
        if (n == name) return c;
    return std::nullopt;
}

}  // namespace kvd::wire
