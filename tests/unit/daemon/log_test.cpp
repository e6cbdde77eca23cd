// The rate limit on repeated log lines: a burst per window, the rest counted and reported
// once when the next window opens.
#include "daemon/log.hpp"

#include <gtest/gtest.h>

namespace kvd::log {
namespace {

TEST(RepeatLimiter, AdmitsABurstPerWindowAndCountsTheRest) {
    RepeatLimiter limit(3, 1000);
    uint64_t suppressed = 99;
    for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(limit.admit(100 + i, suppressed));
        EXPECT_EQ(suppressed, 0u);
    }
    for (int i = 0; i < 5; ++i) EXPECT_FALSE(limit.admit(200 + i, suppressed));
    EXPECT_EQ(suppressed, 0u);
    // The next window: its first line is admitted and reports the five.
    EXPECT_TRUE(limit.admit(1100, suppressed));
    EXPECT_EQ(suppressed, 5u);
    EXPECT_TRUE(limit.admit(1101, suppressed));
    EXPECT_EQ(suppressed, 0u);
}

TEST(RepeatLimiter, TakeSuppressedReportsOnce) {
    RepeatLimiter limit(1, 1000);
    uint64_t suppressed = 0;
    EXPECT_TRUE(limit.admit(0, suppressed));
    EXPECT_FALSE(limit.admit(1, suppressed));
    EXPECT_FALSE(limit.admit(2, suppressed));
    EXPECT_EQ(limit.take_suppressed(), 2u);
    EXPECT_EQ(limit.take_suppressed(), 0u);
    EXPECT_TRUE(limit.admit(5000, suppressed));
    EXPECT_EQ(suppressed, 0u);
}

}  // namespace
}  // namespace kvd::log
