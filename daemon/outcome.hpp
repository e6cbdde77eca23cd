// The result of an operation inside the loop: a result object, or a protocol error. Errors
// are values here; nothing inside the loop throws.
#pragma once

#include <functional>
#include <string>
#include <variant>

#include "common/protocol.hpp"
#include "common/wire.hpp"

namespace kvd {

struct Failure {
    wire::ErrorCode code;
    std::string message;
};

using Outcome = std::variant<Json, Failure>;
using OutcomeFn = std::function<void(Outcome)>;

}  // namespace kvd
