// Placeholder until the TOML loader lands: built-in defaults only.
#include "daemon/config.hpp"

#include <fmt/format.h>

namespace kvd {

std::string_view handler_mode_name(HandlerMode m) { return m == HandlerMode::sync ? "sync" : "async"; }
std::string_view restart_policy_name(RestartPolicy p) {
    switch (p) {
        case RestartPolicy::always: return "always";
        case RestartPolicy::on_failure: return "on-failure";
        case RestartPolicy::never: return "never";
    }
    return "always";
}
std::string ConfigError::to_string() const { return fmt::format("{}:{}:{}: {}", file, line, column, message); }
ConfigResult parse_config(std::string_view, const std::string& filename) {
    Config c;
    c.path = filename;
    return c;
}
ConfigResult load_config_file(const std::string& path) { return parse_config("", path); }

}  // namespace kvd
