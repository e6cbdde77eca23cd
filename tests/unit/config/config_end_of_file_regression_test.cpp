// Regression: a syntax error at the very end of a config without a final newline was reported
// on the line after the last (toml11 appends the '\n' it parses against), e.g. "kvd.toml:2:1"
// for the one-line "a = [". Found by fuzz_config; the error now points just past the last
// character, and text that does end in a newline is reported as before.
#include <gtest/gtest.h>

#include "daemon/config.hpp"
#include "tests/unit/config/config_test_support.hpp"

namespace kvd {
namespace {

using testing::errors_of;
using testing::Lines;

TEST(ConfigEndOfFileRegression, ErrorAtTheEndStaysOnTheLastLine) {
    EXPECT_EQ(errors_of("a = ["),
              (Lines{"kvd.toml:1:6: end of file inside the array opened at 1:5"}));
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = ["),
              (Lines{"kvd.toml:3:12: end of file inside the array opened at 3:11"}));
}

TEST(ConfigEndOfFileRegression, TextEndingInANewlineIsUnchanged) {
    EXPECT_EQ(errors_of("a = [\n"),
              (Lines{"kvd.toml:2:1: end of file inside the array opened at 1:5"}));
}

}  // namespace
}  // namespace kvd
