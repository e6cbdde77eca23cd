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

constexpr const char* kArrayCut =
    "value having invalid format appeared in an array (it is not a valid value)";

TEST(ConfigEndOfFileRegression, ErrorAtTheEndStaysOnTheLastLine) {
    EXPECT_EQ(errors_of("a = ["), (Lines{std::string("kvd.toml:1:6: ") + kArrayCut}));
    EXPECT_EQ(errors_of("[[handler]]\nname = \"a\"\ncommand = ["),
              (Lines{std::string("kvd.toml:3:12: ") + kArrayCut}));
}

TEST(ConfigEndOfFileRegression, TextEndingInANewlineIsUnchanged) {
    EXPECT_EQ(errors_of("a = [\n"), (Lines{std::string("kvd.toml:2:1: ") + kArrayCut}));
}

}  // namespace
}  // namespace kvd
