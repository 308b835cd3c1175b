// CUDA vs CPU for ops::attention_shared_prefix (cascade decode attention): groups of
// 1..16 members sharing prefixes of 0..3000 positions, own suffixes of 1..300, mixed
// with ungrouped sequences and sequences without a query row, all in shuffled batch
// order and random pool slots; Llama-3-8B (32/8 x 128), Qwen2-7B (28/4 x 128: 16
// members x 7 heads = 112 rows, two row blocks), D 64 (group 8) with a window, Gemma-2
// (16/8 x 256) with soft-cap and window; maxima planned larger than the step (as a
// captured graph plans) and smaller (more members than planned: the kernel's extra
// row blocks); error paths; and the host plan.
//
// Tolerance as tests/kernels/gpu/attention_test.cpp: the prefix pass rounds the
// probabilities to bf16 for its tensor-core P.V (as prefill does), partials and the
// merge stay f32, the output is rounded to bf16: rel-L2 <= 1e-2 and every element
// within 1.5e-2 (|V| <= 1).
#include <algorithm>
#include <numeric>

#include "kernels/cuda/attention/plan.h"
#include "tests/kernels/gpu/gpu_test_util.h"

#ifdef RADIX_HAS_CUDA_KERNELS

namespace radix::testing {
namespace {

struct SpCase {
  int hq, hk, d;
  std::vector<int> prefix_lens;  // per group
  std::vector<int> members;      // per group
  int ungrouped = 0;             // sequences with group -1
  int idle = 0;                  // sequences without a query row
  int max_suffix = 300;          // own lengths 1..max_suffix
  float softcap = 0.0f;
  int window = -1;
  // Maxima the CUDA call plans with (0: the step's own); the CPU oracle always gets
  // the step's own, which its validation requires.
  int plan_prefix = 0, plan_group = 0, plan_suffix = 0;
  DType dt = DType::kBF16;  // q, out and KV cache on the device (f32: the float32 mode's kernel)
};

class SharedPrefixAttentionGpu : public GpuKernelTest {
 protected:
  void check(const SpCase& c) {
    struct Seq {
      int group, q_len, own_len;
    };
    std::vector<Seq> seqs;
    for (size_t g = 0; g < c.members.size(); ++g) {
      for (int m = 0; m < c.members[g]; ++m)
        seqs.push_back({static_cast<int>(g), 1, rng().randint(1, c.max_suffix)});
    }
    for (int u = 0; u < c.ungrouped; ++u) seqs.push_back({-1, 1, rng().randint(1, c.max_suffix)});
    const int num_groups = static_cast<int>(c.prefix_lens.size());
    for (int i = 0; i < c.idle; ++i) {
      seqs.push_back({num_groups > 0 ? rng().randint(-1, num_groups - 1) : -1, 0,
                      rng().randint(1, c.max_suffix)});
    }
    for (size_t i = 0; i + 1 < seqs.size(); ++i) {
      std::swap(seqs[i], seqs[static_cast<size_t>(rng().randint(
                             static_cast<int>(i), static_cast<int>(seqs.size()) - 1))]);
    }
    std::string what = "hq " + std::to_string(c.hq) + " hk " + std::to_string(c.hk) + " d " +
                       std::to_string(c.d) + " softcap " + std::to_string(c.softcap) + " window " +
                       std::to_string(c.window) + " groups";
    for (size_t g = 0; g < c.prefix_lens.size(); ++g) {
      what += " (" + std::to_string(c.prefix_lens[g]) + " x " + std::to_string(c.members[g]) + ")";
    }
    what += " ungrouped " + std::to_string(c.ungrouped) + " idle " + std::to_string(c.idle);
    SCOPED_TRACE(what);

    int positions = 0, max_prefix = 0, max_group = 0, max_suffix = 0;
    for (int len : c.prefix_lens) {
      positions += len;
      max_prefix = std::max(max_prefix, len);
    }
    std::vector<int> group_size(c.prefix_lens.size(), 0);  // idle sequences count too
    for (const Seq& s : seqs) {
      positions += s.own_len;
      max_suffix = std::max(max_suffix, s.own_len);
      if (s.group >= 0) max_group = std::max(max_group, ++group_size[static_cast<size_t>(s.group)]);
    }
    // Pool: slot 0 is the dummy; every position gets a distinct random slot.
    const int slots = positions + 8;
    std::vector<int32_t> perm(static_cast<size_t>(slots) - 1);
    std::iota(perm.begin(), perm.end(), 1);
    for (size_t i = 0; i + 1 < perm.size(); ++i) {
      std::swap(perm[i], perm[static_cast<size_t>(rng().randint(static_cast<int>(i), slots - 2))]);
    }
    size_t next = 0;
    std::vector<int32_t> prefix_indptr{0}, prefix_slots;
    for (int len : c.prefix_lens) {
      for (int i = 0; i < len; ++i) prefix_slots.push_back(perm[next++]);
      prefix_indptr.push_back(static_cast<int32_t>(prefix_slots.size()));
    }
    std::vector<int32_t> qo{0}, kvp{0}, own_slots, group_of;
    for (const Seq& s : seqs) {
      qo.push_back(qo.back() + s.q_len);
      for (int i = 0; i < s.own_len; ++i) own_slots.push_back(perm[next++]);
      kvp.push_back(static_cast<int32_t>(own_slots.size()));
      group_of.push_back(s.group);
    }
    const int t = qo.back();

    OwnedTensor q = random_host({t, c.hq, c.d}, -4.0f, 4.0f);
    OwnedTensor kc = random_host({slots, c.hk, c.d}, -1, 1),
                vc = random_host({slots, c.hk, c.d}, -1, 1);
    OwnedTensor qo_h = i32_host(qo), kvp_h = i32_host(kvp), own_h = i32_host(own_slots);
    OwnedTensor group_h = i32_host(group_of), pp_h = i32_host(prefix_indptr),
                ps_h = i32_host(prefix_slots);
    AttentionParams p;
    p.scale = 1.0f / std::sqrt(static_cast<float>(c.d));
    p.sliding_window = c.window;
    p.logit_softcap = c.softcap;
    p.max_q_len = 1;
    p.max_kv_len = max_suffix;
    p.qo_indptr = qo_h;
    p.kv_indptr = kvp_h;
    p.kv_indices = own_h;
    SharedPrefix sp;
    sp.group_of_seq = group_h;
    sp.prefix_indptr = pp_h;
    sp.prefix_indices = ps_h;
    sp.num_groups = num_groups;
    sp.max_prefix_len = max_prefix;
    sp.max_group_size = max_group;
    OwnedTensor ref = OwnedTensor::host({t, c.hq, c.d}, DType::kF32);
    Status st = ops::attention_shared_prefix(cpu(), ref, q, kc, vc, p, sp);
    ASSERT_TRUE(st.is_ok()) << st.to_string();

    OwnedTensor d_q = to_device(q, c.dt);
    OwnedTensor d_kc = to_device(kc, c.dt), d_vc = to_device(vc, c.dt);
    OwnedTensor d_qo = to_device(qo_h, DType::kI32), d_kvp = to_device(kvp_h, DType::kI32);
    OwnedTensor d_own = to_device(own_h, DType::kI32), d_group = to_device(group_h, DType::kI32);
    OwnedTensor d_pp = to_device(pp_h, DType::kI32), d_ps = to_device(ps_h, DType::kI32);
    AttentionParams dp = p;
    dp.qo_indptr = d_qo;
    dp.kv_indptr = d_kvp;
    dp.kv_indices = d_own;
    if (c.plan_suffix > 0) dp.max_kv_len = c.plan_suffix;
    SharedPrefix dsp = sp;
    dsp.group_of_seq = d_group;
    dsp.prefix_indptr = d_pp;
    dsp.prefix_indices = d_ps;
    if (c.plan_prefix > 0) dsp.max_prefix_len = c.plan_prefix;
    if (c.plan_group > 0) dsp.max_group_size = c.plan_group;
    OwnedTensor d_out = poisoned({t, c.hq, c.d}, c.dt);
    st = ops::attention_shared_prefix(gpu(), d_out, d_q, d_kc, d_vc, dp, dsp);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    OwnedTensor got = to_host_f32(d_out);
    print_error(what.c_str(), got, ref);
    // A second launch on a re-poisoned output gives the same bits.
    OwnedTensor d_out2 = poisoned({t, c.hq, c.d}, c.dt);
    ASSERT_TRUE(ops::attention_shared_prefix(gpu(), d_out2, d_q, d_kc, d_vc, dp, dsp).is_ok());
    EXPECT_TRUE(all_close(to_host_f32(d_out2), got, 0, 0)) << "second launch differs";
    const bool f32 = c.dt == DType::kF32;  // f32: summation order only
    EXPECT_TRUE(rel_l2_below(got, ref, f32 ? 1e-4 : 1e-2));
    EXPECT_TRUE(all_close(got, ref, f32 ? 1e-4f : 1.5e-2f, 0));
  }

