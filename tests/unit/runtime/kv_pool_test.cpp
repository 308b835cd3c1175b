// Tests of the KV slot allocator and the req_to_token table (runtime/kv_pool.h).
#include "runtime/kv_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace radix {
namespace {

TEST(KvSlotAllocator, NeverHandsOutSlotZero) {
  KvSlotAllocator alloc(9);
  EXPECT_EQ(alloc.capacity(), 8);
  EXPECT_EQ(alloc.available(), 8);
  auto slots = alloc.alloc(8);
  ASSERT_TRUE(slots.has_value());
  std::set<int32_t> got(slots->begin(), slots->end());
  EXPECT_EQ(got.size(), 8u);
  EXPECT_EQ(got.count(0), 0u);
  EXPECT_EQ(*got.begin(), 1);
  EXPECT_EQ(*got.rbegin(), 8);
}

TEST(KvSlotAllocator, FreshAllocatorHandsOutAscendingSlots) {
  KvSlotAllocator alloc(6);
  auto slots = alloc.alloc(3);
  ASSERT_TRUE(slots.has_value());
  EXPECT_EQ(*slots, (std::vector<int32_t>{1, 2, 3}));
}

TEST(KvSlotAllocator, ExhaustionReturnsNulloptAndTakesNothing) {
  KvSlotAllocator alloc(5);
  auto a = alloc.alloc(3);
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(alloc.alloc(2).has_value());
  EXPECT_EQ(alloc.available(), 1);  // the failed request did not take the last slot
  EXPECT_TRUE(alloc.alloc(1).has_value());
  EXPECT_FALSE(alloc.alloc(1).has_value());
  EXPECT_TRUE(alloc.alloc(0).has_value());
  EXPECT_FALSE(alloc.alloc(-1).has_value());
}

TEST(KvSlotAllocator, FreedSlotsCanBeAllocatedAgain) {
  KvSlotAllocator alloc(5);
  auto a = alloc.alloc(4);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(alloc.available(), 0);
  alloc.free(std::span<const int32_t>(a->data(), 2));
  EXPECT_EQ(alloc.available(), 2);
  EXPECT_TRUE(alloc.is_free((*a)[0]));
  EXPECT_FALSE(alloc.is_free((*a)[2]));
  auto b = alloc.alloc(2);
  ASSERT_TRUE(b.has_value());
  std::vector<int32_t> expected{(*a)[0], (*a)[1]};
  std::sort(b->begin(), b->end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(*b, expected);
}

TEST(KvSlotAllocator, ClearMakesEverySlotFree) {
  KvSlotAllocator alloc(7);
  ASSERT_TRUE(alloc.alloc(5).has_value());
  alloc.clear();
  EXPECT_EQ(alloc.available(), 6);
  for (int32_t s = 1; s < 7; ++s) EXPECT_TRUE(alloc.is_free(s));
  EXPECT_FALSE(alloc.is_free(0));
}

TEST(KvSlotAllocatorDeathTest, DoubleFreeIsCaught) {
  KvSlotAllocator alloc(4);
  auto a = alloc.alloc(1);
  ASSERT_TRUE(a.has_value());
  alloc.free(*a);
  EXPECT_DEATH(alloc.free(*a), "in_use_");
}

TEST(KvSlotAllocatorDeathTest, FreeingSlotZeroIsCaught) {
  KvSlotAllocator alloc(4);
  std::vector<int32_t> zero{0};
  EXPECT_DEATH(alloc.free(zero), "s > 0");
}

TEST(ReqToTokenTable, RowsAreAllocatedUntilExhaustedAndReusedAfterFree) {
  ReqToTokenTable table(2, 16);
  EXPECT_EQ(table.rows(), 2);
  EXPECT_EQ(table.context_len(), 16);
  auto r0 = table.alloc_row();
  auto r1 = table.alloc_row();
  ASSERT_TRUE(r0.has_value() && r1.has_value());
  EXPECT_EQ(*r0, 0);
  EXPECT_EQ(*r1, 1);
  EXPECT_FALSE(table.alloc_row().has_value());
  table.free_row(*r0);
  EXPECT_EQ(table.available_rows(), 1);
  auto again = table.alloc_row();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, 0);
}

TEST(ReqToTokenTable, RowsAreDisjointViewsOfOneTable) {
  ReqToTokenTable table(3, 4);
  for (int r = 0; r < 3; ++r) {
    for (int j = 0; j < 4; ++j) table.row(r)[j] = r * 10 + j;
  }
  EXPECT_EQ(table.data()[0 * 4 + 3], 3);
  EXPECT_EQ(table.data()[1 * 4 + 0], 10);
  EXPECT_EQ(table.data()[2 * 4 + 2], 22);
}

TEST(ReqToTokenTableDeathTest, FreeingAFreeRowIsCaught) {
  ReqToTokenTable table(2, 4);
  EXPECT_DEATH(table.free_row(1), "row_in_use_");
}

}  // namespace
}  // namespace radix
