// Host-side bookkeeping of the KV pool (DESIGN.md §4): which token slots are free
// (KvSlotAllocator) and which slots each running request's positions use
// (ReqToTokenTable). The engine thread owns both; the scheduler allocates slots for a
// step, the radix cache takes ownership of finished prefixes, and the model runner copies
// the per-step slot lists to the device. The K/V tensors themselves live with the model
// runner.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace radix {

// Token-granular (page size 1) allocator over slots [1, num_slots). Slot 0 is never
// handed out: it is the dummy write target for padded rows.
class KvSlotAllocator {
 public:
  // num_slots includes the reserved slot 0, so capacity() == num_slots - 1.
  explicit KvSlotAllocator(int num_slots);

  // n free slots, or nullopt when fewer than n are free (nothing is taken then).
  // A fresh allocator hands out ascending slots 1, 2, 3, ...
  std::optional<std::vector<int32_t>> alloc(int n);
  // Returns slots to the pool. Freeing slot 0, a slot out of range or a slot that is
  // already free is a bug in the caller (RADIX_CHECK).
  void free(std::span<const int32_t> slots);
  // Marks every slot free again (after the radix cache was reset: /flush_cache).
  void clear();

  int available() const { return static_cast<int>(free_.size()); }
  int capacity() const { return num_slots_ - 1; }
  int num_slots() const { return num_slots_; }  // including slot 0
  bool is_free(int32_t slot) const;

 private:
  int num_slots_;
  std::vector<int32_t> free_;    // stack of free slots; alloc pops from the back
  std::vector<uint8_t> in_use_;  // [num_slots]: 1 when handed out (double-free check)
};

// [rows, context_len] int32 host table: request row -> pool slot of each position.
class ReqToTokenTable {
 public:
  ReqToTokenTable(int rows, int context_len);

  // A free row (lowest index first on a fresh table), or nullopt when all are taken.
  std::optional<int> alloc_row();
  void free_row(int row);  // freeing a free or out-of-range row is a bug (RADIX_CHECK)

  int32_t* row(int r);  // [context_len]
  const int32_t* row(int r) const;
  int rows() const { return rows_; }
  int context_len() const { return context_len_; }
  int available_rows() const { return static_cast<int>(free_rows_.size()); }
  const int32_t* data() const { return table_.data(); }  // [rows, context_len], row-major

 private:
  int rows_;
  int context_len_;
  std::vector<int32_t> table_;
  std::vector<int> free_rows_;  // stack; alloc pops from the back
  std::vector<uint8_t> row_in_use_;
};

}  // namespace radix
