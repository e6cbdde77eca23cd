// Byte sizes: parsing what people write ("512K", "64MiB", "1048576") and formatting back.
#include "common/size.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace kvd {
namespace {

std::optional<std::uint64_t> parse(std::string_view text) {
    return parse_size(text);
}

TEST(Size, BinarySuffixes) {
    EXPECT_EQ(parse("512K"), 512u * 1024);
    EXPECT_EQ(parse("512KiB"), 512u * 1024);
    EXPECT_EQ(parse("64M"), 64u * 1024 * 1024);
    EXPECT_EQ(parse("64MiB"), 64u * 1024 * 1024);
    EXPECT_EQ(parse("1G"), std::uint64_t{1} << 30);
    EXPECT_EQ(parse("1GiB"), std::uint64_t{1} << 30);
    EXPECT_EQ(parse("2T"), std::uint64_t{2} << 40);
    EXPECT_EQ(parse("2TiB"), std::uint64_t{2} << 40);
    EXPECT_EQ(parse("100B"), 100u);
}

TEST(Size, PlainNumberIsBytes) {
    EXPECT_EQ(parse("0"), 0u);
    EXPECT_EQ(parse("1"), 1u);
    EXPECT_EQ(parse("65536"), 65536u);
    EXPECT_EQ(parse("0K"), 0u);
}

TEST(Size, LargestThatFits) {
    constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
    EXPECT_EQ(parse("18446744073709551615"), kMax);
    EXPECT_EQ(parse("18446744073709551615B"), kMax);
    EXPECT_EQ(parse("16777215T"), std::uint64_t{16777215} << 40);
    EXPECT_EQ(parse("17179869183G"), std::uint64_t{17179869183} << 30);
}

TEST(Size, BeyondSixtyFourBitsIsRefused) {
    for (std::string_view text :
         {"18446744073709551616", "99999999999999999999999", "16777216T", "17179869184G",
          "17592186044416M", "18014398509481984K", "99999999999999999999999999999999999999K"}) {
        std::string why;
        EXPECT_EQ(parse_size(text, &why), std::nullopt) << text;
        EXPECT_EQ(why, "'" + std::string(text) + "' does not fit in 64 bits") << text;
    }
}

TEST(Size, Garbage) {
    for (std::string_view text : {"", "K", "MiB", "-1K", "+1K", " 1K", "1K ", "1 K", "1.5M", "1e6",
                                  "0x10", "ten", "1KK", "1k", "1kb"}) {
        std::string why;
        EXPECT_EQ(parse_size(text, &why), std::nullopt) << "'" << text << "'";
        EXPECT_FALSE(why.empty()) << "'" << text << "'";
    }
}

// KB and MB are read as powers of 1000 by some and of 1024 by others: refused, not guessed.
TEST(Size, DecimalLookingUnitsAreRefused) {
    for (std::string_view text : {"64MB", "512KB", "1GB", "1kB", "1TB"}) {
        std::string why;
        EXPECT_EQ(parse_size(text, &why), std::nullopt) << text;
        EXPECT_NE(why.find("unknown unit"), std::string::npos) << why;
        EXPECT_NE(why.find("1024"), std::string::npos) << why;
    }
}

TEST(Size, Messages) {
    std::string why;
    parse_size("", &why);
    EXPECT_EQ(why, "empty size");
    parse_size("lots", &why);
    EXPECT_EQ(why, "'lots' is not a size (expected e.g. 512K, 64MiB, 1G)");
    parse_size("64MB", &why);
    EXPECT_EQ(why,
              "'64MB' has unknown unit 'MB' (use B, K, M, G, T or KiB, MiB, GiB, TiB; 1K is "
              "1024 bytes)");
}

TEST(Size, FormatIsTheShortestExactSpelling) {
    EXPECT_EQ(format_size(0), "0B");
    EXPECT_EQ(format_size(1), "1B");
    EXPECT_EQ(format_size(1536), "1536B");
    EXPECT_EQ(format_size(1024), "1KiB");
    EXPECT_EQ(format_size(64 * 1024), "64KiB");
    EXPECT_EQ(format_size(1536 * 1024), "1536KiB");
    EXPECT_EQ(format_size(32u * 1024 * 1024), "32MiB");
    EXPECT_EQ(format_size(std::uint64_t{1} << 30), "1GiB");
    EXPECT_EQ(format_size(std::uint64_t{3} << 40), "3TiB");
    EXPECT_EQ(format_size(std::uint64_t{1} << 50), "1024TiB");
}

TEST(Size, FormatReadsBack) {
    for (std::uint64_t bytes :
         {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{1023}, std::uint64_t{4096},
          std::uint64_t{16} << 20, (std::uint64_t{5} << 30) + 1, std::uint64_t{7} << 40,
          std::numeric_limits<std::uint64_t>::max(),
          std::numeric_limits<std::uint64_t>::max() - 1023}) {
        EXPECT_EQ(parse(format_size(bytes)), bytes) << format_size(bytes);
    }
}

}  // namespace
}  // namespace kvd
