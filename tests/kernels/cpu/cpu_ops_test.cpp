// The CPU reference ops against expectations computed by hand: the oracle every
// CUDA op is compared with must itself be right.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/ops.h"
#include "models/rope_table.h"
#include "tests/kernels/cpu/test_rng.h"

namespace radix {
namespace {

const OpContext kCpu{};

Tensor f32(std::vector<float>& v, const Shape& s) { return Tensor(v.data(), DType::kF32, s); }
Tensor i32(std::vector<int32_t>& v) { return Tensor(v.data(), DType::kI32, {static_cast<int64_t>(v.size())}); }

TEST(CpuOps, EmbeddingGathersRowsAndRejectsOutOfVocabularyIds) {
  std::vector<float> table = {0, 1, 10, 11, 20, 21}, out(4);
  std::vector<int32_t> ids = {2, 0};
  ASSERT_TRUE(ops::embedding(kCpu, f32(out, {2, 2}), i32(ids), f32(table, {3, 2})).is_ok());
  EXPECT_EQ(out, (std::vector<float>{20, 21, 0, 1}));
  std::vector<int32_t> bad = {3, 0};
  EXPECT_EQ(ops::embedding(kCpu, f32(out, {2, 2}), i32(bad), f32(table, {3, 2})).code(),
            StatusCode::kOutOfRange);
}

TEST(CpuOps, TakePendingTokensReplacesOnlyPendingRows) {
  std::vector<int32_t> ids = {5, 0, 7, 0, 0}, src = {-1, 2, -1, 0, 1}, prev = {11, -1, 13};
  ASSERT_TRUE(ops::take_pending_tokens(kCpu, i32(ids), i32(src), i32(prev)).is_ok());
  EXPECT_EQ(ids, (std::vector<int32_t>{5, 13, 7, 11, 0}));  // a failed sample (-1) reads as 0
  std::vector<int32_t> bad = {-1, 3, -1, -1, -1};
  EXPECT_FALSE(ops::take_pending_tokens(kCpu, i32(ids), i32(bad), i32(prev)).is_ok());
  std::vector<int32_t> short_src = {0};
  EXPECT_FALSE(ops::take_pending_tokens(kCpu, i32(ids), i32(short_src), i32(prev)).is_ok());
}

TEST(CpuOps, ApplyTokenMaskClearsDisallowedLogitsOfMaskedRows) {
  // 3 rows of 40 logits; row 0 takes mask 1, row 1 none, row 2 mask 0 (2 words per mask).
  std::vector<float> logits(3 * 40);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>(i);
  std::vector<int32_t> masks = {0x5, static_cast<int32_t>(0x80u), static_cast<int32_t>(0x80000001u), 0x1};
  std::vector<int32_t> index = {1, -1, 0};
  ASSERT_TRUE(ops::apply_token_mask(kCpu, f32(logits, {3, 40}), Tensor(masks.data(), DType::kI32, {2, 2}),
                                    i32(index))
                  .is_ok());
  for (int v = 0; v < 40; ++v) {
    const bool row0 = v == 0 || v == 31 || v == 32;  // mask 1: bits 0, 31 of word 0; bit 0 of word 1
    const bool row2 = v == 0 || v == 2 || v == 39;   // mask 0: bits 0, 2; bit 7 of word 1
    EXPECT_EQ(logits[v], row0 ? static_cast<float>(v) : -INFINITY) << v;
    EXPECT_EQ(logits[40 + v], static_cast<float>(40 + v)) << v;
    EXPECT_EQ(logits[80 + v], row2 ? static_cast<float>(80 + v) : -INFINITY) << v;
  }
  std::vector<int32_t> bad = {2, -1, 0};
  EXPECT_FALSE(ops::apply_token_mask(kCpu, f32(logits, {3, 40}), Tensor(masks.data(), DType::kI32, {2, 2}), i32(bad))
                   .is_ok());
  EXPECT_FALSE(ops::apply_token_mask(kCpu, f32(logits, {3, 40}), Tensor(masks.data(), DType::kI32, {4, 1}),
                                     i32(index))
                   .is_ok());  // 32 bits cannot cover 40 logits
}

TEST(CpuOps, RmsNormScalesByRootMeanSquareAndWeight) {
  // x = [3, 4]: mean square 12.5, rms 3.5355339; weights [1, 2] (+ offset 1 for Gemma).
  std::vector<float> x = {3, 4}, w = {1, 2}, out(2);
  ASSERT_TRUE(ops::rms_norm(kCpu, f32(out, {1, 2}), f32(x, {1, 2}), f32(w, {2}), 0.0f).is_ok());
  EXPECT_NEAR(out[0], 3 / 3.5355339f, 1e-6);
  EXPECT_NEAR(out[1], 4 / 3.5355339f * 2, 1e-6);
  ASSERT_TRUE(ops::rms_norm(kCpu, f32(out, {1, 2}), f32(x, {1, 2}), f32(w, {2}), 0.0f, 1.0f).is_ok());
  EXPECT_NEAR(out[1], 4 / 3.5355339f * 3, 1e-6);
}

TEST(CpuOps, AddRmsNormUpdatesTheResidualThenNormalises) {
  std::vector<float> res = {1, 1}, x = {2, 3}, w = {1, 1}, out(2);
  ASSERT_TRUE(ops::add_rms_norm(kCpu, f32(out, {1, 2}), f32(res, {1, 2}), f32(x, {1, 2}), f32(w, {2}), 0.0f).is_ok());
  EXPECT_EQ(res, (std::vector<float>{3, 4}));
  EXPECT_NEAR(out[0], 3 / 3.5355339f, 1e-6);
}

TEST(CpuOps, GemmMultipliesByTheTransposedWeightAndAddsBias) {
  // a [2,3] @ w[2,3]^T: rows (1,2,3),(4,5,6) against (1,0,1),(0,1,0).
  std::vector<float> a = {1, 2, 3, 4, 5, 6}, w = {1, 0, 1, 0, 1, 0}, b = {10, 20}, out(4);
  Tensor bias = f32(b, {2});
  ASSERT_TRUE(ops::gemm(kCpu, f32(out, {2, 2}), f32(a, {2, 3}), f32(w, {2, 3}), &bias).is_ok());
  EXPECT_EQ(out, (std::vector<float>{14, 22, 20, 25}));
  // bf16 weights (exact small integers) take the widening path with the same result.
  std::vector<uint16_t> wb;
  for (float v : w) wb.push_back(f32_to_bf16(v));
  ASSERT_TRUE(ops::gemm(kCpu, f32(out, {2, 2}), f32(a, {2, 3}), Tensor(wb.data(), DType::kBF16, {2, 3})).is_ok());
  EXPECT_EQ(out, (std::vector<float>{4, 2, 10, 5}));
  EXPECT_FALSE(ops::gemm(kCpu, f32(out, {2, 2}), f32(a, {2, 3}), f32(w, {3, 2})).is_ok());
}

TEST(CpuOps, FusedProjectionsEqualTheirUnfusedSequences) {
  // gemm_add: residual (100, 200, 300, 400) += a @ w^T with a @ w^T = (4, 2, 10, 5).
  std::vector<float> a = {1, 2, 3, 4, 5, 6}, w = {1, 0, 1, 0, 1, 0}, res = {100, 200, 300, 400};
  ASSERT_TRUE(ops::gemm_add(kCpu, f32(res, {2, 2}), f32(a, {2, 3}), f32(w, {2, 3})).is_ok());
  EXPECT_EQ(res, (std::vector<float>{104, 202, 310, 405}));
  EXPECT_FALSE(ops::gemm_add(kCpu, f32(res, {1, 4}), f32(a, {2, 3}), f32(w, {2, 3})).is_ok());

  // rms_norm_gemm: x = (3, 4) has rms sqrt(12.5); weight (1, 2); w rows pick each column.
  std::vector<float> x = {3, 4}, g = {1, 2}, wid = {1, 0, 0, 1, 1, 1}, normed(2), out(3);
  ASSERT_TRUE(ops::rms_norm_gemm(kCpu, f32(out, {1, 3}), f32(normed, {1, 2}), f32(x, {1, 2}), f32(g, {2}), 0.0f,
                                 f32(wid, {3, 2}))
                  .is_ok());
  const float inv = 1.0f / std::sqrt(12.5f);
  EXPECT_NEAR(out[0], 3 * inv, 1e-6);
  EXPECT_NEAR(out[1], 8 * inv, 1e-6);
  EXPECT_NEAR(out[2], 11 * inv, 1e-6);
  std::vector<float> bad_g = {1, 2, 3};
  EXPECT_FALSE(ops::rms_norm_gemm(kCpu, f32(out, {1, 3}), f32(normed, {1, 2}), f32(x, {1, 2}), f32(bad_g, {3}),
                                  0.0f, f32(wid, {3, 2}))
                   .is_ok());

  // rms_norm_gemm_silu: gate = normed x0, up = normed x1 -> silu(gate) * up.
  std::vector<float> wgu = {1, 0, 0, 1}, gate_up(2), act(1);
  ASSERT_TRUE(ops::rms_norm_gemm_silu(kCpu, f32(act, {1, 1}), f32(normed, {1, 2}), f32(gate_up, {1, 2}),
                                      f32(x, {1, 2}), f32(g, {2}), 0.0f, f32(wgu, {2, 2}))
                  .is_ok());
  const float gt = 3 * inv, up = 8 * inv;
  EXPECT_NEAR(act[0], gt / (1 + std::exp(-gt)) * up, 1e-6);
  // out must have half of w's rows.
  std::vector<float> act2(2);
  EXPECT_FALSE(ops::rms_norm_gemm_silu(kCpu, f32(act2, {1, 2}), f32(normed, {1, 2}), f32(gate_up, {1, 2}),
                                       f32(x, {1, 2}), f32(g, {2}), 0.0f, f32(wgu, {2, 2}))
                   .is_ok());

  // rms_norm_mlp: residual x = (3, 4) += w_down @ act, act = silu(gate) * up as above,
  // w_down = (1, 2)^T: residual becomes (3 + act, 4 + 2 act).
  std::vector<float> resid = {3, 4}, wdown = {1, 2}, mact(1);
  ASSERT_TRUE(ops::rms_norm_mlp(kCpu, f32(resid, {1, 2}), f32(mact, {1, 1}), f32(normed, {1, 2}),
                                f32(gate_up, {1, 2}), f32(g, {2}), 0.0f, f32(wgu, {2, 2}), f32(wdown, {2, 1}))
                  .is_ok());
  const float a1 = gt / (1 + std::exp(-gt)) * up;
  EXPECT_NEAR(mact[0], a1, 1e-6);
  EXPECT_NEAR(resid[0], 3 + a1, 1e-5);
  EXPECT_NEAR(resid[1], 4 + 2 * a1, 1e-5);
  // act must have half of w_gate_up's rows; w_down must be [H, I].
  EXPECT_EQ(ops::rms_norm_mlp(kCpu, f32(resid, {1, 2}), f32(act2, {1, 2}), f32(normed, {1, 2}), f32(gate_up, {1, 2}),
                              f32(g, {2}), 0.0f, f32(wgu, {2, 2}), f32(wdown, {2, 1}))
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ops::rms_norm_mlp(kCpu, f32(resid, {1, 2}), f32(mact, {1, 1}), f32(normed, {1, 2}), f32(gate_up, {1, 2}),
                              f32(g, {2}), 0.0f, f32(wgu, {2, 2}), f32(wdown, {1, 2}))
                .code(),
            StatusCode::kInvalidArgument);
}

TEST(CpuOps, RopeRotatesHalvesOrPairs) {
  // D = R = 4, one head, table row: cos(a0), cos(a1), sin(a0), sin(a1) with a0 = 90°, a1 = 0°.
  std::vector<float> table = {0, 1, 1, 0};
  std::vector<int32_t> pos = {0};
  std::vector<float> q = {1, 2, 3, 4}, k = {1, 2, 3, 4};
  ASSERT_TRUE(ops::rope(kCpu, f32(q, {1, 1, 4}), f32(k, {1, 1, 4}), i32(pos), f32(table, {1, 4}), RopeStyle::kNeox).is_ok());
  // neox pairs (x0, x2) by 90°: (1,3) -> (-3, 1); (x1, x3) by 0°: unchanged.
  EXPECT_EQ(q, (std::vector<float>{-3, 2, 1, 4}));
  std::vector<float> p = {1, 2, 3, 4}, p2 = {1, 2, 3, 4};
  ASSERT_TRUE(ops::rope(kCpu, f32(p, {1, 1, 4}), f32(p2, {1, 1, 4}), i32(pos), f32(table, {1, 4}), RopeStyle::kInterleaved).is_ok());
  // interleaved pairs (x0, x1) by 90°: (1,2) -> (-2, 1); (x2, x3) by 0°.
  EXPECT_EQ(p, (std::vector<float>{-2, 1, 3, 4}));
}

TEST(CpuOps, Llama3RopeScalingDividesOnlyLowFrequencies) {
  RopeScaling s;
  s.type = RopeScaling::Type::kLlama3;
  s.factor = 8;
  s.low_freq_factor = 1;
  s.high_freq_factor = 4;
  s.original_max_position_embeddings = 8192;
  const auto plain = rope_inv_freq(128, 500000.0f, RopeScaling{});
  const auto scaled = rope_inv_freq(128, 500000.0f, s);
  // Highest frequency (wavelength 2*pi < 2048): unchanged. Lowest (wavelength > 8192): / 8.
  EXPECT_FLOAT_EQ(scaled[0], plain[0]);
  EXPECT_FLOAT_EQ(scaled[63], plain[63] / 8);
  RopeScaling lin;
  lin.type = RopeScaling::Type::kLinear;
  lin.factor = 2;
  EXPECT_FLOAT_EQ(rope_inv_freq(64, 10000.0f, lin)[5], rope_inv_freq(64, 10000.0f, RopeScaling{})[5] / 2);
  // Table rows hold cos then sin of position * frequency.
  const auto t = build_rope_table(3, 4, 10000.0f, RopeScaling{});
  EXPECT_FLOAT_EQ(t[2 * 4 + 0], std::cos(2.0f));
  EXPECT_FLOAT_EQ(t[2 * 4 + 3], std::sin(2.0f / 100.0f));
}

TEST(CpuOps, SiluAndGeluGateTheSecondHalf) {
  std::vector<float> x = {1, -2, 2, 3}, out(2);
  ASSERT_TRUE(ops::silu_and_mul(kCpu, f32(out, {1, 2}), f32(x, {1, 4})).is_ok());
  EXPECT_NEAR(out[0], 0.7310586f * 2, 1e-6);   // silu(1) = 1 / (1 + e^-1)
  EXPECT_NEAR(out[1], -0.2384058f * 3, 1e-6);  // silu(-2) = -2 / (1 + e^2)
  ASSERT_TRUE(ops::gelu_tanh_and_mul(kCpu, f32(out, {1, 2}), f32(x, {1, 4})).is_ok());
  EXPECT_NEAR(out[0], 0.8411920f * 2, 1e-5);  // gelu_tanh(1)
}

TEST(CpuOps, AttentionIsCausalGroupedAndReadsThroughSlots) {
  // D = 1. Sequence of 2 tokens in slots 3 and 1; keys 0 and ln(3); values 10 and 20.
  std::vector<float> kc = {0, 9, 0, 0}, vc = {0, 20, 0, 10};
  kc[3] = 0;
  kc[1] = std::log(3.0f);
  // Two query heads sharing one KV head (GQA), both q = 1, scale 1.
  std::vector<float> q = {1, 1, 1, 1}, out(4, -1);
  std::vector<int32_t> qo = {0, 2}, kvp = {0, 2}, idx = {3, 1};
  AttentionParams p;
  p.qo_indptr = i32(qo);
  p.kv_indptr = i32(kvp);
  p.kv_indices = i32(idx);
  p.scale = 1;
  ASSERT_TRUE(ops::attention(kCpu, f32(out, {2, 2, 1}), f32(q, {2, 2, 1}), f32(kc, {4, 1, 1}), f32(vc, {4, 1, 1}), p).is_ok());
  // Token 0 sees only itself: 10. Token 1 sees both with weights 1:3 -> 17.5.
  EXPECT_FLOAT_EQ(out[0], 10);
  EXPECT_FLOAT_EQ(out[1], 10);
  EXPECT_NEAR(out[2], 17.5f, 1e-5);
  EXPECT_NEAR(out[3], 17.5f, 1e-5);
  // A window of 1 leaves each token only itself.
  p.sliding_window = 1;
  ASSERT_TRUE(ops::attention(kCpu, f32(out, {2, 2, 1}), f32(q, {2, 2, 1}), f32(kc, {4, 1, 1}), f32(vc, {4, 1, 1}), p).is_ok());
  EXPECT_FLOAT_EQ(out[2], 20);
  // Soft-cap 0.5 squashes the score ln 3 to 0.5 tanh(2 ln 3): weights 1 : e^0.4 .
  p.sliding_window = -1;
  p.logit_softcap = 0.5f;
  ASSERT_TRUE(ops::attention(kCpu, f32(out, {2, 2, 1}), f32(q, {2, 2, 1}), f32(kc, {4, 1, 1}), f32(vc, {4, 1, 1}), p).is_ok());
  const float w = std::exp(0.5f * std::tanh(2 * std::log(3.0f)));
  EXPECT_NEAR(out[2], (10 + 20 * w) / (1 + w), 1e-5);
  // A slot outside the pool is an error, not a read out of bounds.
  idx[1] = 7;
  EXPECT_FALSE(ops::attention(kCpu, f32(out, {2, 2, 1}), f32(q, {2, 2, 1}), f32(kc, {4, 1, 1}), f32(vc, {4, 1, 1}), p).is_ok());
}

TEST(CpuOps, StoreKvWritesSlotsAndArgmaxPrefersTheLowestTie) {
  std::vector<float> kc(6, 0), vc(6, 0), k = {1, 2}, v = {3, 4};
  std::vector<int32_t> slots = {2, 0};
  ASSERT_TRUE(ops::store_kv(kCpu, f32(kc, {3, 1, 2}), f32(vc, {3, 1, 2}), f32(k, {2, 1, 1}).reshape({1, 1, 2}),
                            f32(v, {1, 1, 2}), Tensor(slots.data(), DType::kI32, {1})).is_ok());
  EXPECT_EQ(kc, (std::vector<float>{0, 0, 0, 0, 1, 2}));
  EXPECT_EQ(vc, (std::vector<float>{0, 0, 0, 0, 3, 4}));
  std::vector<float> logits = {1, 5, 5, 2, -1, -1, -3, -2};
  std::vector<int32_t> best(2);
  ASSERT_TRUE(ops::argmax(kCpu, i32(best), f32(logits, {2, 4})).is_ok());
  EXPECT_EQ(best, (std::vector<int32_t>{1, 0}));
}

// ops::decode_layer_tail is, on the CPU, its ops in order (attention, gemm_add,
// rms_norm_mlp, rms_norm_gemm_rope_store, or for the last layer rms_norm_gemm into the
// logits): bit-identical to calling them one by one.
TEST(CpuOps, DecodeLayerTailIsItsOpsInOrder) {
  testing::TestRng rng;
  const int64_t t = 2, h = 8, inter = 12, hq = 2, hk = 1, d = 4, slots = 9, max_pos = 16;
  auto rnd = [&](int64_t n, float lo, float hi) {
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = rng.uniform(lo, hi);
    return v;
  };
  std::vector<float> q = rnd(t * hq * d, -1, 1), kc_a = rnd(slots * hk * d, -1, 1), vc_a = rnd(slots * hk * d, -1, 1);
  std::vector<float> wo = rnd(h * hq * d, -1, 1), post = rnd(h, 0.5f, 1.5f), wgu = rnd(2 * inter * h, -1, 1);
  std::vector<float> wd = rnd(h * inter, -1, 1), in_norm = rnd(h, 0.5f, 1.5f), wqkv = rnd((hq + 2 * hk) * d * h, -1, 1);
  std::vector<float> cs = build_rope_table(static_cast<int>(max_pos), static_cast<int>(d), 10000.0f, RopeScaling{});
  std::vector<float> res0 = rnd(t * h, -3, 3), kc0 = rnd(slots * hk * d, -1, 1), vc0 = rnd(slots * hk * d, -1, 1);
  // One sequence, two new tokens at positions 3 and 4 of a 5-token context.
  std::vector<int32_t> qo = {0, 2}, kvp = {0, 5}, idx = {4, 0, 7, 2, 5}, pos = {3, 4}, out_slots = {6, 1};
  AttentionParams p;
  p.qo_indptr = i32(qo);
  p.kv_indptr = i32(kvp);
  p.kv_indices = i32(idx);
  p.scale = 0.5f;
  p.max_q_len = 2;
  p.max_kv_len = 5;

  struct State {
    std::vector<float> res, kc, vc, attn, act, normed, gate_up, q_out, qkv;
  };
  auto fresh = [&] {
    return State{res0, kc0, vc0, std::vector<float>(static_cast<size_t>(t * hq * d)),
                 std::vector<float>(static_cast<size_t>(t * inter)), std::vector<float>(static_cast<size_t>(t * h)),
                 std::vector<float>(static_cast<size_t>(t * 2 * inter)), std::vector<float>(static_cast<size_t>(t * hq * d)),
                 std::vector<float>(static_cast<size_t>(t * (hq + 2 * hk) * d))};
  };
  const Tensor tq = f32(q, {t, hq, d}), tkc_a = f32(kc_a, {slots, hk, d}), tvc_a = f32(vc_a, {slots, hk, d});
  const Tensor two = f32(wo, {h, hq * d}), tpost = f32(post, {h}), twgu = f32(wgu, {2 * inter, h});
  const Tensor twd = f32(wd, {h, inter}), tin = f32(in_norm, {h}), twqkv = f32(wqkv, {(hq + 2 * hk) * d, h});
  const Tensor tcs = f32(cs, {max_pos, d}), tpos = i32(pos), tslots = i32(out_slots);

  State a = fresh();
  const Tensor a_attn = f32(a.attn, {t, hq * d}), a_act = f32(a.act, {t, inter}), a_normed = f32(a.normed, {t, h});
  const Tensor a_gu = f32(a.gate_up, {t, 2 * inter}), a_q = f32(a.q_out, {t, hq, d}), a_qkv = f32(a.qkv, {t, (hq + 2 * hk) * d});
  const Tensor a_kc = f32(a.kc, {slots, hk, d}), a_vc = f32(a.vc, {slots, hk, d});
  ops::LayerTail tail;
  tail.eps = 1e-5f;
  tail.attn = &p;
  tail.q = &tq;
  tail.attn_k_cache = &tkc_a;
  tail.attn_v_cache = &tvc_a;
  tail.attn_out = &a_attn;
  tail.o_proj = &two;
  tail.post_norm = &tpost;
  tail.w_gate_up = &twgu;
  tail.w_down = &twd;
  tail.act = &a_act;
  tail.normed = &a_normed;
  tail.gate_up = &a_gu;
  tail.input_norm = &tin;
  tail.w_qkv = &twqkv;
  tail.q_out = &a_q;
  tail.qkv = &a_qkv;
  tail.positions = &tpos;
  tail.cos_sin = &tcs;
  tail.k_cache = &a_kc;
  tail.v_cache = &a_vc;
  tail.slots = &tslots;
  ASSERT_TRUE(ops::decode_layer_tail(kCpu, f32(a.res, {t, h}), tail).is_ok());

  State b = fresh();
  const Tensor b_res = f32(b.res, {t, h});
  ASSERT_TRUE(ops::attention(kCpu, f32(b.attn, {t, hq, d}), tq, tkc_a, tvc_a, p).is_ok());
  ASSERT_TRUE(ops::gemm_add(kCpu, b_res, f32(b.attn, {t, hq * d}), two).is_ok());
  ASSERT_TRUE(ops::rms_norm_mlp(kCpu, b_res, f32(b.act, {t, inter}), f32(b.normed, {t, h}),
                                f32(b.gate_up, {t, 2 * inter}), tpost, 1e-5f, twgu, twd)
                  .is_ok());
  ASSERT_TRUE(ops::rms_norm_gemm_rope_store(kCpu, f32(b.q_out, {t, hq, d}), f32(b.normed, {t, h}),
                                            f32(b.qkv, {t, (hq + 2 * hk) * d}), b_res, tin, 1e-5f, twqkv, nullptr,
                                            tpos, tcs, RopeStyle::kNeox, f32(b.kc, {slots, hk, d}),
                                            f32(b.vc, {slots, hk, d}), tslots)
                  .is_ok());
  EXPECT_EQ(a.res, b.res);
  EXPECT_EQ(a.attn, b.attn);
  EXPECT_EQ(a.act, b.act);
  EXPECT_EQ(a.q_out, b.q_out);
  EXPECT_EQ(a.kc, b.kc);
  EXPECT_EQ(a.vc, b.vc);
  EXPECT_NE(a.kc, kc0);  // the prologue wrote its slots

  // The last layer: the final norm and the lm_head instead of a next layer (rms_norm_gemm
  // after the rest), for every row.
  const int64_t vocab = 11;
  std::vector<float> final_norm = rnd(h, 0.5f, 1.5f), head = rnd(vocab * h, -1, 1);
  const Tensor tfinal = f32(final_norm, {h}), thead = f32(head, {vocab, h});
  State c = fresh(), e = fresh();
  std::vector<float> c_logits(static_cast<size_t>(t * vocab)), e_logits(static_cast<size_t>(t * vocab));
  const Tensor c_attn = f32(c.attn, {t, hq * d}), c_act = f32(c.act, {t, inter}), c_normed = f32(c.normed, {t, h});
  const Tensor c_gu = f32(c.gate_up, {t, 2 * inter}), c_lg = f32(c_logits, {t, vocab});
  ops::LayerTail last = tail;
  last.attn_out = &c_attn;
  last.act = &c_act;
  last.normed = &c_normed;
  last.gate_up = &c_gu;
  last.w_qkv = nullptr;
  last.final_norm = &tfinal;
  last.lm_head = &thead;
  last.logits = &c_lg;
  ASSERT_TRUE(ops::decode_layer_tail(kCpu, f32(c.res, {t, h}), last).is_ok());
  const Tensor e_res = f32(e.res, {t, h});
  ASSERT_TRUE(ops::attention(kCpu, f32(e.attn, {t, hq, d}), tq, tkc_a, tvc_a, p).is_ok());
  ASSERT_TRUE(ops::gemm_add(kCpu, e_res, f32(e.attn, {t, hq * d}), two).is_ok());
  ASSERT_TRUE(ops::rms_norm_mlp(kCpu, e_res, f32(e.act, {t, inter}), f32(e.normed, {t, h}),
                                f32(e.gate_up, {t, 2 * inter}), tpost, 1e-5f, twgu, twd)
                  .is_ok());
  ASSERT_TRUE(ops::rms_norm_gemm(kCpu, f32(e_logits, {t, vocab}), f32(e.normed, {t, h}), e_res, tfinal, 1e-5f, thead)
                  .is_ok());
  EXPECT_EQ(c.res, e.res);
  EXPECT_EQ(c_logits, e_logits);
  EXPECT_NE(c_logits, std::vector<float>(c_logits.size(), 0.0f));
  // A part without its companions is an error naming what is missing.
  auto expect_error = [&](const ops::LayerTail& x, std::vector<float>& res, const char* names) {
    const Status st = ops::decode_layer_tail(kCpu, f32(res, {t, h}), x);
    EXPECT_FALSE(st.is_ok()) << names;
    EXPECT_NE(st.to_string().find(names), std::string::npos) << st.to_string();
  };
  ops::LayerTail both = last;  // a head and a next layer's prologue at once
  both.w_qkv = &twqkv;
  expect_error(both, c.res, "lm_head");
  both = last;
  both.logits = nullptr;
  expect_error(both, c.res, "lm_head without");
  ops::LayerTail broken = tail;
  broken.attn_out = nullptr;
  expect_error(broken, a.res, "attn_out");
  broken = tail;
  broken.w_down = nullptr;
  expect_error(broken, a.res, "w_down");
  broken = tail;
  broken.slots = nullptr;
  expect_error(broken, a.res, "slots");
}

}  // namespace
}  // namespace radix
