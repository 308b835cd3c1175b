// KvSlotAllocator and ReqToTokenTable: free lists over KV slots and request rows.
#include "runtime/kv_pool.h"

#include "core/check.h"

namespace radix {

KvSlotAllocator::KvSlotAllocator(int num_slots) : num_slots_(num_slots) {
  RADIX_CHECK_GE(num_slots, 1);
  clear();
}

void KvSlotAllocator::clear() {
  free_.clear();
  free_.reserve(static_cast<size_t>(num_slots_ - 1));
  // Stored descending so that popping from the back hands out 1, 2, 3, ...
  for (int32_t s = num_slots_ - 1; s >= 1; --s) free_.push_back(s);
  in_use_.assign(static_cast<size_t>(num_slots_), 0);
  in_use_[0] = 1;  // slot 0 is permanently reserved
}

std::optional<std::vector<int32_t>> KvSlotAllocator::alloc(int n) {
  if (n < 0 || n > available()) return std::nullopt;
  std::vector<int32_t> out(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    int32_t s = free_.back();
    free_.pop_back();
    in_use_[static_cast<size_t>(s)] = 1;
    out[static_cast<size_t>(i)] = s;
  }
  return out;
}

void KvSlotAllocator::free(std::span<const int32_t> slots) {
  for (int32_t s : slots) {
    RADIX_CHECK_GT(s, 0);  // slot 0 is never handed out
    RADIX_CHECK_LT(s, num_slots_);
    RADIX_CHECK_EQ(in_use_[static_cast<size_t>(s)], 1);  // double free
    in_use_[static_cast<size_t>(s)] = 0;
    free_.push_back(s);
  }
}

bool KvSlotAllocator::is_free(int32_t slot) const {
  return slot > 0 && slot < num_slots_ && in_use_[static_cast<size_t>(slot)] == 0;
}

ReqToTokenTable::ReqToTokenTable(int rows, int context_len)
    : rows_(rows),
      context_len_(context_len),
      table_(static_cast<size_t>(rows) * static_cast<size_t>(context_len), 0),
      row_in_use_(static_cast<size_t>(rows), 0) {
  RADIX_CHECK_GE(rows, 0);
  RADIX_CHECK_GE(context_len, 0);
  free_rows_.reserve(static_cast<size_t>(rows));
  for (int r = rows - 1; r >= 0; --r) free_rows_.push_back(r);
}

std::optional<int> ReqToTokenTable::alloc_row() {
  if (free_rows_.empty()) return std::nullopt;
  int r = free_rows_.back();
  free_rows_.pop_back();
  row_in_use_[static_cast<size_t>(r)] = 1;
  return r;
}

void ReqToTokenTable::free_row(int r) {
  RADIX_CHECK_GE(r, 0);
  RADIX_CHECK_LT(r, rows_);
  RADIX_CHECK_EQ(row_in_use_[static_cast<size_t>(r)], 1);  // double free
  row_in_use_[static_cast<size_t>(r)] = 0;
  free_rows_.push_back(r);
}

int32_t* ReqToTokenTable::row(int r) {
  RADIX_CHECK_GE(r, 0);
  RADIX_CHECK_LT(r, rows_);
  return table_.data() + static_cast<size_t>(r) * static_cast<size_t>(context_len_);
}

const int32_t* ReqToTokenTable::row(int r) const {
  RADIX_CHECK_GE(r, 0);
  RADIX_CHECK_LT(r, rows_);
  return table_.data() + static_cast<size_t>(r) * static_cast<size_t>(context_len_);
}

}  // namespace radix
