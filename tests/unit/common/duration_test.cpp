// Durations: parsing what people write ("250ms", "1.5s", "2") and formatting back.
#include "common/duration.hpp"

#include <gtest/gtest.h>

namespace kvd {
namespace {

using namespace std::chrono_literals;

std::optional<Millis> parse(std::string_view text) {
    return parse_duration(text);
}

TEST(Duration, Units) {
    EXPECT_EQ(parse("250ms"), Millis(250));
    EXPECT_EQ(parse("5s"), Millis(5000));
    EXPECT_EQ(parse("1m"), Millis(60'000));
    EXPECT_EQ(parse("2min"), Millis(120'000));
    EXPECT_EQ(parse("1h"), Millis(3'600'000));
    EXPECT_EQ(parse("24h"), Millis(86'400'000));
    EXPECT_EQ(parse("0s"), Millis(0));
    EXPECT_EQ(parse("0ms"), Millis(0));
    EXPECT_EQ(parse("3000us"), Millis(3));
}

TEST(Duration, Fractions) {
    EXPECT_EQ(parse("1.5s"), Millis(1500));
    EXPECT_EQ(parse("0.25s"), Millis(250));
    EXPECT_EQ(parse(".5s"), Millis(500));
    EXPECT_EQ(parse("0.5m"), Millis(30'000));
    EXPECT_EQ(parse("1.5h"), Millis(5'400'000));
    EXPECT_EQ(parse("0.001s"), Millis(1));
    EXPECT_EQ(parse("2.4ms"), Millis(2));
    EXPECT_EQ(parse("2.6ms"), Millis(3));
}

TEST(Duration, PlainNumberIsMilliseconds) {
    EXPECT_EQ(parse("0"), Millis(0));
    EXPECT_EQ(parse("2"), Millis(2));
    EXPECT_EQ(parse("100"), Millis(100));
    EXPECT_EQ(parse("86400000"), Millis(86'400'000));
}

TEST(Duration, Garbage) {
    for (std::string_view text : {"", "abc", "s", "ms", "-5s", "+5s", " 5s", "5s ", "5 s", "1.2.3s",
                                  ".", "..s", "five", "5s5", "0x10", "1e3"}) {
        std::string why;
        EXPECT_EQ(parse_duration(text, &why), std::nullopt) << "'" << text << "'";
        EXPECT_FALSE(why.empty()) << "'" << text << "'";
    }
}

TEST(Duration, UnknownUnitIsNamed) {
    std::string why;
    EXPECT_EQ(parse_duration("5d", &why), std::nullopt);
    EXPECT_NE(why.find("'d'"), std::string::npos) << why;
    EXPECT_EQ(parse_duration("5S", &why), std::nullopt);
    EXPECT_EQ(parse_duration("5sec", &why), std::nullopt);
    EXPECT_EQ(parse_duration("5MS", &why), std::nullopt);
}

TEST(Duration, ErrorIsOptional) {
    EXPECT_EQ(parse_duration("nope", nullptr), std::nullopt);
    std::string why = "untouched";
    EXPECT_EQ(parse_duration("5s", &why), Millis(5000));
}

TEST(Duration, AbsurdlyLongIsRefused) {
    std::string why;
    EXPECT_EQ(parse_duration("99999999999999999999999h", &why), std::nullopt);
    EXPECT_NE(why.find("too long"), std::string::npos) << why;
}

TEST(Duration, FormatPicksTheShortestExactUnit) {
    EXPECT_EQ(format_duration(0ms), "0ms");
    EXPECT_EQ(format_duration(1ms), "1ms");
    EXPECT_EQ(format_duration(250ms), "250ms");
    EXPECT_EQ(format_duration(1500ms), "1500ms");
    EXPECT_EQ(format_duration(5000ms), "5s");
    EXPECT_EQ(format_duration(90'000ms), "90s");
    EXPECT_EQ(format_duration(60'000ms), "1m");
    EXPECT_EQ(format_duration(5'400'000ms), "90m");
    EXPECT_EQ(format_duration(3'600'000ms), "1h");
    EXPECT_EQ(format_duration(86'400'000ms), "24h");
}

TEST(Duration, FormatThenParseRoundTrips) {
    for (int64_t ms : {0LL, 1LL, 7LL, 999LL, 1000LL, 1001LL, 59'999LL, 60'000LL, 61'000LL,
                       3'599'000LL, 3'600'000LL, 7'200'000LL, 123'456'789LL}) {
        Millis d(ms);
        EXPECT_EQ(parse(format_duration(d)), d) << format_duration(d);
    }
}

}  // namespace
}  // namespace kvd
