// Tests of the radix prefix cache (runtime/radix_cache.h): match/insert/split, lock refs,
// LRU eviction, disabled mode, the slot-ownership invariant, and a randomized run of the
// engine's request flow checked against a token-level reference model.
#include "runtime/radix_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include <pthread.h>

#include "runtime/kv_pool.h"

namespace radix {
namespace {

using Ids = std::vector<int32_t>;

// A cache plus the allocator it draws from, with helpers for the common flows.
struct Fixture {
  explicit Fixture(int num_slots = 64, bool disabled = false) : alloc(num_slots), cache(disabled) {}

  // Allocates fresh slots for tokens and inserts them, freeing the duplicates as the
  // engine does. Returns the slots the tree now holds for `tokens`.
  Ids put(const Ids& tokens) {
    auto slots = alloc.alloc(static_cast<int>(tokens.size()));
    EXPECT_TRUE(slots.has_value());
    int prefix = cache.insert(tokens, *slots);
    alloc.free(std::span<const int32_t>(slots->data(), static_cast<size_t>(prefix)));
    return cache.match_prefix(tokens).slots;
  }
  int evict(int n) {
    return cache.evict(n, [this](std::span<const int32_t> s) { alloc.free(s); });
  }
  void expect_ok(std::span<const int32_t> held = {}) {
    Status st = cache.check_invariants(alloc, held);
    EXPECT_TRUE(st.is_ok()) << st.to_string() << "\n" << cache.pretty_print();
  }

