// Regression: deeply nested arrays or inline tables crashed parse_config (toml11 recursed until
// the stack overflowed, so `kvd --check-config` and reload died with SIGSEGV). Found by feeding
// fuzz_config a hand-made input (now in its seed corpus); such text is now one positioned error,
// and brackets inside strings and comments are not mistaken for nesting.
#include <gtest/gtest.h>

#include <string>

#include "daemon/config.hpp"
#include "tests/unit/config/config_test_support.hpp"

namespace kvd {
namespace {

using testing::errors_of;
using testing::Lines;
using testing::parse_ok;

std::string repeat(std::string_view s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
}

TEST(ConfigNestingRegression, DeepArraysAreAnErrorNotACrash) {
    std::string text = "[daemon]\nsocket = " + repeat("[", 10000) + repeat("]", 10000) + "\n";
    EXPECT_EQ(errors_of(text),
              (Lines{"kvd.toml:2:74: arrays and inline tables nested more than 64 deep"}));
}

TEST(ConfigNestingRegression, DeepInlineTablesAreAnErrorNotACrash) {
    std::string text = "a = " + repeat("{b = ", 10000) + "1" + repeat("}", 10000) + "\n";
    EXPECT_EQ(errors_of(text), (Lines{"kvd.toml:1:" + std::to_string(4 + 64 * 5 + 1) +
                                      ": arrays and inline tables nested more than 64 deep"}));
}

TEST(ConfigNestingRegression, SixtyFourLevelsStillReachTheSchema) {
    std::string text = "[[handler]]\nname = \"a\"\ncommand = " + repeat("[", 63) + "\"x\"" +
                       repeat("]", 63) + "\n";
    EXPECT_EQ(errors_of(text),
              (Lines{"kvd.toml:3:12: handler.command[0] must be a string, not an array"}));
}

TEST(ConfigNestingRegression, BracketsInStringsAndCommentsAreNotNesting) {
    std::string brackets = repeat("[{", 100);
    // 100 levels still, in a path short enough for a socket address (106 bytes).
    std::string in_socket = repeat("[{", 25);
    Config config = parse_ok("# " + brackets + "\n[daemon]\nsocket = \"/tmp/" + in_socket + "\\\"" +
                             in_socket + "\"  # " + brackets + "\nsocket_group = '" + brackets +
                             "'\n[[handler]]\nname = \"h\"\ncommand = [\"\"\"\n" + brackets +
                             "\n\\\"\"\"\"\", '''" + brackets + "\n" + brackets + "''''']\n");
    EXPECT_EQ(config.daemon.socket, "/tmp/" + in_socket + "\"" + in_socket);
    EXPECT_EQ(config.daemon.socket_group, brackets);
    ASSERT_EQ(config.handlers.size(), 1u);
    EXPECT_EQ(config.handlers[0].command,
              (std::vector<std::string>{brackets + "\n\"\"", brackets + "\n" + brackets + "''"}));
}

}  // namespace
}  // namespace kvd
