// ops::attention_shared_prefix on the CPU (the oracle of the CUDA cascade kernels)
// against ops::attention over each sequence's concatenated context (group prefix, then
// its own positions) on fresh random inputs: groups of 1..5 members in shuffled batch
// order, ungrouped sequences, empty prefixes, sequences without a query row, sliding
// windows that cut into the prefix, soft-cap; plus a hand-computed case and the
// inputs the dispatcher must reject.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/ops.h"
#include "tests/kernels/cpu/test_rng.h"

namespace radix {
namespace {

const OpContext kCpu{};

struct Seq {
  int group;  // -1: none
  int q_len;  // 0 or 1
  int own_len;
};

// One step's tensors, owned by vectors; views rebuilt after any edit by a test.
struct Step {
  int hq = 0, hk = 0, d = 0;
  std::vector<float> q, k_cache, v_cache, out, ref;
  std::vector<int32_t> qo{0}, kv{0}, own_slots, group_of, prefix_indptr{0}, prefix_slots;
  std::vector<int32_t> full_kv{0}, full_slots;  // the concatenated contexts
  int num_groups = 0, max_prefix_len = 0, max_group_size = 0, max_kv_len = 0, max_q_len = 0;
  float scale = 1.0f, softcap = 0.0f;
  int window = -1;

