// CUDA vs CPU for ops::attention over ragged batches read through kv_indices (random
// slots of the pool): prefill/extend (q_len > 1 somewhere: FlashAttention-style
// kernel), decode (max_q_len == 1: split-KV tensor-core or SIMT kernel + merge), GQA group sizes 1, 2, 4,
// 7, 8, 16, head dims 64/128/256, sliding window and logit soft-cap (Gemma-2), and
// the model shapes Llama-3-8B (32/8 x 128), Qwen2-7B (28/4 x 128), Gemma-2 (16/8 x 256,
// soft-cap 50, window 4096).
//
// Tolerance: q, K, V are identical bf16 values on both sides; the CUDA kernels keep
// logits, the softmax and all accumulators in f32, but the prefill kernel rounds the
// probabilities to bf16 (relative 2^-9 each) for the tensor-core P.V product, and the
// output is rounded to bf16 (2^-9). With |V| <= 1 those errors average over the
// context: docs/kernels.md lists the measured rel-L2; we require rel-L2 <= 1e-2 and every
// element within 1.5e-2 absolute (a few sigma of 2^-9 * max|V| over ~1M elements).
#include <algorithm>
#include <numeric>

#include "kernels/cuda/attention/plan.h"
#include "tests/kernels/gpu/gpu_test_util.h"

#ifdef RADIX_HAS_CUDA_KERNELS

namespace radix::testing {
namespace {

struct Seq {
  int q_len, kv_len;
};

struct AttnCase {
  int hq, hk, d;
  std::vector<Seq> seqs;
  float softcap = 0.0f;
  int window = -1;
  float q_range = 4.0f;
  int plan_kv_len = 0;  // > max kv_len: plan splits for a longer context (as decode graphs do)
  DType dt = DType::kBF16;  // q, out and KV cache on the device (f32: the float32 model mode's kernel)
};

class AttentionGpu : public GpuKernelTest {
 protected:
  void check(const AttnCase& c) {
    int t = 0, kv_total = 0, max_q = 0, max_kv = 0;
    std::vector<int32_t> qo{0}, kvp{0};
    for (const Seq& s : c.seqs) {
      t += s.q_len;
      kv_total += s.kv_len;
      max_q = std::max(max_q, s.q_len);
      max_kv = std::max(max_kv, s.kv_len);
      qo.push_back(t);
      kvp.push_back(kv_total);
    }
    std::string what = "hq " + std::to_string(c.hq) + " hk " + std::to_string(c.hk) + " d " +
                       std::to_string(c.d) + " softcap " + std::to_string(c.softcap) + " window " +
                       std::to_string(c.window) + " seqs";
    for (const Seq& s : c.seqs)
      what += " (" + std::to_string(s.q_len) + "," + std::to_string(s.kv_len) + ")";
    SCOPED_TRACE(what);
    // Pool: slot 0 is the dummy; context positions get distinct random slots.
    const int slots = kv_total + 8;
    std::vector<int32_t> perm(slots - 1);
    std::iota(perm.begin(), perm.end(), 1);
    for (size_t i = 0; i + 1 < perm.size(); ++i)
      std::swap(perm[i], perm[rng().randint(static_cast<int>(i), slots - 2)]);
    std::vector<int32_t> kv_indices(perm.begin(), perm.begin() + kv_total);

    OwnedTensor q = random_host({t, c.hq, c.d}, -c.q_range, c.q_range);
    OwnedTensor kc = random_host({slots, c.hk, c.d}, -1, 1),
                vc = random_host({slots, c.hk, c.d}, -1, 1);
    OwnedTensor qo_h = i32_host(qo), kvp_h = i32_host(kvp), kvi_h = i32_host(kv_indices);
    AttentionParams p;
    p.scale = 1.0f / std::sqrt(static_cast<float>(c.d));
    p.sliding_window = c.window;
    p.logit_softcap = c.softcap;
    p.max_q_len = max_q;
    p.max_kv_len = std::max(max_kv, c.plan_kv_len);
    p.qo_indptr = qo_h;
    p.kv_indptr = kvp_h;
    p.kv_indices = kvi_h;
    OwnedTensor ref = OwnedTensor::host({t, c.hq, c.d}, DType::kF32);
    Status st = ops::attention(cpu(), ref, q, kc, vc, p);
    ASSERT_TRUE(st.is_ok()) << st.to_string();

    OwnedTensor d_q = to_device(q, c.dt);
    OwnedTensor d_kc = to_device(kc, c.dt), d_vc = to_device(vc, c.dt);
    OwnedTensor d_qo = to_device(qo_h, DType::kI32), d_kvp = to_device(kvp_h, DType::kI32);
    OwnedTensor d_kvi = to_device(kvi_h, DType::kI32);
    AttentionParams dp = p;
    dp.qo_indptr = d_qo;
    dp.kv_indptr = d_kvp;
    dp.kv_indices = d_kvi;
    OwnedTensor d_out = poisoned({t, c.hq, c.d}, c.dt);
    st = ops::attention(gpu(), d_out, d_q, d_kc, d_vc, dp);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    OwnedTensor got = to_host_f32(d_out);
    print_error(what.c_str(), got, ref);
    // A second launch on a re-poisoned output gives the same bits.
    OwnedTensor d_out2 = poisoned({t, c.hq, c.d}, c.dt);
    ASSERT_TRUE(ops::attention(gpu(), d_out2, d_q, d_kc, d_vc, dp).is_ok());
    EXPECT_TRUE(all_close(to_host_f32(d_out2), got, 0, 0)) << "second launch differs";
    // bf16: inputs and output rounded (2^-9 each); f32: summation order only.
    const bool f32 = c.dt == DType::kF32;
    EXPECT_TRUE(rel_l2_below(got, ref, f32 ? 1e-4 : 1e-2));
    EXPECT_TRUE(all_close(got, ref, f32 ? 1e-4f : 1.5e-2f, 0));
  }

