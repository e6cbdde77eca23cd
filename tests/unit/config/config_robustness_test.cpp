// Truncated and mangled input never throws and always yields positioned, one-line errors.
#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "daemon/config.hpp"

namespace kvd {
namespace {

const char* kConfig = R"([daemon]
socket_mode = "0660"
max_buckets = 10
log_level = "info"
[bucket]
stop_timeout = "5s"
[[handler]]
name = "audit"
command = ["handlers/log-events", "x.log"]
events = ["create", "exit"]
env = { A = "1", "B" = "2" }
restart_delay = "100ms"
)";

void expect_well_formed(const std::string& text) {
    ConfigResult result;
    ASSERT_NO_THROW(result = parse_config(text, "kvd.toml")) << text;
    if (auto* errors = std::get_if<std::vector<ConfigError>>(&result)) {
        ASSERT_FALSE(errors->empty());
        for (const auto& e : *errors) {
            EXPECT_GE(e.line, 1) << e.to_string();
            EXPECT_GE(e.column, 1) << e.to_string();
            EXPECT_FALSE(e.message.empty()) << text;
            EXPECT_EQ(e.message.find('\n'), std::string::npos) << e.to_string();
        }
    }
}

TEST(ConfigRobustness, EveryPrefix) {
    std::string text = kConfig;
    for (std::size_t n = 0; n <= text.size(); ++n) expect_well_formed(text.substr(0, n));
}

TEST(ConfigRobustness, EveryByteReplaced) {
    std::string text = kConfig;
    for (std::size_t i = 0; i < text.size(); ++i) {
        for (char c : {'"', '[', '=', '\n', 'x', '\0'}) {
            std::string mangled = text;
            mangled[i] = c;
            expect_well_formed(mangled);
        }
    }
}

}  // namespace
}  // namespace kvd
