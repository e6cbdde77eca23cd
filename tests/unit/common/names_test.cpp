// Bucket names: 1-128 bytes of A-Z a-z 0-9 . _ : -, not starting with '.' or '-'.
#include "common/names.hpp"

#include <gtest/gtest.h>

#include <string>

namespace kvd {
namespace {

constexpr std::string_view kAllowed =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-";

TEST(BucketNames, TypicalNamesAreValid) {
    for (std::string_view name : {"shopping", "a", "Z", "0", "_", ":", "a.b", "user:42", "cache_v2",
                                  "x-y-z", "9lives", "A.B_C:D-E"}) {
        EXPECT_TRUE(is_valid_bucket_name(name)) << name;
        EXPECT_EQ(bucket_name_problem(name), "") << name;
    }
}

TEST(BucketNames, EveryAllowedCharacterInside) {
    for (char c : kAllowed) {
        std::string name = std::string("a") + c + "b";
        EXPECT_TRUE(is_valid_bucket_name(name)) << name;
    }
    EXPECT_TRUE(is_valid_bucket_name(std::string("a") + std::string(kAllowed)));
}

TEST(BucketNames, EveryAllowedCharacterAloneExceptForbiddenStarts) {
    for (char c : kAllowed) {
        std::string name(1, c);
        bool expected = c != '.' && c != '-';
        EXPECT_EQ(is_valid_bucket_name(name), expected) << name;
    }
}

TEST(BucketNames, ForbiddenStarts) {
    for (std::string_view name : {".", "-", ".hidden", "-flag", "..", "--", ".a", "-a"}) {
        std::string problem = bucket_name_problem(name);
        EXPECT_FALSE(problem.empty()) << name;
        EXPECT_NE(problem.find("start"), std::string::npos) << problem;
    }
}

TEST(BucketNames, DotAndDashAreFineAfterTheFirstByte) {
    EXPECT_TRUE(is_valid_bucket_name("a."));
    EXPECT_TRUE(is_valid_bucket_name("a-"));
    EXPECT_TRUE(is_valid_bucket_name("_.-"));
}

TEST(BucketNames, Length128IsValid129IsNot) {
    EXPECT_EQ(kMaxBucketNameBytes, 128u);
    EXPECT_TRUE(is_valid_bucket_name(std::string(128, 'a')));
    std::string problem = bucket_name_problem(std::string(129, 'a'));
    EXPECT_FALSE(problem.empty());
    EXPECT_NE(problem.find("129"), std::string::npos) << problem;
    EXPECT_FALSE(is_valid_bucket_name(std::string(100000, 'a')));
}

TEST(BucketNames, Empty) {
    EXPECT_FALSE(is_valid_bucket_name(""));
    EXPECT_NE(bucket_name_problem("").find("empty"), std::string::npos);
}

TEST(BucketNames, EveryOtherAsciiByteIsRejected) {
    for (int b = 0; b < 128; ++b) {
        char c = static_cast<char>(b);
        if (kAllowed.find(c) != std::string_view::npos) continue;
        std::string name = std::string("ok") + c;
        EXPECT_FALSE(is_valid_bucket_name(name)) << "byte " << b;
        EXPECT_FALSE(is_valid_bucket_name(std::string(1, c))) << "byte " << b;
    }
}

TEST(BucketNames, SpacesSlashesAndPathTricks) {
    for (std::string_view name :
         {"a b", " a", "a ", "a\tb", "a/b", "/", "../x", "a\\b", "a\nb", "a\"b", "a'b", "a*b"}) {
        EXPECT_FALSE(is_valid_bucket_name(name)) << name;
    }
    EXPECT_NE(bucket_name_problem("a/b").find("'/'"), std::string::npos)
        << bucket_name_problem("a/b");
    EXPECT_NE(bucket_name_problem("a b").find("byte 1"), std::string::npos)
        << bucket_name_problem("a b");
}

TEST(BucketNames, NonAsciiIsRejected) {
    for (std::string_view name : {"caf\xc3\xa9", "\xc3\xa9", "\xe2\x82\xac", "a\xff", "\x80"}) {
        std::string problem = bucket_name_problem(name);
        EXPECT_FALSE(problem.empty()) << name;
        EXPECT_NE(problem.find("0x"), std::string::npos) << problem;
    }
    EXPECT_NE(bucket_name_problem("caf\xc3\xa9").find("0xc3"), std::string::npos);
}

TEST(BucketNames, NulByteIsRejected) {
    EXPECT_FALSE(is_valid_bucket_name(std::string_view("a\0b", 3)));
    EXPECT_FALSE(is_valid_bucket_name(std::string_view("\0", 1)));
}

}  // namespace
}  // namespace kvd
