// CUDA vs CPU for ops::decode_layer_tail: the o projection + residual add, the MLP and
// the next layer's norm + qkv + RoPE + KV store. At one token the CUDA side is one
// persistent kernel (kernels/cuda/gemm/decode_chain.cu); the CPU twin runs the ops one by
// one in f32.
//
// Tolerances: those of fused_gemm_test.cpp for each projection (relative L2 < 6e-3, per
// element <= 2^-6 * max|ref|). The chain feeds each phase the bf16-rounded output of the
// previous one (the residual after the o add, act, the residual after the down add), as
// the unfused CUDA ops do, where the CPU twin keeps f32: the residual's rounding
// (2^-9 relative) adds to the next phase's error, so chained outputs allow 8e-3.
#include <algorithm>
#include <cmath>
#include <vector>

#include "tests/kernels/gpu/gpu_test_util.h"

#ifdef RADIX_HAS_CUDA_KERNELS
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/gemm/decode_chain.h"

namespace radix::testing {
namespace {

struct Shape5 {
  int64_t h, inter, hq, hk, d;
};

constexpr Shape5 kLlama3{4096, 14336, 32, 8, 128};
constexpr Shape5 kTiny{192, 512, 6, 2, 32};     // models/default: K = 192, a partial 1024-column chunk
constexpr Shape5 kQwen2{896, 4864, 14, 2, 64};  // Qwen2-0.5B, with the qkv bias
constexpr Shape5 kOdd{136, 328, 3, 1, 8};       // uneven shares of units over the CTAs and warps

// The layer's attention before the o projection (len 0: none).
struct AttnSpec {
  int len = 0;
  int window = -1;
};

class DecodeChainGpu : public GpuKernelTest {
 protected:
  // > 0: the tail (without a prologue) ends with the final norm and an lm_head of this
  // many rows (f32 logits), run after the chain as the dispatcher does.
  int64_t head_vocab_ = 0;