  KvSlotAllocator alloc;
  RadixCache cache;
};


// Builds a tree from token sequences and returns, per sequence, the node its match ends at.
std::vector<const RadixNode*> paths_of(Fixture& f, const std::vector<Ids>& seqs) {
  for (const Ids& s : seqs) f.put(s);
  std::vector<const RadixNode*> nodes;
  for (const Ids& s : seqs) nodes.push_back(f.cache.match_prefix(s).last_node);
  return nodes;
}

Ids concat(Ids a, const Ids& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(SharedPrefixGroups, MembersOfASystemPromptGroupShareItsNode) {
  Fixture f(256);
  const Ids sys1 = {1, 2, 3, 4, 5, 6, 7, 8}, sys2 = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
  // Two groups of three (distinct questions), one loner, one sequence with no cache.
  auto nodes = paths_of(f, {concat(sys1, {20, 21}), concat(sys1, {30}), concat(sys2, {40, 41, 42}),
                            concat(sys1, {50, 51, 52}), concat(sys2, {60}), concat(sys2, {70, 71}), {80, 81, 82}});
  nodes.push_back(nullptr);
  const PrefixGroups g = group_shared_prefixes(nodes, 4);
  ASSERT_EQ(g.num_groups(), 2);
  EXPECT_EQ(g.group_of, (std::vector<int32_t>{0, 0, 1, 0, 1, 1, -1, -1}));
  EXPECT_EQ(g.prefix_len, (std::vector<int32_t>{8, 10}));
  EXPECT_EQ(g.leader, (std::vector<int32_t>{0, 2}));
}

TEST(SharedPrefixGroups, TheDeepestSharedNodeWinsAndShortPrefixesDoNotGroup) {
  Fixture f(256);
  const Ids sys = {1, 2, 3, 4, 5, 6};
  // Two sequences also share their question: they group on the longer prefix; the third
  // sequence is then alone on the system prompt and joins no group.
  auto nodes = paths_of(f, {concat(sys, {7, 8, 9, 10}), concat(sys, {7, 8, 9, 11}), concat(sys, {12})});
  PrefixGroups g = group_shared_prefixes(nodes, 4);
  ASSERT_EQ(g.num_groups(), 1);
  EXPECT_EQ(g.group_of, (std::vector<int32_t>{0, 0, -1}));
  EXPECT_EQ(g.prefix_len, (std::vector<int32_t>{9}));
  // min_len above every shared prefix: no groups.
  g = group_shared_prefixes(nodes, 10);
  EXPECT_EQ(g.num_groups(), 0);
  EXPECT_EQ(g.group_of, (std::vector<int32_t>{-1, -1, -1}));
  // min_len 7: the 9-token node still groups; the 6-token system prompt is too short.
  g = group_shared_prefixes(nodes, 7);
  EXPECT_EQ(g.prefix_len, (std::vector<int32_t>{9}));
}

TEST(RadixCache, EmptyTreeMatchesNothing) {
  RadixCache cache;
  auto m = cache.match_prefix(Ids{1, 2, 3});
  EXPECT_TRUE(m.slots.empty());
  EXPECT_EQ(m.last_node, cache.root());
  EXPECT_EQ(cache.total_size(), 0);
}

TEST(RadixCache, MatchReturnsSlotsOfLongestCachedPrefix) {
  RadixCache cache;
  EXPECT_EQ(cache.insert(Ids{1, 2, 3, 4}, Ids{11, 12, 13, 14}), 0);
  auto m = cache.match_prefix(Ids{1, 2, 3, 4, 5, 6});
  EXPECT_EQ(m.slots, (Ids{11, 12, 13, 14}));
  EXPECT_EQ(m.last_node->key, (Ids{1, 2, 3, 4}));
  EXPECT_TRUE(cache.match_prefix(Ids{2, 3}).slots.empty());
  EXPECT_EQ(cache.total_size(), 4);
}

TEST(RadixCache, MatchEndingInsideAnEdgeSplitsIt) {
  RadixCache cache;
  cache.insert(Ids{1, 2, 3, 4, 5}, Ids{11, 12, 13, 14, 15});
  auto m = cache.match_prefix(Ids{1, 2, 3, 9});
  EXPECT_EQ(m.slots, (Ids{11, 12, 13}));
  EXPECT_EQ(m.last_node->key, (Ids{1, 2, 3}));
  ASSERT_EQ(m.last_node->children.size(), 1u);
  const RadixNode* tail = m.last_node->children.at(4).get();
  EXPECT_EQ(tail->key, (Ids{4, 5}));
  EXPECT_EQ(tail->value, (Ids{14, 15}));
  EXPECT_EQ(cache.total_size(), 5);  // splitting moves tokens, never copies them
  // The full sequence still matches across the split.
  EXPECT_EQ(cache.match_prefix(Ids{1, 2, 3, 4, 5}).slots, (Ids{11, 12, 13, 14, 15}));
}

TEST(RadixCache, InsertReturnsLengthOfPrefixAlreadyPresent) {
  RadixCache cache;
  EXPECT_EQ(cache.insert(Ids{1, 2, 3}, Ids{11, 12, 13}), 0);
  EXPECT_EQ(cache.insert(Ids{1, 2, 3}, Ids{21, 22, 23}), 3);
  EXPECT_EQ(cache.insert(Ids{1, 2, 4, 5}, Ids{31, 32, 34, 35}), 2);
  EXPECT_EQ(cache.insert(Ids{1, 2, 3, 6}, Ids{41, 42, 43, 46}), 3);
  EXPECT_EQ(cache.insert(Ids{7}, Ids{47}), 0);
  // The tree kept its first slots for the shared prefixes.
  EXPECT_EQ(cache.match_prefix(Ids{1, 2, 4, 5}).slots, (Ids{11, 12, 34, 35}));
  EXPECT_EQ(cache.match_prefix(Ids{1, 2, 3, 6}).slots, (Ids{11, 12, 13, 46}));
  EXPECT_EQ(cache.total_size(), 7);
  EXPECT_EQ(cache.evictable_size(), 7);
}

TEST(RadixCache, InsertingAPrefixOfAnEdgeSplitsIt) {
  RadixCache cache;
  cache.insert(Ids{1, 2, 3, 4}, Ids{11, 12, 13, 14});
  EXPECT_EQ(cache.insert(Ids{1, 2}, Ids{21, 22}), 2);
  auto m = cache.match_prefix(Ids{1, 2});
  EXPECT_EQ(m.last_node->key, (Ids{1, 2}));
  EXPECT_EQ(m.slots, (Ids{11, 12}));
}

TEST(RadixCache, LockedPathIsProtectedFromEviction) {
  Fixture f;
  f.put(Ids{1, 2, 3, 4});
  f.put(Ids{1, 2, 5, 6});
  auto m = f.cache.match_prefix(Ids{1, 2, 3, 4});
  f.cache.inc_lock_ref(m.last_node);
  EXPECT_EQ(f.cache.protected_size(), 4);  // [1 2] and [3 4]
  EXPECT_EQ(f.cache.evictable_size(), 2);  // [5 6]
  EXPECT_EQ(f.evict(100), 2);
  EXPECT_EQ(f.cache.match_prefix(Ids{1, 2, 3, 4}).slots.size(), 4u);
  EXPECT_EQ(f.cache.match_prefix(Ids{1, 2, 5, 6}).slots.size(), 2u);
  f.expect_ok();

  f.cache.dec_lock_ref(m.last_node);
  EXPECT_EQ(f.cache.protected_size(), 0);
  EXPECT_EQ(f.cache.evictable_size(), 4);
  EXPECT_EQ(f.evict(100), 4);
  EXPECT_EQ(f.cache.total_size(), 0);
  EXPECT_EQ(f.alloc.available(), f.alloc.capacity());
  f.expect_ok();
}

TEST(RadixCache, LockRefsNestAcrossRequestsSharingAPrefix) {
  Fixture f;
  f.put(Ids{1, 2, 3});
  f.put(Ids{1, 2, 4});
  auto a = f.cache.match_prefix(Ids{1, 2, 3});
  auto b = f.cache.match_prefix(Ids{1, 2, 4});
  f.cache.inc_lock_ref(a.last_node);
  f.cache.inc_lock_ref(b.last_node);
  EXPECT_EQ(f.cache.protected_size(), 4);
  f.cache.dec_lock_ref(a.last_node);
  EXPECT_EQ(f.cache.protected_size(), 3);  // [1 2] still locked through b
  EXPECT_EQ(f.evict(100), 1);              // only [3] can go
  f.cache.dec_lock_ref(b.last_node);
  EXPECT_EQ(f.cache.protected_size(), 0);
  f.expect_ok();
}

TEST(RadixCache, EvictsLeastRecentlyUsedUnlockedLeaf) {
  Fixture f;
  Ids a{1, 1}, b{2, 2}, c{3, 3};
  f.put(a);
  f.put(b);
  f.put(c);
  f.cache.match_prefix(a);  // a is now the most recently used; b the least
  std::vector<Ids> freed;
  f.cache.evict(1, [&](std::span<const int32_t> s) {
    freed.emplace_back(s.begin(), s.end());
    f.alloc.free(s);
  });
  ASSERT_EQ(freed.size(), 1u);
  EXPECT_TRUE(f.cache.match_prefix(b).slots.empty());
  EXPECT_EQ(f.cache.match_prefix(a).slots.size(), 2u);
  EXPECT_EQ(f.cache.match_prefix(c).slots.size(), 2u);
  // Touch order now: a, c (by the two matches above); c is newer, so a goes next.
  EXPECT_EQ(f.evict(1), 2);
  EXPECT_TRUE(f.cache.match_prefix(a).slots.empty());
  EXPECT_EQ(f.cache.match_prefix(c).slots.size(), 2u);
  f.expect_ok();
}

TEST(RadixCache, EvictionCascadesToParentsThatBecomeLeaves) {
  Fixture f;
  f.put(Ids{1, 2, 3});
  f.put(Ids{1, 2, 4});  // tree: [1 2] -> {[3], [4]}
  f.put(Ids{9});
  f.cache.match_prefix(Ids{9});  // [9] most recent: the [1 2] subtree goes first
  EXPECT_EQ(f.evict(4), 4);      // [3], [4], then their parent [1 2]
  EXPECT_TRUE(f.cache.match_prefix(Ids{1}).slots.empty());
  EXPECT_EQ(f.cache.match_prefix(Ids{9}).slots.size(), 1u);
  EXPECT_EQ(f.cache.total_size(), 1);
  f.expect_ok();
}

TEST(RadixCache, EvictStopsOnceEnoughTokensAreFreed) {
  Fixture f;
  f.put(Ids{1, 1, 1});
  f.put(Ids{2, 2, 2});
  f.put(Ids{3, 3, 3});
  EXPECT_EQ(f.evict(4), 6);  // whole leaves: 3 + 3 >= 4
  EXPECT_EQ(f.cache.total_size(), 3);
  EXPECT_EQ(f.evict(0), 0);
  EXPECT_EQ(f.cache.total_size(), 3);
}

TEST(RadixCache, EvictingMoreThanEvictableFreesEverythingUnlocked) {
  Fixture f;
  f.put(Ids{1, 2, 3});
  f.put(Ids{4, 5});
  EXPECT_EQ(f.evict(1000), 5);
  EXPECT_EQ(f.cache.total_size(), 0);
  EXPECT_EQ(f.alloc.available(), f.alloc.capacity());
  EXPECT_EQ(f.evict(1), 0);
  f.expect_ok();
}

TEST(RadixCache, DisabledCacheMatchesNothingAndStoresNothing) {
  Fixture f(32, /*disabled=*/true);
  auto slots = f.alloc.alloc(3);
  ASSERT_TRUE(slots.has_value());
  EXPECT_EQ(f.cache.insert(Ids{1, 2, 3}, *slots), 0);
  auto m = f.cache.match_prefix(Ids{1, 2, 3});
  EXPECT_TRUE(m.slots.empty());
  EXPECT_EQ(m.last_node, f.cache.root());
  f.cache.inc_lock_ref(m.last_node);
  EXPECT_EQ(f.cache.total_size(), 0);
  EXPECT_EQ(f.evict(10), 0);
  f.expect_ok(*slots);   // the caller still owns its slots...
  f.alloc.free(*slots);  // ...and frees them when the request ends
  f.expect_ok();
}

TEST(RadixCache, InvariantCheckerCatchesALeakedSlot) {
  Fixture f;
  f.put(Ids{1, 2});
  auto orphan = f.alloc.alloc(1);  // taken from the pool, held by nobody
  ASSERT_TRUE(orphan.has_value());
  Status st = f.cache.check_invariants(f.alloc);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("leaked"), std::string::npos) << st.message();
  f.expect_ok(*orphan);  // fine once someone is known to hold it
}

TEST(RadixCache, InvariantCheckerCatchesASlotOwnedTwice) {
  Fixture f;
  Ids slots = f.put(Ids{1, 2});
  Status st = f.cache.check_invariants(f.alloc, slots);  // tree AND a request claim them
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("more than once"), std::string::npos) << st.message();
}

TEST(RadixCache, InvariantCheckerCatchesAFreedSlotStillInTheTree) {
  Fixture f;
  Ids slots = f.put(Ids{1, 2});
  f.alloc.free(std::span<const int32_t>(slots.data(), 1));
  EXPECT_FALSE(f.cache.check_invariants(f.alloc).is_ok());
}

TEST(RadixCache, ResetDropsEverything) {
  Fixture f;
  f.put(Ids{1, 2, 3});
  f.cache.reset();
  f.alloc.clear();
  EXPECT_EQ(f.cache.total_size(), 0);
  EXPECT_TRUE(f.cache.match_prefix(Ids{1, 2, 3}).slots.empty());
  f.expect_ok();
}

TEST(RadixCache, PrettyPrintShowsEdgesAndLocks) {
  RadixCache cache;
  cache.insert(Ids{1, 2, 3}, Ids{11, 12, 13});
  cache.insert(Ids{1, 2, 4}, Ids{21, 22, 24});
  cache.inc_lock_ref(cache.match_prefix(Ids{1, 2, 4}).last_node);
  std::string s = cache.pretty_print();
  EXPECT_NE(s.find("2 [1 2] lock=1"), std::string::npos) << s;
  EXPECT_NE(s.find("1 [3] lock=0"), std::string::npos) << s;
  EXPECT_NE(s.find("1 [4] lock=1"), std::string::npos) << s;
  EXPECT_NE(s.find("#tokens: 4"), std::string::npos) << s;
}

TEST(RadixCache, DeepChainIsTraversedAndDestroyedWithoutRecursion) {
  // Matching every prefix length in turn splits one edge per token: a chain of n nodes.
  // Dumping, checking and destroying it must not recurse per node, so it works on a
  // thread whose stack (256 KiB) is far smaller than n recursive frames would need.
  constexpr int n = 8000;
  auto fixture = std::make_unique<Fixture>(n + 1);
  Ids tokens(static_cast<size_t>(n), 7);
  fixture->put(tokens);
  for (int len = 1; len < n; ++len) {
    fixture->cache.match_prefix(std::span<const int32_t>(tokens.data(), static_cast<size_t>(len)));
  }
  const RadixNode* node = fixture->cache.root();
  int depth = 0;
  while (!node->children.empty()) node = node->children.begin()->second.get(), ++depth;
  ASSERT_EQ(depth, n);

  struct Job {
    std::unique_ptr<Fixture> fixture;
    bool ok = false;
  } job{std::move(fixture)};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t thread;
  auto body = [](void* arg) -> void* {
    auto* j = static_cast<Job*>(arg);
    j->ok = j->fixture->cache.check_invariants(j->fixture->alloc).is_ok() &&
            !j->fixture->cache.pretty_print().empty();
    j->fixture.reset();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attr, body, &job), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
  EXPECT_TRUE(job.ok);
}

// --- randomized: the engine's request flow against a token-level reference ---

// The reference model: the set of cached prefixes (prefix-closed), each mapped to the
// slot of its last token. Match = longest cached prefix; insert adds the missing tail.
struct Reference {
  std::map<Ids, int32_t> prefix_slot;

