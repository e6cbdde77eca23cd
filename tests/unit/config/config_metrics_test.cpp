// [metrics] listen: off by default, the addresses it takes, and each error at its
// FILE:LINE:COLUMN.
#include "tests/unit/config/config_test_support.hpp"

namespace kvd::testing {
namespace {

TEST(ConfigMetrics, OffByDefault) {
    EXPECT_FALSE(parse_ok("").metrics.listen);
    EXPECT_FALSE(parse_ok("[metrics]\n").metrics.listen);
}

TEST(ConfigMetrics, Addresses) {
    EXPECT_EQ(parse_ok("[metrics]\nlisten = \"127.0.0.1:9464\"\n").metrics.listen,
              "127.0.0.1:9464");
    EXPECT_EQ(parse_ok("[metrics]\nlisten = \"0.0.0.0:0\"\n").metrics.listen, "0.0.0.0:0");
    EXPECT_EQ(parse_ok("[metrics]\nlisten = \"[::1]:65535\"\n").metrics.listen, "[::1]:65535");
}

TEST(ConfigMetrics, Errors) {
    auto first = [](std::string_view text) {
        auto errors = errors_of(text);
        return errors.empty() ? std::string() : errors.front();
    };
    EXPECT_EQ(first("[metrics]\nlisten = 9464\n"),
              "kvd.toml:2:10: metrics.listen must be a string, not an integer");
    EXPECT_EQ(first("[metrics]\nlisten = \"\"\n"),
              "kvd.toml:2:10: metrics.listen must not be empty");
    EXPECT_EQ(first("[metrics]\nlisten = \"9464\"\n")
                  .rfind("kvd.toml:2:10: metrics.listen: \"9464\" has no port", 0),
              0u);
    EXPECT_EQ(first("[metrics]\nlisten = \"localhost:9464\"\n")
                  .rfind("kvd.toml:2:10: metrics.listen: \"localhost\" is not an IPv4 address", 0),
              0u);
    EXPECT_EQ(first("[metrics]\nlisten = \"127.0.0.1:65536\"\n")
                  .rfind("kvd.toml:2:10: metrics.listen: \"65536\" is not a port", 0),
              0u);
    EXPECT_EQ(first("[metrics]\nlisten = \"127.0.0.1:\"\n")
                  .rfind("kvd.toml:2:10: metrics.listen: \"\" is not a port", 0),
              0u);
    EXPECT_EQ(first("[metrics]\nlisten = \"[::g]:1\"\n")
                  .rfind("kvd.toml:2:10: metrics.listen: \"[::g]\" is not an IPv6 address", 0),
              0u);
    EXPECT_EQ(first("[metrics]\nlisen = \"127.0.0.1:1\"\n"),
              "kvd.toml:2:1: unknown key 'lisen' in [metrics]; did you mean 'listen'?");
    EXPECT_EQ(first("metrics = 1\n"), "kvd.toml:1:11: metrics must be a table, not an integer");
}

}  // namespace
}  // namespace kvd::testing