  // One call of decode_layer_tail on T tokens with the parts selected, against the CPU;
  // `expect_taken`: the persistent kernel must run it.
  void check(int64_t t, const Shape5& s, bool o, bool mlp, bool prologue, bool bias, bool expect_taken,
             int repeats = 1, const AttnSpec& at = {}) {
    SCOPED_TRACE("decode_layer_tail T " + std::to_string(t) + " H " + std::to_string(s.h) + " I " +
                 std::to_string(s.inter) + " heads " + std::to_string(s.hq) + "/" + std::to_string(s.hk) + " D " +
                 std::to_string(s.d) + (o ? " o" : "") + (mlp ? " mlp" : "") + (prologue ? " prologue" : "") +
                 (bias ? " +bias" : "") + " attention over " + std::to_string(at.len) + " window " +
                 std::to_string(at.window));
    const int64_t qd = s.hq * s.d, nqkv = (s.hq + 2 * s.hk) * s.d, slots_n = 8 * t + 5, max_pos = 2048;
    OwnedTensor res = random_host({t, s.h}, -30, 30), attn = random_host({t, qd}, -2, 2);
    OwnedTensor wo = random_host({s.h, qd}, -0.05f, 0.05f), post = random_host({s.h}, 0.2f, 1.5f);
    OwnedTensor wgu = random_host({2 * s.inter, s.h}, -0.1f, 0.1f), wd = random_host({s.h, s.inter}, -0.05f, 0.05f);
    OwnedTensor in_norm = random_host({s.h}, 0.2f, 1.5f), wqkv = random_host({nqkv, s.h}, -0.1f, 0.1f);
    OwnedTensor b = random_host({nqkv}, -1, 1);
    OwnedTensor cs = OwnedTensor::host({max_pos, s.d}, DType::kF32);
    for (int64_t p = 0; p < max_pos; ++p) {
      for (int64_t i = 0; i < s.d / 2; ++i) {
        const double f =
            static_cast<double>(p) * std::pow(10000.0, -2.0 * static_cast<double>(i) / static_cast<double>(s.d));
        cs.data_as<float>()[p * s.d + i] = static_cast<float>(std::cos(f));
        cs.data_as<float>()[p * s.d + s.d / 2 + i] = static_cast<float>(std::sin(f));
      }
    }
    std::vector<int32_t> pos, slot;
    for (int64_t i = 0; i < t; ++i) {
      pos.push_back(rng().randint(0, static_cast<int>(max_pos - 1)));
      slot.push_back(static_cast<int32_t>(1 + 8 * i + rng().randint(0, 6)));  // distinct, never slot 0
    }
    OwnedTensor pos_h = i32_host(pos), slot_h = i32_host(slot);
    OwnedTensor kc = random_host({slots_n, s.hk, s.d}, -1, 1), vc = random_host({slots_n, s.hk, s.d}, -1, 1);
    // The attention's inputs: q, this layer's cache (another than the prologue's) and
    // the context's slots, a random subset of the pool in random order.
    const int64_t attn_slots = at.len + 9;
    OwnedTensor qa = random_host({t, s.hq, s.d}, -1, 1);
    OwnedTensor kca = random_host({attn_slots, s.hk, s.d}, -1, 1), vca = random_host({attn_slots, s.hk, s.d}, -1, 1);
    std::vector<int32_t> perm(static_cast<size_t>(attn_slots));
    for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int32_t>(i);
    for (size_t i = perm.size(); i > 1; --i) {
      std::swap(perm[i - 1], perm[static_cast<size_t>(rng().randint(0, static_cast<int>(i) - 1))]);
    }
    perm.resize(static_cast<size_t>(at.len));
    OwnedTensor qo_h = i32_host({0, 1}), kvp_h = i32_host({0, at.len}), kvi_h = i32_host(perm);
    AttentionParams ap;
    ap.qo_indptr = qo_h.view();
    ap.kv_indptr = kvp_h.view();
    ap.kv_indices = kvi_h.view();
    ap.scale = 1.0f / std::sqrt(static_cast<float>(s.d));
    ap.sliding_window = at.window;
    ap.max_q_len = 1;
    ap.max_kv_len = at.len;

    // CPU reference (f32), `repeats` calls in a row.
    OwnedTensor ref = host_copy(res), kc_ref = host_copy(kc), vc_ref = host_copy(vc);
    OwnedTensor act = OwnedTensor::host({t, s.inter}, DType::kF32), normed = OwnedTensor::host({t, s.h}, DType::kF32);
    OwnedTensor gate_up = OwnedTensor::host({t, 2 * s.inter}, DType::kF32);
    OwnedTensor q = OwnedTensor::host({t, s.hq, s.d}, DType::kF32), qkv = OwnedTensor::host({t, nqkv}, DType::kF32);
    ops::LayerTail c = tail(o, mlp, prologue, attn, wo, post, wgu, wd, act, normed, gate_up, in_norm, wqkv,
                            bias ? &b.view() : nullptr, q, qkv, pos_h, cs, kc_ref, vc_ref, slot_h);
    if (at.len > 0) with_attention(c, ap, qa, kca, vca);
    const int64_t vocab = prologue ? 0 : head_vocab_;
    OwnedTensor fnorm = random_host({s.h}, 0.2f, 1.5f), whead = random_host({std::max<int64_t>(vocab, 1), s.h}, -0.1f, 0.1f);
    OwnedTensor logits = OwnedTensor::host({t, std::max<int64_t>(vocab, 1)}, DType::kF32);
    if (vocab > 0) with_head(c, fnorm, whead, logits);
    for (int i = 0; i < repeats; ++i) ASSERT_TRUE(ops::decode_layer_tail(cpu(), ref, c).is_ok());

    OwnedTensor d_res = to_device(res, DType::kBF16);
    OwnedTensor d_attn = at.len > 0 ? poisoned({t, qd}, DType::kBF16) : to_device(attn, DType::kBF16);
    OwnedTensor d_wo = to_device(wo, DType::kBF16), d_post = to_device(post, DType::kBF16);
    OwnedTensor d_wgu = to_device(wgu, DType::kBF16), d_wd = to_device(wd, DType::kBF16);
    OwnedTensor d_in_norm = to_device(in_norm, DType::kBF16), d_wqkv = to_device(wqkv, DType::kBF16);
    OwnedTensor d_b = to_device(b, DType::kBF16), d_cs = to_device(cs, DType::kF32);
    OwnedTensor d_pos = to_device(pos_h, DType::kI32), d_slot = to_device(slot_h, DType::kI32);
    OwnedTensor d_kc = to_device(kc, DType::kBF16), d_vc = to_device(vc, DType::kBF16);
    OwnedTensor d_act = poisoned({t, s.inter}, DType::kBF16), d_normed = poisoned({t, s.h}, DType::kBF16);
    OwnedTensor d_gate_up = poisoned({t, 2 * s.inter}, DType::kBF16);
    OwnedTensor d_q = poisoned({t, s.hq, s.d}, DType::kBF16), d_qkv = poisoned({t, nqkv}, DType::kBF16);
    OwnedTensor d_qa = to_device(qa, DType::kBF16), d_kca = to_device(kca, DType::kBF16);
    OwnedTensor d_vca = to_device(vca, DType::kBF16);
    OwnedTensor d_qo = to_device(qo_h, DType::kI32), d_kvp = to_device(kvp_h, DType::kI32);
    OwnedTensor d_kvi = to_device(kvi_h, DType::kI32);
    AttentionParams d_ap = ap;
    d_ap.qo_indptr = d_qo.view();
    d_ap.kv_indptr = d_kvp.view();
    d_ap.kv_indices = d_kvi.view();
    ops::LayerTail g = tail(o, mlp, prologue, d_attn, d_wo, d_post, d_wgu, d_wd, d_act, d_normed, d_gate_up,
                            d_in_norm, d_wqkv, bias ? &d_b.view() : nullptr, d_q, d_qkv, d_pos, d_cs, d_kc, d_vc,
                            d_slot);
    if (at.len > 0) with_attention(g, d_ap, d_qa, d_kca, d_vca);
    OwnedTensor d_fnorm = to_device(fnorm, DType::kBF16), d_whead = to_device(whead, DType::kBF16);
    OwnedTensor d_logits = poisoned({t, std::max<int64_t>(vocab, 1)}, DType::kF32);
    if (vocab > 0) with_head(g, d_fnorm, d_whead, d_logits);
    for (int i = 0; i < repeats; ++i) {
      bool taken = false;
      const Status st = cuda::decode_layer_tail(gpu(), d_res, g, &taken);
      ASSERT_TRUE(st.is_ok()) << st.to_string();
      EXPECT_EQ(taken, expect_taken);
      if (!taken) {
        const Status op = ops::decode_layer_tail(gpu(), d_res, g);
        ASSERT_TRUE(op.is_ok()) << op.to_string();
      } else if (vocab > 0) {  // what the dispatcher runs after the chain
        const Status op = ops::rms_norm_gemm(gpu(), d_logits, d_normed, d_res, d_fnorm, g.eps, d_whead);
        ASSERT_TRUE(op.is_ok()) << op.to_string();
      }
    }
    const double tol = ((o || mlp) && prologue ? 8e-3 : 6e-3) * std::sqrt(static_cast<double>(repeats));
    // Repeated calls feed each other their bf16 residual: the error budget grows with
    // the square root of the calls (4 calls at Qwen2 shapes: act 9.1e-3 measured).
    const double grow = std::sqrt(static_cast<double>(repeats));
    if (at.len > 0) expect_close("attention", to_host_f32(d_attn), attn, 6e-3, 1.0f / 64);
    if (o || mlp) expect_close("residual", to_host_f32(d_res), ref, 8e-3 * grow, 1.0f / 64);
    if (mlp) expect_close("act", to_host_f32(d_act), act, (o ? 8e-3 : 6e-3) * grow, 1.0f / 64);
    if (vocab > 0) expect_close("logits", to_host_f32(d_logits), logits, 8e-3 * grow, 1.0f / 64);
    if (!prologue) return;
    expect_close("q", to_host_f32(d_q), q, tol, 1.0f / 64);
    expect_slot_rows("k", to_host_f32(d_kc), kc, kc_ref, slot, tol, 1.0f / 64);
    expect_slot_rows("v", to_host_f32(d_vc), vc, vc_ref, slot, tol, 1.0f / 64);
  }

