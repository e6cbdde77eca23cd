// Small helpers shared by the config tests: parse literal TOML, get the config or the errors.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "daemon/config.hpp"

namespace kvd::testing {

inline constexpr const char* kFile = "kvd.toml";

// The parsed config; a test failure (listing the errors) when the text is invalid.
inline Config parse_ok(std::string_view text, const std::string& file = kFile) {
    ConfigResult result = parse_config(text, file);
    if (auto* errors = std::get_if<std::vector<ConfigError>>(&result)) {
        std::string all;
        for (const auto& e : *errors) all += e.to_string() + "\n";
        ADD_FAILURE() << "unexpected config errors:\n" << all;
        return Config{};
    }
    return std::get<Config>(std::move(result));
}

// Every error as "FILE:LINE:COLUMN: message"; empty (and a test failure) when the text is valid.
inline std::vector<std::string> errors_of(std::string_view text, const std::string& file = kFile) {
    ConfigResult result = parse_config(text, file);
    auto* errors = std::get_if<std::vector<ConfigError>>(&result);
    if (!errors) {
        ADD_FAILURE() << "expected config errors, got a valid config for:\n" << text;
        return {};
    }
    std::vector<std::string> lines;
    for (const auto& e : *errors) lines.push_back(e.to_string());
    return lines;
}

using Lines = std::vector<std::string>;

}  // namespace kvd::testing