  static Tensor f32(std::vector<float>& v, const Shape& s) {
    return Tensor(v.data(), DType::kF32, s);
  }
  static Tensor i32(std::vector<int32_t>& v) {
    return Tensor(v.data(), DType::kI32, {static_cast<int64_t>(v.size())});
  }
  int64_t tokens() const { return qo.back(); }
  int64_t slots() const { return static_cast<int64_t>(k_cache.size()) / (hk * d); }
  Tensor out_t() { return f32(out, {tokens(), hq, d}); }
  Tensor q_t() { return f32(q, {tokens(), hq, d}); }
  Tensor k_t() { return f32(k_cache, {slots(), hk, d}); }
  Tensor v_t() { return f32(v_cache, {slots(), hk, d}); }
  AttentionParams suffix() {
    AttentionParams p;
    p.qo_indptr = i32(qo);
    p.kv_indptr = i32(kv);
    p.kv_indices = i32(own_slots);
    p.scale = scale;
    p.sliding_window = window;
    p.logit_softcap = softcap;
    p.max_q_len = max_q_len;
    p.max_kv_len = max_kv_len;
    return p;
  }
  SharedPrefix prefix() {
    SharedPrefix sp;
    sp.group_of_seq = i32(group_of);
    sp.prefix_indptr = i32(prefix_indptr);
    sp.prefix_indices = i32(prefix_slots);
    sp.num_groups = num_groups;
    sp.max_prefix_len = max_prefix_len;
    sp.max_group_size = max_group_size;
    return sp;
  }
  Status run() {
    return ops::attention_shared_prefix(kCpu, out_t(), q_t(), k_t(), v_t(), suffix(), prefix());
  }
  Status run_reference() {
    AttentionParams p = suffix();
    p.kv_indptr = i32(full_kv);
    p.kv_indices = i32(full_slots);
    return ops::attention(kCpu, f32(ref, {tokens(), hq, d}), q_t(), k_t(), v_t(), p);
  }
};

// Random values, distinct random pool slots (slot 0 stays the unused dummy).
Step make_step(testing::TestRng& rng, int hq, int hk, int d, const std::vector<int>& prefix_lens,
               const std::vector<Seq>& seqs) {
  Step s;
  s.hq = hq;
  s.hk = hk;
  s.d = d;
  s.num_groups = static_cast<int>(prefix_lens.size());
  s.scale = 1.0f / std::sqrt(static_cast<float>(d));
  int positions = 0;
  for (int len : prefix_lens) positions += len;
  for (const Seq& q : seqs) positions += q.own_len;
  std::vector<int32_t> perm(static_cast<size_t>(positions) + 4);
  std::iota(perm.begin(), perm.end(), 1);
  for (size_t i = 0; i + 1 < perm.size(); ++i) {
    std::swap(perm[i], perm[static_cast<size_t>(
                           rng.pick(static_cast<int>(i), static_cast<int>(perm.size()) - 1))]);
  }
  size_t next = 0;
  std::vector<std::vector<int32_t>> prefix(prefix_lens.size());
  for (size_t g = 0; g < prefix_lens.size(); ++g) {
    for (int i = 0; i < prefix_lens[g]; ++i) prefix[g].push_back(perm[next++]);
    s.prefix_slots.insert(s.prefix_slots.end(), prefix[g].begin(), prefix[g].end());
    s.prefix_indptr.push_back(static_cast<int32_t>(s.prefix_slots.size()));
    s.max_prefix_len = std::max(s.max_prefix_len, prefix_lens[g]);
  }
  std::vector<int> members(prefix_lens.size(), 0);
  for (const Seq& q : seqs) {
    s.group_of.push_back(q.group);
    s.qo.push_back(s.qo.back() + q.q_len);
    s.max_q_len = std::max(s.max_q_len, q.q_len);
    s.max_kv_len = std::max(s.max_kv_len, q.own_len);
    if (q.group >= 0) {
      s.max_group_size = std::max(s.max_group_size, ++members[static_cast<size_t>(q.group)]);
      s.full_slots.insert(s.full_slots.end(), prefix[static_cast<size_t>(q.group)].begin(),
                          prefix[static_cast<size_t>(q.group)].end());
    }
    for (int i = 0; i < q.own_len; ++i) {
      s.own_slots.push_back(perm[next]);
      s.full_slots.push_back(perm[next++]);
    }
    s.kv.push_back(static_cast<int32_t>(s.own_slots.size()));
    s.full_kv.push_back(static_cast<int32_t>(s.full_slots.size()));
  }
  const size_t pool = (perm.size() + 1) * static_cast<size_t>(hk * d);
  for (auto* v : {&s.k_cache, &s.v_cache}) {
    v->resize(pool);
    for (float& x : *v) x = rng.uniform(-1.0f, 1.0f);
  }
  s.q.resize(static_cast<size_t>(s.tokens() * hq * d));
  for (float& x : s.q) x = rng.uniform(-3.0f, 3.0f);
  s.out.assign(s.q.size(), std::nanf(""));
  s.ref.assign(s.q.size(), std::nanf(""));
  return s;
}

// A random step: 1..4 groups (prefix 0..max_prefix, 1..5 members), 0..3 ungrouped
// sequences, some sequences without a query row, all in shuffled order.
Step random_step(testing::TestRng& rng, int hq, int hk, int d, int max_prefix) {
  std::vector<int> prefix_lens(static_cast<size_t>(rng.pick(1, 4)));
  for (int& len : prefix_lens) len = rng.pick(0, 4) == 0 ? 0 : rng.pick(1, max_prefix);
  std::vector<Seq> seqs;
  for (int g = 0; g < static_cast<int>(prefix_lens.size()); ++g) {
    for (int m = rng.pick(1, 5); m > 0; --m) seqs.push_back({g, 1, rng.pick(1, 20)});
  }
  for (int u = rng.pick(0, 3); u > 0; --u) seqs.push_back({-1, 1, rng.pick(1, 30)});
  for (Seq& q : seqs) {
    if (rng.pick(0, 7) == 0) q.q_len = 0;
  }
  for (size_t i = 0; i + 1 < seqs.size(); ++i) {
    std::swap(seqs[i], seqs[static_cast<size_t>(
                           rng.pick(static_cast<int>(i), static_cast<int>(seqs.size()) - 1))]);
  }
  return make_step(rng, hq, hk, d, prefix_lens, seqs);
}

void expect_matches_reference(Step& s) {
  ASSERT_TRUE(s.run().is_ok()) << s.run().to_string();
  ASSERT_TRUE(s.run_reference().is_ok());
  // Both f32 outputs of one softmax over the same context (the twin in f64, attention
  // in f32): |V| <= 1, so a few f32 roundings of the sums.
  for (size_t i = 0; i < s.out.size(); ++i) {
    ASSERT_NEAR(s.out[i], s.ref[i], 2e-5f) << "element " << i;
  }
}

TEST(SharedPrefixAttention, EqualsAttentionOverTheConcatenatedContexts) {
  testing::TestRng rng;
  struct Heads {
    int hq, hk, d;
  };
  for (const Heads h :
       {Heads{8, 2, 16}, Heads{6, 3, 8}, Heads{4, 4, 32}, Heads{8, 1, 16}, Heads{7, 1, 8}}) {
    for (int iter = 0; iter < 6; ++iter) {
      SCOPED_TRACE("hq " + std::to_string(h.hq) + " hk " + std::to_string(h.hk) + " d " +
                   std::to_string(h.d));
      Step s = random_step(rng, h.hq, h.hk, h.d, 60);
      expect_matches_reference(s);
    }
  }
}

TEST(SharedPrefixAttention, SlidingWindowCountsPrefixPositionsAndSoftcapApplies) {
  testing::TestRng rng;
  for (int iter = 0; iter < 12; ++iter) {
    Step s = random_step(rng, 8, 2, 16, 80);
    s.window = rng.pick(1, 60);  // often ends inside the prefix, sometimes inside the suffix
    s.softcap = iter % 2 == 0 ? 0.0f : rng.uniform(0.5f, 5.0f);
    SCOPED_TRACE("window " + std::to_string(s.window) + " softcap " + std::to_string(s.softcap));
    expect_matches_reference(s);
  }
}

TEST(SharedPrefixAttention, WeighsPrefixAndOwnPositionsAsOneSoftmax) {
  // D = 1, one head, q = 1, scale 1. Group 0's prefix is slot 1 (k 0, v 4); sequence 0
  // adds slot 2 (k ln 3, v 8): weights 1 : 3, out = (4 + 3 * 8) / 4 = 7. Sequence 1 is
  // ungrouped with slot 3 (v -2) alone.
  Step s;
  s.hq = s.hk = s.d = 1;
  s.q = {1, 1};
  s.k_cache = {0, 0, std::log(3.0f), 5};
  s.v_cache = {0, 4, 8, -2};
  s.out = {0, 0};
  s.qo = {0, 1, 2};
  s.kv = {0, 1, 2};
  s.own_slots = {2, 3};
  s.group_of = {0, -1};
  s.prefix_indptr = {0, 1};
  s.prefix_slots = {1};
  s.num_groups = 1;
  s.max_prefix_len = 1;
  s.max_group_size = 1;
  s.max_q_len = 1;
  s.max_kv_len = 1;
  ASSERT_TRUE(s.run().is_ok());
  EXPECT_NEAR(s.out[0], 7.0f, 1e-5f);
  EXPECT_FLOAT_EQ(s.out[1], -2.0f);
  s.window = 1;  // sequence 0 now sees only its own position 1
  ASSERT_TRUE(s.run().is_ok());
  EXPECT_FLOAT_EQ(s.out[0], 8.0f);
}

TEST(SharedPrefixAttention, RejectsMalformedInputs) {
  testing::TestRng rng;
  const Step good =
      make_step(rng, 4, 2, 8, {5, 3}, {{0, 1, 2}, {1, 1, 1}, {0, 1, 4}, {-1, 1, 3}, {1, 0, 2}});
  {
    Step s = good;
    ASSERT_TRUE(s.run().is_ok());
  }
  struct Mutation {
    const char* what;
    void (*apply)(Step&);
  };
  const Mutation mutations[] = {
      {"group id past the groups", [](Step& s) { s.group_of[1] = 2; }},
      {"group id below -1", [](Step& s) { s.group_of[1] = -2; }},
      {"decreasing prefix_indptr",
       [](Step& s) {
         s.prefix_indptr[1] = 9;
         s.max_prefix_len = 100;
       }},
      {"prefix_indptr not ending at the indices", [](Step& s) { s.prefix_slots.pop_back(); }},
      {"prefix slot out of the pool",
       [](Step& s) { s.prefix_slots[2] = static_cast<int32_t>(s.slots()); }},
      {"own slot out of the pool", [](Step& s) { s.own_slots[0] = -1; }},
      {"a q_len of 2",
       [](Step& s) {
         s.qo = {0, 2, 3, 4, 5, 5};
         s.q.resize(s.q.size() + 4 * 8);
         s.out.resize(s.q.size());
       }},
      {"max_q_len 2", [](Step& s) { s.max_q_len = 2; }},
      {"max_q_len 0 with tokens", [](Step& s) { s.max_q_len = 0; }},
      {"max_prefix_len below a prefix", [](Step& s) { s.max_prefix_len = 4; }},
      {"max_group_size below a group", [](Step& s) { s.max_group_size = 1; }},
      {"group_of_seq of the wrong size", [](Step& s) { s.group_of.pop_back(); }},
      {"num_groups not matching prefix_indptr", [](Step& s) { s.num_groups = 1; }},
      {"a query with an empty context",
       [](Step& s) {  // sequence 3 (ungrouped) loses its positions
         s.own_slots.erase(s.own_slots.begin() + 7, s.own_slots.begin() + 10);
         s.kv = {0, 2, 3, 7, 7, 9};
       }},
      {"negative soft-cap", [](Step& s) { s.softcap = -1.0f; }},
  };
  for (const Mutation& m : mutations) {
    Step s = good;
    m.apply(s);
    const Status st = s.run();
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << m.what << ": " << st.to_string();
  }
}

}  // namespace
}  // namespace radix