 private:
  static void with_attention(ops::LayerTail& x, const AttentionParams& ap, const Tensor& q, const Tensor& kc,
                             const Tensor& vc) {
    x.attn = &ap;
    x.q = &q;
    x.attn_k_cache = &kc;
    x.attn_v_cache = &vc;
  }

  static void with_head(ops::LayerTail& x, const Tensor& final_norm, const Tensor& lm_head, const Tensor& logits) {
    x.final_norm = &final_norm;
    x.lm_head = &lm_head;
    x.logits = &logits;
  }

  static ops::LayerTail tail(bool o, bool mlp, bool prologue, const Tensor& attn, const Tensor& wo, const Tensor& post,
                             const Tensor& wgu, const Tensor& wd, const Tensor& act, const Tensor& normed,
                             const Tensor& gate_up, const Tensor& in_norm, const Tensor& wqkv, const Tensor* bias,
                             const Tensor& q, const Tensor& qkv, const Tensor& pos, const Tensor& cs,
                             const Tensor& kc, const Tensor& vc, const Tensor& slot) {
    ops::LayerTail x;
    x.eps = 1e-5f;
    if (o) {
      x.attn_out = &attn;
      x.o_proj = &wo;
    }
    if (mlp) {
      x.post_norm = &post;
      x.w_gate_up = &wgu;
      x.w_down = &wd;
      x.act = &act;
      x.normed = &normed;
      x.gate_up = &gate_up;
    }
    if (prologue) {
      x.input_norm = &in_norm;
      x.w_qkv = &wqkv;
      x.qkv_bias = bias;
      x.q_out = &q;
      x.normed = &normed;
      x.qkv = &qkv;
      x.positions = &pos;
      x.cos_sin = &cs;
      x.k_cache = &kc;
      x.v_cache = &vc;
      x.slots = &slot;
    }
    return x;
  }
};

TEST_F(DecodeChainGpu, OneTokenRunsAsOnePersistentKernel) {
  check(1, kLlama3, true, true, true, false, true);
  check(1, kTiny, true, true, true, false, true);
  check(1, kQwen2, true, true, true, true, true);
  check(1, kOdd, true, true, true, true, true);
}

TEST_F(DecodeChainGpu, WideInputRowsTakeAShallowerRing) {
  // Qwen2-7B's MLP: the 18,944-wide act row leaves room for 4 ring items, not 6.
  check(1, Shape5{3584, 18944, 28, 4, 128}, false, true, false, false, true);
}

TEST_F(DecodeChainGpu, AnySubsetOfThePartsRuns) {
  check(1, kLlama3, false, false, true, false, true);  // layer 0's prologue
  check(1, kLlama3, true, true, false, false, true);   // the last layer: no next prologue
  check(1, kQwen2, true, false, false, false, true);   // o only
  check(1, kTiny, false, true, false, false, true);    // MLP only
}

TEST_F(DecodeChainGpu, BackToBackLaunchesFindTheirCountersReset) {
  check(1, kQwen2, true, true, true, true, true, 4);
}

// Two tokens (a decode batch of two) run in the chain too; RADIX_DECODE_CHAIN_MAX_ROWS=1
// keeps it to one.
TEST_F(DecodeChainGpu, TwoRowsRunInTheChain) {
  check(2, kLlama3, true, true, true, false, true);
  check(2, kQwen2, true, true, true, true, true);
  check(2, kOdd, true, true, true, true, true);
  check(2, kTiny, true, true, true, false, true, 3);  // back to back
  const int was = cuda::decode_chain_max_rows();
  cuda::set_decode_chain_max_rows(1);
  check(2, kTiny, true, true, true, false, false);
  check(1, kTiny, true, true, true, false, true);
  cuda::set_decode_chain_max_rows(was);
}

TEST_F(DecodeChainGpu, ThreeOrMoreTokensOrTheSwitchOffRunTheOpsOneByOne) {
  check(3, kTiny, true, true, true, false, false);
  check(5, kQwen2, true, true, true, true, false);
  cuda::set_decode_chain_enabled(false);
  check(1, kTiny, true, true, true, false, false);
  cuda::set_decode_chain_enabled(true);
}

// With the layer's attention over contexts, windows, head dims and groups: the attention
// op runs first (the CUDA path does not take it: taken = false), then the chain takes the
// rest through the dispatcher.
TEST_F(DecodeChainGpu, AttentionFirstThenTheChainMatchesCpu) {
  for (int len : {1, 37, 1000, 4100}) check(1, kLlama3, true, true, true, false, false, 1, AttnSpec{len});
  check(1, kLlama3, true, false, false, false, false, 1, AttnSpec{1000, 64});  // sliding window
  check(1, kQwen2, true, true, true, true, false, 1, AttnSpec{200});            // D 64, group 7
  check(1, kTiny, true, true, true, false, false, 1, AttnSpec{300});            // D 32, group 3
  check(1, Shape5{512, 1024, 8, 8, 64}, true, true, false, false, false, 2, AttnSpec{500});  // group 1, twice
  check(1, Shape5{2048, 1024, 16, 1, 128}, true, false, false, false, false, 1, AttnSpec{700});  // MQA
  check(1, kLlama3, true, false, false, false, false, 1, AttnSpec{40, 64});  // a window longer than the context
  check(1, kTiny, true, false, false, false, false, 1, AttnSpec{70000});     // many splits
  check(1, Shape5{256, 512, 4, 2, 256}, true, true, false, false, false, 1, AttnSpec{100});  // D 256
}

// The diagnostic trace: every CTA stamps its start, each phase's wait / staged / dots /
// stored and its end, in that order, and each warp its end of each phase's dot products.
TEST_F(DecodeChainGpu, TraceStampsEveryPhaseInOrder) {
  const int sms = backend_->num_sms();
  const int64_t slots = static_cast<int64_t>(sms) * cuda::kChainTraceSlots;
  OwnedTensor buf = poisoned({2 * slots}, DType::kI64);  // two launches' blocks
  cuda::set_decode_chain_trace(reinterpret_cast<unsigned long long*>(buf.view().data()), 2);
  check(1, kTiny, true, true, true, false, true, 2);  // o, gate/up, down, qkv: 4 phases, twice
  cuda::set_decode_chain_trace(nullptr, 0);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<uint64_t> t(static_cast<size_t>(2 * slots));
  ASSERT_EQ(cudaMemcpy(t.data(), buf.view().data(), t.size() * 8, cudaMemcpyDeviceToHost), cudaSuccess);
  for (int launch = 0; launch < 2; ++launch) {
    for (int cta = 0; cta < sms; ++cta) {
      const uint64_t* c = t.data() + (static_cast<int64_t>(launch) * sms + cta) * cuda::kChainTraceSlots;
      SCOPED_TRACE("launch " + std::to_string(launch) + " CTA " + std::to_string(cta));
      ASSERT_NE(c[0], ~uint64_t{0});  // written (the buffer starts as all ones)
      uint64_t prev = c[0];
      for (int k = 2; k < cuda::kChainTraceSmSlot; ++k) {
        ASSERT_GE(c[k], prev) << "stamp " << k;
        prev = c[k];
      }
      ASSERT_GE(c[1], prev);
      ASSERT_LT(c[cuda::kChainTraceSmSlot], static_cast<uint64_t>(sms));  // an SM id
      // Each warp's end of its dot products: after the phase's input was staged, before
      // its outputs were stored.
      for (int p = 0; p < cuda::kChainMaxPhases; ++p) {
        for (int w = 0; w < cuda::kChainTraceWarps; ++w) {
          const uint64_t end = c[cuda::chain_trace_warp_slot(p, w)];
          ASSERT_GE(end, c[3 + 4 * p]) << "phase " << p << " warp " << w;
          ASSERT_LE(end, c[5 + 4 * p]) << "phase " << p << " warp " << w;
        }
      }
      ASSERT_LT(c[1] - c[0], uint64_t{1000000000});  // under a second
    }
  }
}

// The counters live in the backend (CudaBackend::sync_counters()). Every launch adds the
// grid size to the counter of each phase but its last (the epoch scheme, the default), so
// after any launches each is a whole multiple of the SM count, and the launches that
// follow (graph replays too) find their base; the phase counts of these launches add
// up exactly.
TEST_F(DecodeChainGpu, CountersGrowByWholeLaunches) {
  const int sms = backend_->num_sms();
  auto read = [&] {
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    std::vector<unsigned long long> c(CudaBackend::kSyncCounters, 1ull);
    EXPECT_EQ(cudaMemcpy(c.data(), backend_->sync_counters(), c.size() * sizeof(c[0]), cudaMemcpyDeviceToHost),
              cudaSuccess);
    return c;
  };
  const std::vector<unsigned long long> before = read();
  check(1, kQwen2, true, true, true, true, true, 2);    // o, gate/up, down, qkv: 3 counted phases, twice
  check(1, kTiny, false, true, false, false, true, 3);  // gate/up, down: 1 counted phase, three times
  const std::vector<unsigned long long> after = read();
  for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i] % static_cast<unsigned>(sms), 0u) << "counter " << i;
  const unsigned long long n = static_cast<unsigned>(sms);
  EXPECT_EQ(after[0] - before[0], 5 * n);  // phase 0 of all five launches
  EXPECT_EQ(after[1] - before[1], 2 * n);  // phase 1 of the two four-phase launches
  EXPECT_EQ(after[2] - before[2], 2 * n);
  EXPECT_EQ(after[3] - before[3], 0u);     // a last phase is never counted
}

