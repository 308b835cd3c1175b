// RadixCache: the prefix cache of RadixAttention (DESIGN.md §4), as SGLang's
// mem_cache/radix_cache.py. A compressed radix tree over token ids whose nodes own the
// KV slots of those tokens. The scheduler matches a new request's prompt against it
// (reusing the slots of the longest cached prefix), locks the matched path while the
// request runs, inserts the request's tokens when it finishes (or after each prefill
// chunk), and evicts least-recently-used unlocked leaves when the KV pool runs out.
// Engine thread only; not thread-safe.
//
// Ownership: every slot handed out by the KvSlotAllocator is either free, held by a
// running request (its req_to_token row past the cached prefix), or owned by exactly one
// tree node. insert() takes ownership of the slots it stores; evict() gives them back
// through the caller's callback. check_invariants() verifies this partition.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/status.h"
#include "runtime/kv_pool.h"

namespace radix {

// One edge of the tree: a run of tokens and the slots holding their KV. Opaque to
// callers except as a handle for lock refs.
struct RadixNode {
  std::vector<int32_t> key;    // token ids on the edge from parent to this node
  std::vector<int32_t> value;  // KV slot of each token in key (same length)
  RadixNode* parent = nullptr;
  std::unordered_map<int32_t, std::unique_ptr<RadixNode>> children;  // by first token
  int lock_ref = 0;          // running requests whose path goes through this node
  uint64_t last_access = 0;  // logical clock of the last match/insert touching it
  uint64_t id = 0;           // creation order; breaks LRU ties deterministically
};

class RadixCache {
 public:
  struct MatchResult {
    std::vector<int32_t> slots;  // KV slots of the longest cached prefix
    RadixNode* last_node;        // node ending exactly at that prefix (root if none)
  };

  // disabled = --disable-radix-cache: nothing is ever stored or matched.
  explicit RadixCache(bool disabled = false);
  ~RadixCache();
  RadixCache(const RadixCache&) = delete;
  RadixCache& operator=(const RadixCache&) = delete;

  // Longest cached prefix of `tokens`. When the match ends inside an edge, that edge is
  // split so last_node ends exactly at the prefix. Refreshes the LRU time of the path.
  MatchResult match_prefix(std::span<const int32_t> tokens);

  // Stores tokens -> slots (same length) and returns how many leading tokens were ALREADY
  // cached: the tree keeps its own slots for that prefix, so the caller must free its
  // duplicate slots[0, returned) (except those it got from match_prefix). The tree takes
  // ownership of slots[returned, size). Disabled: stores nothing, returns 0; the caller
  // keeps ownership of every slot (and frees them when the request ends).
  int insert(std::span<const int32_t> tokens, std::span<const int32_t> slots);

  // Lock / unlock the path from `node` to the root (a running request uses that prefix):
  // locked nodes are never evicted. Moves their tokens between evictable and protected.
  // No-ops on the root and when disabled.
  void inc_lock_ref(RadixNode* node);
  void dec_lock_ref(RadixNode* node);

  // Evicts least-recently-used unlocked leaves (a parent left childless and unlocked
  // becomes a candidate in turn) until at least num_tokens tokens were freed or nothing
  // evictable is left. Freed slots go to `free_slots`. Returns tokens evicted.
  int evict(int num_tokens, const std::function<void(std::span<const int32_t>)>& free_slots);

  int evictable_size() const { return evictable_size_; }  // tokens in unlocked nodes
  int protected_size() const { return protected_size_; }  // tokens in locked nodes
  int total_size() const { return evictable_size_ + protected_size_; }
  bool disabled() const { return disabled_; }
  const RadixNode* root() const { return root_.get(); }

  // Drops the whole tree without returning slots: the caller resets the allocator too
  // (KvSlotAllocator::clear), as SGLang's flush_cache does. Only valid while nothing is
  // locked. To drop just the unlocked entries, call evict(evictable_size(), free).
  void reset();

  // Verifies, for tests and debug builds: every slot of `alloc` other than slot 0 is
  // exactly one of free, in `held_by_requests`, or owned by exactly one tree node; plus
  // the tree's own bookkeeping (sizes, lock refs, child keys, evictable leaves). Returns
  // an internal error naming the first violation.
  Status check_invariants(const KvSlotAllocator& alloc,
                          std::span<const int32_t> held_by_requests = {}) const;

  // Indented dump of the tree (first tokens of each edge, length, lock ref).
  std::string pretty_print() const;

 private:
  RadixNode* descend(std::span<const int32_t> tokens, size_t* matched, std::vector<int32_t>* slots);
  RadixNode* split_node(RadixNode* node, size_t split_len);
  std::unique_ptr<RadixNode> new_node();
  void update_leaf_status(RadixNode* node);
  bool is_evictable_leaf(const RadixNode* node) const;

  bool disabled_;
  std::unique_ptr<RadixNode> root_;
  int evictable_size_ = 0;
  int protected_size_ = 0;
  uint64_t clock_ = 0;
  uint64_t next_id_ = 0;
  std::unordered_set<RadixNode*> evictable_leaves_;  // unlocked, childless, not the root
};

// Shared-prefix groups among decode sequences, for cascade attention: each sequence is
// given by the last node of its cached path (nullptr: nothing cached). A sequence joins
// the group of the deepest node on its path that at least one other sequence also has
// on its path and whose prefix (root to the node's end) holds at least min_len tokens;
// a node chosen by a single sequence forms no group. The prefix's KV slots are the
// first prefix_len entries of any member's token-to-slot row.
struct PrefixGroups {
  std::vector<int32_t> group_of;    // per sequence: its group, or -1
  std::vector<int32_t> prefix_len;  // per group: tokens in the shared prefix
  std::vector<int32_t> leader;      // per group: its first member (sequence index)
  int num_groups() const { return static_cast<int>(prefix_len.size()); }
};
PrefixGroups group_shared_prefixes(std::span<const RadixNode* const> last_nodes, int min_len);

}  // namespace radix