  Ids match(const Ids& tokens) const {
    Ids out;
    Ids p;
    for (int32_t t : tokens) {
      p.push_back(t);
      auto it = prefix_slot.find(p);
      if (it == prefix_slot.end()) break;
      out.push_back(it->second);
    }
    return out;
  }
};

struct Running {
  Ids tokens;
  Ids slots;  // [0, matched) from the tree, [matched, size) allocated for this request
  size_t matched = 0;
  RadixNode* last_node = nullptr;
};

TEST(RadixCache, RandomizedRequestFlowMatchesReferenceAndNeverLeaks) {
  std::mt19937 rng(12345);
  Fixture f(/*num_slots=*/160);
  Reference ref;
  std::vector<Running> running;
  std::vector<Ids> history;                         // sequences seen, to create shared prefixes
  int total_evicted = 0, finished = 0, reused = 0;  // the run must exercise these paths

  auto rand_int = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto random_sequence = [&]() {
    Ids seq;
    if (!history.empty() && rand_int(0, 3) != 0) {
      const Ids& base = history[static_cast<size_t>(rand_int(0, int(history.size()) - 1))];
      seq.assign(base.begin(), base.begin() + rand_int(0, int(base.size())));
    }
    int extra = rand_int(seq.empty() ? 1 : 0, 10);
    for (int i = 0; i < extra; ++i) seq.push_back(rand_int(0, 3));
    if (seq.empty()) seq.push_back(0);
    return seq;
  };
  auto held_slots = [&]() {
    Ids held;
    for (const Running& r : running)
      held.insert(held.end(), r.slots.begin() + r.matched, r.slots.end());
    return held;
  };
  // Slots locked by running requests must never be evicted.
  auto evict_and_check = [&](int n) {
    const int evictable_before = f.cache.evictable_size();
    std::vector<int32_t> freed;
    int got = f.cache.evict(n, [&](std::span<const int32_t> s) {
      freed.insert(freed.end(), s.begin(), s.end());
      f.alloc.free(s);
    });
    ASSERT_EQ(got, static_cast<int>(freed.size()));
    total_evicted += got;
    ASSERT_GE(got, std::min(n, evictable_before));
    ASSERT_EQ(f.cache.evictable_size(), evictable_before - got);
    std::set<int32_t> freed_set(freed.begin(), freed.end());
    for (const Running& r : running) {
      for (size_t i = 0; i < r.matched; ++i) ASSERT_EQ(freed_set.count(r.slots[i]), 0u);
    }
    for (auto it = ref.prefix_slot.begin(); it != ref.prefix_slot.end();) {
      it = freed_set.count(it->second) ? ref.prefix_slot.erase(it) : std::next(it);
    }
    // What is left is still prefix-closed (a parent is never evicted before its child).
    for (const auto& [p, s] : ref.prefix_slot) {
      if (p.size() > 1) {
        ASSERT_TRUE(ref.prefix_slot.count(Ids(p.begin(), p.end() - 1)));
      }
    }
  };

  for (int step = 0; step < 6000; ++step) {
    int op = rand_int(0, 9);
    if (op <= 3) {  // a request arrives: match, lock, allocate its tail
      Running r;
      r.tokens = random_sequence();
      history.push_back(r.tokens);
      auto m = f.cache.match_prefix(r.tokens);
      ASSERT_EQ(m.slots, ref.match(r.tokens));
      r.matched = m.slots.size();
      r.last_node = m.last_node;
      f.cache.inc_lock_ref(r.last_node);
      const int need = static_cast<int>(r.tokens.size() - r.matched);
      if (f.alloc.available() < need) evict_and_check(need - f.alloc.available());
      auto tail = f.alloc.alloc(need);
      if (!tail) {  // cannot fit even after eviction: the request is refused
        f.cache.dec_lock_ref(r.last_node);
      } else {
        r.slots = m.slots;
        r.slots.insert(r.slots.end(), tail->begin(), tail->end());
        running.push_back(std::move(r));
      }
    } else if (op <= 6 && !running.empty()) {  // a request finishes: insert, free dups, unlock
      size_t idx = static_cast<size_t>(rand_int(0, int(running.size()) - 1));
      Running r = std::move(running[idx]);
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(idx));
      const size_t expected_prefix = ref.match(r.tokens).size();
      const int prefix = f.cache.insert(r.tokens, r.slots);
      ASSERT_EQ(static_cast<size_t>(prefix), expected_prefix);
      ASSERT_GE(static_cast<size_t>(prefix), r.matched);
      ++finished;
      reused += r.matched > 0 ? 1 : 0;
      f.alloc.free(std::span<const int32_t>(r.slots.data() + r.matched,
                                            static_cast<size_t>(prefix) - r.matched));
      Ids p;
      for (size_t i = 0; i < r.tokens.size(); ++i) {
        p.push_back(r.tokens[i]);
        if (i >= static_cast<size_t>(prefix)) ref.prefix_slot[p] = r.slots[i];
      }
      f.cache.dec_lock_ref(r.last_node);
      ASSERT_EQ(f.cache.match_prefix(r.tokens).slots, ref.match(r.tokens));
    } else if (op == 7) {  // a lookup only (the scheduler's prefix-length estimate)
      Ids q = random_sequence();
      ASSERT_EQ(f.cache.match_prefix(q).slots, ref.match(q));
    } else if (op == 8) {
      evict_and_check(rand_int(1, 20));
    }
    ASSERT_EQ(f.cache.total_size(), static_cast<int>(ref.prefix_slot.size()));
    Ids held = held_slots();
    Status st = f.cache.check_invariants(f.alloc, held);
    ASSERT_TRUE(st.is_ok()) << "step " << step << ": " << st.to_string() << "\n"
                            << f.cache.pretty_print();
    if (history.size() > 64) history.erase(history.begin());
  }
  EXPECT_GT(total_evicted, 1000);
  EXPECT_GT(finished, 1000);
  EXPECT_GT(reused, 500);
  // Drain: finish everything, evict everything; the pool is whole again.
  for (Running& r : running) {
    int prefix = f.cache.insert(r.tokens, r.slots);
    f.alloc.free(std::span<const int32_t>(r.slots.data() + r.matched,
                                          static_cast<size_t>(prefix) - r.matched));
    f.cache.dec_lock_ref(r.last_node);
  }
  running.clear();
  EXPECT_EQ(f.cache.protected_size(), 0);
  f.evict(f.cache.evictable_size());
  EXPECT_EQ(f.alloc.available(), f.alloc.capacity());
  f.expect_ok();
}

}  // namespace
}  // namespace radix