  // `n` groups of 1..16 members with prefixes of 0..3000 positions.
  SpCase random_groups(int hq, int hk, int d, int n) {
    SpCase c{hq, hk, d, {}, {}};
    for (int g = 0; g < n; ++g) {
      c.prefix_lens.push_back(rng().randint(0, 5) == 0 ? 0 : rng().randint(1, 3000));
      c.members.push_back(rng().randint(1, 16));
    }
    c.ungrouped = rng().randint(0, 4);
    c.idle = rng().randint(0, 2);
    return c;
  }
};

TEST_F(SharedPrefixAttentionGpu, LlamaGroupsMatchCpu) {
  check({32, 8, 128, {3000, 0, 700, 64, 1}, {16, 1, 5, 16, 3}, 3, 2});
  check(random_groups(32, 8, 128, 4));
  check(random_groups(32, 8, 128, 1));
}

TEST_F(SharedPrefixAttentionGpu, QwenGroupOfSevenNeedsTwoRowBlocksAndMatchesCpu) {
  check({28, 4, 128, {2000, 333}, {16, 9}, 2, 1});
  check(random_groups(28, 4, 128, 3));
}

TEST_F(SharedPrefixAttentionGpu, HeadDim64WithSlidingWindowMatchesCpu) {
  check({16, 2, 64, {1500, 90}, {8, 16}, 2, 1});
  // Window 100 ends inside most prefixes; 400 inside some; short suffixes keep it there.
  SpCase w{16, 2, 64, {1500, 90, 250}, {8, 16, 3}, 2, 1, 150, 0.0f, 100};
  check(w);
  w.window = 400;
  check(w);
  check({32, 8, 128, {1200, 40}, {4, 12}, 1, 0, 300, 0.0f, 256});  // D 128, window
}

TEST_F(SharedPrefixAttentionGpu, GemmaSoftcapAndWindowMatchCpu) {
  check({16, 8, 256, {3000, 512}, {6, 16}, 2, 1, 300, 50.0f, 4096});
  check({16, 8, 256, {3000, 512}, {6, 16}, 2, 1, 300, 50.0f, -1});
  // A small window and a tight cap actually bite.
  check({16, 8, 256, {700, 100}, {5, 16}, 2, 1, 60, 2.0f, 64});
}

TEST_F(SharedPrefixAttentionGpu, Float32ModeMatchesCpu) {
  SpCase c{32, 8, 128, {900, 0, 64}, {5, 2, 3}, 2, 1};
  c.dt = DType::kF32;
  check(c);
  SpCase w{16, 8, 256, {300, 80}, {4, 6}, 1, 1, 60, 2.0f, 64};  // soft-cap and a window that bites
  w.dt = DType::kF32;
  check(w);
}

TEST_F(SharedPrefixAttentionGpu, StepsWithoutGroupsOrWithOnlyEmptyPrefixesMatchCpu) {
  check({32, 8, 128, {}, {}, 7, 2});
  check({32, 8, 128, {0, 0}, {3, 16}, 1, 1});
}

TEST_F(SharedPrefixAttentionGpu, MaximaPlannedLargerThanTheStepLeaveSplitsIdle) {
  // As a captured decode graph plans: for the longest prefix, largest group and suffix
  // it may see; prefix splits beyond the real prefix write lse = -inf only.
  SpCase c{32, 8, 128, {300, 10, 2500}, {2, 1, 3}, 1, 1};
  c.plan_prefix = 8192;
  c.plan_group = 32;
  c.plan_suffix = 4096;
  check(c);
}

TEST_F(SharedPrefixAttentionGpu, MembersBeyondThePlannedRowsAreStillCovered) {
  // Planned for one member and a one-position prefix: each CTA walks further blocks of
  // rows (16 members x 7 heads = 112 rows: two blocks) and one split takes the whole
  // prefix. Not the contract (the maxima must bound the step), but nothing may be
  // left unwritten or read out of bounds.
  SpCase c{28, 4, 128, {900, 2000}, {16, 11}, 1, 1};
  c.plan_prefix = 1;
  c.plan_group = 1;
  check(c);
}

TEST_F(SharedPrefixAttentionGpu, UnsupportedInputsAreErrorsNotCrashes) {
  OwnedTensor qo = i32_device({0, 1}), kvp = i32_device({0, 1}), own = i32_device({0});
  OwnedTensor group = i32_device({0}), pp = i32_device({0, 1}), ps = i32_device({0});
  AttentionParams p;
  p.qo_indptr = qo;
  p.kv_indptr = kvp;
  p.kv_indices = own;
  p.max_q_len = 1;
  p.max_kv_len = 1;
  SharedPrefix sp;
  sp.group_of_seq = group;
  sp.prefix_indptr = pp;
  sp.prefix_indices = ps;
  sp.num_groups = 1;
  sp.max_prefix_len = 1;
  sp.max_group_size = 1;
  OwnedTensor q72 = poisoned({1, 2, 72}, DType::kBF16), kc72 = poisoned({1, 2, 72}, DType::kBF16);
  EXPECT_EQ(ops::attention_shared_prefix(gpu(), q72, q72, kc72, kc72, p, sp).code(),
            StatusCode::kUnimplemented);
  OwnedTensor q32 = poisoned({1, 2, 128}, DType::kF32), kc = poisoned({1, 2, 128}, DType::kBF16);
  EXPECT_EQ(ops::attention_shared_prefix(gpu(), q32, q32, kc, kc, p, sp).code(),
            StatusCode::kUnimplemented);
  OwnedTensor q = poisoned({1, 2, 128}, DType::kBF16);
  const OpContext no_backend{Device::cuda(0), nullptr, nullptr};
  EXPECT_EQ(ops::attention_shared_prefix(no_backend, q, q, kc, kc, p, sp).code(),
            StatusCode::kInvalidArgument);
  p.max_q_len = 2;
  EXPECT_EQ(ops::attention_shared_prefix(gpu(), q, q, kc, kc, p, sp).code(),
            StatusCode::kInvalidArgument);
  p.max_q_len = 1;
  // A workspace too small for even one prefix and one suffix plane.
  CudaBackendOptions small;
  small.attention_workspace_bytes = 1024;
  auto tiny = CudaBackend::create(0, small);
  ASSERT_TRUE(tiny.is_ok());
  const OpContext tiny_ctx{Device::cuda(0), nullptr, tiny->get()};
  EXPECT_EQ(ops::attention_shared_prefix(tiny_ctx, q, q, kc, kc, p, sp).code(),
            StatusCode::kResourceExhausted);
}

TEST(SharedPrefixPlan, FillsTheMachineAndFitsTheWorkspace) {
  cuda::SharedPrefixPlanInputs in;  // the bench: 64 groups x 16 members, Llama-3-8B heads
  in.batch = in.tokens = 1024;
  in.num_q_heads = 32;
  in.num_kv_heads = 8;
  in.head_dim = 128;
  in.num_groups = 64;
  in.max_prefix_len = 2048;
  in.max_group_size = 16;
  in.max_suffix_len = 384;
  in.num_sms = 132;
  in.workspace_bytes = size_t{64} << 20;
  auto plan = cuda::plan_shared_prefix(in);
  ASSERT_TRUE(plan.is_ok()) << plan.status().to_string();
  EXPECT_EQ(plan->row_blocks, 1);     // 16 x 4 rows = 64
  EXPECT_EQ(plan->prefix_splits, 1);  // 512 CTAs already make two waves
  EXPECT_EQ(plan->suffix_splits, 1);  // 1024 x 8 decode CTAs
  const size_t plane = size_t{1024} * 32 * 129 * 4;
  EXPECT_LE((plan->prefix_splits + plan->suffix_splits) * plane, in.workspace_bytes);

  in.batch = in.tokens = 16;  // one group: splits fill the machine, >= 256 positions each
  in.num_groups = 1;
  plan = cuda::plan_shared_prefix(in);
  ASSERT_TRUE(plan.is_ok());
  EXPECT_EQ(plan->prefix_splits, 8);  // min(264 / 8 = 33, 2048 / 256 = 8)
  EXPECT_GE(plan->suffix_splits, 1);

  in.num_q_heads = 28;  // Qwen: 16 members x 7 heads = 112 rows
  in.num_kv_heads = 4;
  plan = cuda::plan_shared_prefix(in);
  ASSERT_TRUE(plan.is_ok());
  EXPECT_EQ(plan->row_blocks, 2);

  in.num_groups = 0;  // no groups: suffix only
  plan = cuda::plan_shared_prefix(in);
  ASSERT_TRUE(plan.is_ok());
  EXPECT_EQ(plan->prefix_splits, 0);

  in.num_groups = 1;
  in.batch = in.tokens = 4096;  // 4096 x 28 x 129 x 4 B = 59 MB: one plane, two needed
  auto full = cuda::plan_shared_prefix(in);
  EXPECT_EQ(full.status().code(), StatusCode::kResourceExhausted);
  in.workspace_bytes = size_t{4096} * 28 * 129 * 4 * 3;  // three planes: the prefix gets two
  plan = cuda::plan_shared_prefix(in);
  ASSERT_TRUE(plan.is_ok());
  EXPECT_EQ(plan->prefix_splits, 2);
  EXPECT_EQ(plan->suffix_splits, 1);
}

}  // namespace
}  // namespace radix::testing

#endif  // RADIX_HAS_CUDA_KERNELS