// The weight copies marked evict-first in L2 or not (RADIX_DECODE_CHAIN_EVICT_FIRST, on by
// default): a cache hint only, so the same results either way, at one and two rows and on
// the 4-item ring.
TEST_F(DecodeChainGpu, EvictFirstCopiesOnOrOffMatchCpu) {
  const bool was = cuda::decode_chain_evict_first();
  for (bool on : {false, true}) {
    SCOPED_TRACE(on ? "evict-first" : "plain copies");
    cuda::set_decode_chain_evict_first(on);
    check(1, kLlama3, true, true, true, false, true);
    check(1, kQwen2, true, true, true, true, true, 2);
    check(2, kOdd, true, true, true, true, true);
    check(1, Shape5{3584, 18944, 28, 4, 128}, false, true, false, false, true);
  }
  cuda::set_decode_chain_evict_first(was);
}

// The last layer's tail ending with the final norm and the lm_head (f32 logits): the
// rms_norm_gemm op after the chain, against the CPU, at one and two rows, after the
// attention, back to back, with a vocabulary that ends inside a 1024-column chunk
// (kTiny: K = 192) and one of uneven shares (kOdd). (The lm_head as the chain's last
// phase was measured neutral and removed: docs/kernels.md.)
TEST_F(DecodeChainGpu, TheLastLayerEndsWithTheLmHead) {
  head_vocab_ = 20000;
  check(1, kLlama3, true, true, false, false, true);
  head_vocab_ = 30011;
  check(2, kQwen2, true, true, false, false, true);
  check(1, kQwen2, true, true, false, false, false, 1, AttnSpec{300});
  head_vocab_ = 1000;
  check(1, kTiny, true, true, false, false, true, 3);
  head_vocab_ = 777;
  check(2, kOdd, true, true, false, false, true);
  check(3, kOdd, true, true, false, false, false);  // three rows: the ops one by one
  head_vocab_ = 0;
}

TEST_F(DecodeChainGpu, MissingPartsAreAnError) {
  OwnedTensor res = poisoned({1, 64}, DType::kBF16), w = poisoned({64, 64}, DType::kBF16);
  ops::LayerTail x;
  x.o_proj = &w.view();  // no attn_out
  const Status st = ops::decode_layer_tail(gpu(), res, x);
  EXPECT_FALSE(st.is_ok());
  EXPECT_NE(st.to_string().find("attn_out"), std::string::npos) << st.to_string();
}

}  // namespace
}  // namespace radix::testing
#endif  // RADIX_HAS_CUDA_KERNELS
