// Regression: a literal string ('…' or '''…''') holding a byte that is not UTF-8 sent toml11
// down an error path that reads outside the text: a debug kvd aborted on an assertion, a
// release one printed "kvd.toml:0:0: basic_string::_M_create". Found by fuzz_config under
// AddressSanitizer (heap-buffer-overflow in toml::detail::location::reset). Text that is not
// UTF-8 is now one positioned error before toml11 sees it.
#include <gtest/gtest.h>

#include <string>

#include "daemon/config.hpp"
#include "tests/unit/config/config_test_support.hpp"

namespace kvd {
namespace {

using testing::errors_of;
using testing::Lines;
using testing::parse_ok;

std::string invalid(int line, int column, const char* byte) {
    return "kvd.toml:" + std::to_string(line) + ":" + std::to_string(column) +
           ": invalid UTF-8 (byte 0x" + byte + "); a config must be UTF-8 text";
}

TEST(ConfigUtf8Regression, LiteralStringsWithABadByteAreAnErrorNotACrash) {
    EXPECT_EQ(errors_of("a = '\xff'\n"), (Lines{invalid(1, 6, "ff")}));
    EXPECT_EQ(errors_of("[daemon]\nsocket = '''\n/tmp/\xc3\x28'''\n"),
              (Lines{invalid(3, 6, "c3")}));
}

TEST(ConfigUtf8Regression, EveryPlaceAndKindOfBadSequenceIsReported) {
    EXPECT_EQ(errors_of("# caf\xe9\n"), (Lines{invalid(1, 6, "e9")}));                 // Latin-1
    EXPECT_EQ(errors_of("a = \"\xc0\xaf\"\n"), (Lines{invalid(1, 6, "c0")}));          // overlong
    EXPECT_EQ(errors_of("a = \"\xed\xa0\x80\"\n"), (Lines{invalid(1, 6, "ed")}));      // surrogate
    EXPECT_EQ(errors_of("a = \"\xf4\x90\x80\x80\"\n"), (Lines{invalid(1, 6, "f4")}));  // > U+10FFFF
    EXPECT_EQ(errors_of("a = \"\xe2\x82\""), (Lines{invalid(1, 6, "e2")}));            // cut short
}

TEST(ConfigUtf8Regression, ValidUtf8IsStillAccepted) {
    Config config = parse_ok(
        "# caf\xc3\xa9\n[daemon]\nsocket = '/tmp/caf\xc3\xa9-\xe2\x82\xac-"
        "\xf0\x9f\x98\x80.sock'\n");
    EXPECT_EQ(config.daemon.socket, "/tmp/caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80.sock");
}

}  // namespace
}  // namespace kvd