  std::vector<Seq> decode_batch(int b, int max_kv) {
    std::vector<Seq> s;
    for (int i = 0; i < b; ++i) s.push_back({1, rng().randint(1, max_kv)});
    return s;
  }
};

const std::vector<Seq> kPrefillMix = {{17, 17}, {129, 1129}, {1, 1}, {3, 53}, {1, 2000}, {64, 64}};

TEST_F(AttentionGpu, LlamaPrefillAndExtendMatchCpu) {
  check({32, 8, 128, kPrefillMix});
}

TEST_F(AttentionGpu, LlamaDecodeMatchesCpuForShortAndLongContexts) {
  check({32, 8, 128, decode_batch(8, 3000)});
  check({32, 8, 128, {{1, 3000}}});  // one sequence: many splits
  check({32, 8, 128, {{1, 1}}});
  check({32, 8, 128, decode_batch(64, 300)});  // enough CTAs: no split
}

TEST_F(AttentionGpu, DecodePlannedForLongerContextsLeavesSplitsInactive) {
  // Graphs plan splits for the whole context window; a short context then uses only the
  // splits it fills (>= 64 positions each): the inactive ones exit before the PDL wait,
  // the merge reads only the active ones, and a sequence with one active split is
  // written by the attention kernel itself (the merge skips its rows). Both kernels;
  // with a sequence without a query row in the middle, the merge finds each row's
  // sequence by searching qo_indptr.
  const bool was = cuda::decode_mma_enabled();
  for (const bool mma : {true, false}) {
    SCOPED_TRACE(mma ? "tensor-core kernel" : "SIMT kernel");
    cuda::set_decode_mma_enabled(mma);
    check({32, 8, 128, {{1, 1}}, 0.0f, -1, 4.0f, 8192});
    check({32, 8, 128, {{1, 100}}, 0.0f, -1, 4.0f, 8192});
    check({32, 8, 128, {{1, 700}}, 0.0f, -1, 4.0f, 8192});
    check({32, 8, 128, decode_batch(3, 3000), 0.0f, -1, 4.0f, 8192});
    check({32, 8, 128, {{1, 60}, {0, 5}, {1, 700}, {1, 64}, {0, 9}, {1, 65}}, 0.0f, -1, 4.0f, 8192});
    check({16, 8, 256, {{1, 300}}, 50.0f, 64, 4.0f, 8192});  // window: the context starts late
    check({16, 8, 256, {{1, 3000}, {0, 2}, {1, 40}}, 50.0f, 100, 4.0f, 8192});  // window 100: two splits at most
  }
  cuda::set_decode_mma_enabled(was);
}

// The split merge's loads in flight per thread (RADIX_DECODE_MERGE_BATCH): 16 by default,
// 4 in the first version. Active split counts below, at and over one batch, a remainder
// batch, and inactive upper splits (planned for 8192 positions); the switch restored.
TEST_F(AttentionGpu, SplitMergeAtBothBatchWidthsMatchesCpu) {
  const int was = cuda::decode_merge_batch();
  for (const int width : {4, 16}) {
    SCOPED_TRACE("merge batch " + std::to_string(width));
    cuda::set_decode_merge_batch(width);
    EXPECT_EQ(cuda::decode_merge_batch(), width);
    check({32, 8, 128, {{1, 3000}}});  // 33 splits: two whole batches of 16 and one more
    check({32, 8, 128, {{1, 1}}, 0.0f, -1, 4.0f, 8192});
    check({32, 8, 128, {{1, 700}}, 0.0f, -1, 4.0f, 8192});   // 11 of 33 active
    check({32, 8, 128, {{1, 1100}}, 0.0f, -1, 4.0f, 8192});  // 18 of 33 active
    check({32, 8, 128, decode_batch(3, 3000), 0.0f, -1, 4.0f, 8192});
  }
  cuda::set_decode_merge_batch(was);
}

TEST_F(AttentionGpu, QwenGroupOfSevenMatchesCpu) {
  check({28, 4, 128, kPrefillMix});
  check({28, 4, 128, decode_batch(5, 3000)});
}

TEST_F(AttentionGpu, GemmaSoftcapAndWindowMatchCpu) {
  check({16, 8, 256, kPrefillMix, 50.0f, 4096});
  check({16, 8, 256, decode_batch(6, 3000), 50.0f, 4096});
  check({16, 8, 256, kPrefillMix, 50.0f, -1});
  check({16, 8, 256, decode_batch(6, 3000), 50.0f, -1});
  // A small window and a tight cap actually bite.
  check({16, 8, 256, kPrefillMix, 2.0f, 64, 8.0f});
  check({16, 8, 256, decode_batch(6, 3000), 2.0f, 64, 8.0f});
  check({8, 8, 256, decode_batch(3, 500)});
}

TEST_F(AttentionGpu, HeadDim64WithSlidingWindowMatchesCpu) {
  check({16, 2, 64, kPrefillMix});
  check({16, 2, 64, decode_batch(7, 3000)});
  check({16, 2, 64, kPrefillMix, 0.0f, 100});
  check({16, 2, 64, decode_batch(7, 3000), 0.0f, 100});
}

TEST_F(AttentionGpu, MhaAndLargeGroupsMatchCpu) {
  check({4, 4, 128, kPrefillMix});
  check({4, 4, 128, decode_batch(9, 2000)});
  check({32, 2, 128, decode_batch(3, 2000)});  // group 16: two CTAs per KV head
  check({32, 2, 128, {{33, 100}, {1, 7}}});
  check({8, 4, 128, decode_batch(2, 700)});  // group 2
}

// Decode runs on the tensor-core kernel (decode_mma.cuh) by default; the SIMT kernel
// stays for head dim 256, groups over 16 and RADIX_DECODE_ATTN=simt. Both against the
// CPU on the decode cases above (switch restored afterwards).
TEST_F(AttentionGpu, BothDecodeKernelsMatchCpu) {
  const bool was = cuda::decode_mma_enabled();
  for (const bool mma : {false, true}) {
    SCOPED_TRACE(mma ? "tensor-core decode" : "SIMT decode");
    cuda::set_decode_mma_enabled(mma);
    EXPECT_EQ(cuda::decode_cta_heads(32, 8, 128), mma ? 8 : 8);
    EXPECT_EQ(cuda::decode_cta_heads(32, 2, 128), mma ? 2 : 4);   // group 16: one CTA or two
    EXPECT_EQ(cuda::decode_cta_heads(28, 4, 128), mma ? 4 : 4);
    EXPECT_EQ(cuda::decode_cta_heads(16, 8, 256), 8);              // head dim 256: SIMT either way
    EXPECT_EQ(cuda::decode_cta_heads(64, 2, 128), 8);              // group 32: SIMT either way
    check({32, 8, 128, decode_batch(8, 3000)});
    check({32, 8, 128, {{1, 3000}}});
    check({32, 8, 128, {{1, 1}}, 0.0f, -1, 4.0f, 8192});
    check({32, 8, 128, {{1, 700}}, 0.0f, -1, 4.0f, 8192});
    check({32, 8, 128, decode_batch(64, 300)});
    check({28, 4, 128, decode_batch(5, 3000)});
    check({32, 2, 128, decode_batch(3, 2000)});
    check({8, 4, 128, decode_batch(2, 700)});
    check({4, 4, 128, decode_batch(9, 2000)});
    check({16, 2, 64, decode_batch(7, 3000), 0.0f, 100});
    check({64, 2, 128, decode_batch(2, 900)});              // group 32
    check({32, 8, 128, {{1, 10}, {0, 5}, {1, 1500}}});
  }
  cuda::set_decode_mma_enabled(was);
}

TEST_F(AttentionGpu, SequencesWithoutNewTokensAreSkipped) {
  check({32, 8, 128, {{1, 10}, {0, 5}, {1, 1500}}});
  check({32, 8, 128, {{0, 40}, {20, 60}, {0, 3}}});
}

TEST_F(AttentionGpu, Float32ModeMatchesCpu) {
  // The f32 kernel (--dtype float32): prefill, extend, decode, GQA, MHA, window,
  // soft-cap, head dims 64 / 80 / 128 / 256, sequences without new tokens.
  auto f32 = [](AttnCase c) {
    c.dt = DType::kF32;
    return c;
  };
  check(f32({32, 8, 128, {{17, 17}, {5, 300}, {0, 9}, {1, 1}, {1, 700}}}));
  check(f32({28, 4, 128, decode_batch(6, 500)}));
  check(f32({8, 8, 64, {{40, 40}, {1, 90}}, 0.0f, 16}));
  check(f32({16, 8, 256, {{9, 30}, {1, 200}}, 50.0f, 24}));
  check(f32({4, 2, 80, {{3, 11}, {1, 5}}}));
}

TEST_F(AttentionGpu, UnsupportedHeadDimOrDtypeIsAnErrorNotACrash) {
  OwnedTensor qo = i32_device({0, 1}), kvp = i32_device({0, 1}), kvi = i32_device({0});
  AttentionParams p;
  p.qo_indptr = qo;
  p.kv_indptr = kvp;
  p.kv_indices = kvi;
  p.max_q_len = 1;
  p.max_kv_len = 1;
  OwnedTensor q72 = poisoned({1, 2, 72}, DType::kBF16), kc72 = poisoned({1, 2, 72}, DType::kBF16);
  Status st = ops::attention(gpu(), q72, q72, kc72, kc72, p);
  EXPECT_EQ(st.code(), StatusCode::kUnimplemented) << st.to_string();
  OwnedTensor q32 = poisoned({1, 2, 128}, DType::kF32), kc = poisoned({1, 2, 128}, DType::kBF16);
  EXPECT_FALSE(ops::attention(gpu(), q32, q32, kc, kc, p).is_ok());
  OwnedTensor q = poisoned({1, 2, 128}, DType::kBF16);
  p.max_q_len = 0;
  EXPECT_EQ(ops::attention(gpu(), q, q, kc, kc, p).code(), StatusCode::kInvalidArgument);
}

TEST(DecodeSplits, FillTheMachineButNeverExceedTheWorkspace) {
  cuda::DecodeSplitInputs in;
  in.batch = 1;
  in.tokens = 1;
  in.num_q_heads = 32;
  in.cta_heads = 8;
  in.head_dim = 128;
  in.max_kv_len = 4096;
  in.num_sms = 132;
  in.workspace_bytes = size_t{64} << 20;
  const int s = cuda::decode_num_splits(in);
  EXPECT_GE(s * in.batch * in.cta_heads, in.num_sms);
  EXPECT_LE(s * in.batch * in.cta_heads, 2 * in.num_sms);
  EXPECT_LE(s, (in.max_kv_len + cuda::kMinPositionsPerSplit - 1) / cuda::kMinPositionsPerSplit);
  in.min_positions = 1024;  // RADIX_DECODE_SPLIT_MIN_POSITIONS=1024: 4096 positions, 4 splits at most
  EXPECT_EQ(cuda::decode_num_splits(in), 4);
  in.min_positions = 1;  // below the floor: as 64
  EXPECT_EQ(cuda::decode_num_splits(in), s);
  in.min_positions = cuda::kMinPositionsPerSplit;
  in.max_kv_len = 1;
  EXPECT_EQ(cuda::decode_num_splits(in), 1);
  in.max_kv_len = 100000;
  in.batch = in.tokens = 160;
  in.workspace_bytes = 3 * size_t{160} * 32 * 129 * 4;
  EXPECT_LE(cuda::decode_num_splits(in), 3);
  in.workspace_bytes = 0;
  EXPECT_EQ(cuda::decode_num_splits(in), 1);
}

}  // namespace
}  // namespace radix::testing

#endif  // RADIX_HAS_CUDA_KERNELS
