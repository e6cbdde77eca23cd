// The one UTF-8 validator (common/utf8.hpp): what it accepts, and where it says the first bad
// byte is.
#include "common/utf8.hpp"

#include <gtest/gtest.h>

#include <string>

#include "common/protocol.hpp"

namespace kvd {
namespace {

using utf8::first_invalid;

TEST(Utf8, AsciiAndWellFormedSequencesAreValid) {
    EXPECT_EQ(first_invalid(""), std::nullopt);
    EXPECT_EQ(first_invalid("plain ascii"), std::nullopt);
    EXPECT_EQ(first_invalid(std::string("nul \0 inside", 12)), std::nullopt);
    EXPECT_EQ(first_invalid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), std::nullopt);
    // The edges of each length, and the code points next to the surrogates and past them.
    EXPECT_EQ(first_invalid("\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xef\xbf\xbf"), std::nullopt);
    EXPECT_EQ(first_invalid("\xed\x9f\xbf \xee\x80\x80"), std::nullopt);
    EXPECT_EQ(first_invalid("\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf"), std::nullopt);
}

TEST(Utf8, EachKindOfBadSequenceIsFoundAtItsLeadByte) {
    EXPECT_EQ(first_invalid("caf\xe9"), 3u);              // Latin-1
    EXPECT_EQ(first_invalid("ab\x80"), 2u);               // a lone continuation byte
    EXPECT_EQ(first_invalid("a\xc0\xaf"), 1u);            // overlong '/'
    EXPECT_EQ(first_invalid("a\xc1\xbf"), 1u);            // overlong
    EXPECT_EQ(first_invalid("\xe0\x9f\xbf"), 0u);         // overlong 3-byte form
    EXPECT_EQ(first_invalid("x\xed\xa0\x80"), 1u);        // a UTF-16 surrogate
    EXPECT_EQ(first_invalid("\xf0\x8f\xbf\xbf"), 0u);     // overlong 4-byte form
    EXPECT_EQ(first_invalid("ok \xf4\x90\x80\x80"), 3u);  // past U+10FFFF
    EXPECT_EQ(first_invalid("\xf5\x80\x80\x80"), 0u);     // no such lead byte
    EXPECT_EQ(first_invalid("\xff"), 0u);
    EXPECT_EQ(first_invalid("\xc3\xa9\xc3\x28"), 2u);  // a broken second sequence
}

TEST(Utf8, ASequenceCutShortByTheEndIsInvalid) {
    EXPECT_EQ(first_invalid("\xc3"), 0u);
    EXPECT_EQ(first_invalid("ab\xe2\x82"), 2u);
    EXPECT_EQ(first_invalid("\xf0\x9f\x98"), 0u);
    // The length check must not read past the view, even when more bytes follow in memory.
    std::string buffer = "\xe2\x82\xac";
    EXPECT_EQ(first_invalid(std::string_view(buffer).substr(0, 2)), 0u);
    EXPECT_EQ(utf8::sequence_length(buffer.data(), buffer.data() + 2), 0u);
    EXPECT_EQ(utf8::sequence_length(buffer.data(), buffer.data() + 3), 3u);
}

// The validator agrees with nlohmann::json's strict check (what kvd's protocol enforces) on
// every one- and two-byte input and on every three-byte input with a lead byte above 0x7f.
TEST(Utf8, AgreesWithNlohmannOnEveryShortInput) {
    auto nlohmann_valid = [](const std::string& s) {
        try {
            Json(s).dump(-1, ' ', false, Json::error_handler_t::strict);
            return true;
        } catch (const Json::exception&) {
            return false;
        }
    };
    std::string s;
    for (int a = 0; a < 256; ++a) {
        s.assign(1, static_cast<char>(a));
        ASSERT_EQ(utf8::is_valid(s), nlohmann_valid(s)) << a;
        for (int b = 0; b < 256; ++b) {
            s.assign({static_cast<char>(a), static_cast<char>(b)});
            ASSERT_EQ(utf8::is_valid(s), nlohmann_valid(s)) << a << ' ' << b;
        }
    }
    for (int a = 0xe0; a < 0xf8; ++a) {
        for (int b = 0x70; b < 0xd0; ++b) {
            for (int c = 0x70; c < 0xd0; ++c) {
                s.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)});
                ASSERT_EQ(utf8::is_valid(s), nlohmann_valid(s)) << a << ' ' << b << ' ' << c;
            }
        }
    }
}

}  // namespace
}  // namespace kvd
