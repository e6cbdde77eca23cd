// How kvd shares its open file limit among buckets (daemon/proc/fd_budget.hpp).
#include "daemon/proc/fd_budget.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace kvd::testing {
namespace {

using proc::FdBudget;
using proc::FdShare;

TEST(FdBudget, KeepsRoomForKvdItself) {
    EXPECT_EQ(FdBudget(65536, 10000).slots(), 65536u - 2048u);
    EXPECT_EQ(FdBudget(20000, 10000).slots(), 20000u - 2048u);
    // A low limit keeps a quarter of it.
    EXPECT_EQ(FdBudget(64, 10000).slots(), 48u);
}

// 10,000 data buckets at an open file limit of 20,000: every one starts; the first ones get
// their stderr captured and a pidfd, until the rest is needed for the buckets to come.
TEST(FdBudget, MaxBucketsDataBucketsFitWhereSpareDescriptorsGiveWay) {
    FdBudget budget(20000, 10000);
    std::vector<FdShare> shares;
    std::size_t captured = 0, pidfds = 0;
    for (int i = 0; i < 10000; ++i) {
        FdShare share = budget.admit(1);
        ASSERT_TRUE(share) << "bucket " << i;
        if (share.take_spare()) ++captured;  // its stderr pipe, asked first
        if (share.take_spare()) ++pidfds;
        shares.push_back(std::move(share));
        ASSERT_LE(budget.in_use(), budget.slots());
    }
    EXPECT_EQ(budget.buckets(), 10000u);
    // 17,952 slots: 10,000 sockets, and 7,952 spare descriptors, both kinds taken in turn.
    EXPECT_EQ(captured + pidfds, 7952u);
    EXPECT_EQ(captured, 3976u);
    EXPECT_EQ(budget.in_use(), budget.slots());
    // Nothing more fits, not even a socket.
    EXPECT_FALSE(budget.admit(1));
    EXPECT_EQ(budget.buckets(), 10000u);
    // Each share gives back all it held.
    shares.clear();
    EXPECT_EQ(budget.in_use(), 0u);
    EXPECT_EQ(budget.buckets(), 0u);
}

// Where every descriptor fits, every bucket gets them all.
TEST(FdBudget, AHighLimitGrantsEverything) {
    FdBudget budget(65536, 10000);
    std::vector<FdShare> shares;
    for (int i = 0; i < 10000; ++i) {
        FdShare share = budget.admit(i % 2 == 0 ? 1 : 2);
        ASSERT_TRUE(share);
        ASSERT_TRUE(share.take_spare()) << "bucket " << i;
        ASSERT_TRUE(share.take_spare() || i % 2 == 1) << "bucket " << i;
        shares.push_back(std::move(share));
    }
}

// A bucket needing two descriptors (a program that holds no data: its stdout and stderr
// pipes) is refused once they do not fit, and takes nothing.
TEST(FdBudget, NeededDescriptorsThatDoNotFitAreRefusedWhole) {
    FdBudget budget = FdBudget::with_slots(5, 3);
    FdShare a = budget.admit(2), b = budget.admit(2);
    ASSERT_TRUE(a);
    ASSERT_TRUE(b);
    EXPECT_FALSE(budget.admit(2));
    EXPECT_EQ(budget.in_use(), 4u);
    EXPECT_EQ(budget.buckets(), 2u);
    FdShare c = budget.admit(1);
    EXPECT_TRUE(c);
    EXPECT_FALSE(c.take_spare());
    a = FdShare();
    EXPECT_EQ(budget.in_use(), 3u);
    EXPECT_TRUE(budget.admit(2));
}

// Spare descriptors keep one slot for every bucket max_buckets still allows; a lower
// max_buckets (after a reload) frees them.
TEST(FdBudget, SpareDescriptorsKeepRoomForBucketsToCome) {
    FdBudget budget = FdBudget::with_slots(10, 8);
    FdShare a = budget.admit(1);
    ASSERT_TRUE(a);
    // 1 in use + 7 to come: two spares fit.
    EXPECT_TRUE(a.take_spare());
    EXPECT_TRUE(a.take_spare());
    EXPECT_FALSE(a.take_spare());
    budget.set_max_buckets(4);
    EXPECT_TRUE(a.take_spare());
    EXPECT_EQ(budget.spare_in_use(), 3u);
    // A moved-from share holds nothing; the new owner gives it all back.
    FdShare moved = std::move(a);
    EXPECT_FALSE(a);
    EXPECT_EQ(budget.in_use(), 4u);
    moved = FdShare();
    EXPECT_EQ(budget.in_use(), 0u);
    EXPECT_EQ(budget.spare_in_use(), 0u);
}

// Children that are not buckets (handlers) take spares only: a pidfd each.
TEST(FdBudget, SparesAloneForChildrenThatAreNotBuckets) {
    FdBudget budget = FdBudget::with_slots(2, 0);
    EXPECT_TRUE(budget.take_spare());
    EXPECT_TRUE(budget.take_spare());
    EXPECT_FALSE(budget.take_spare());
    budget.give_spare();
    EXPECT_TRUE(budget.take_spare());
}

}  // namespace
}  // namespace kvd::testing
