// CUDA vs CPU for the row-wise ops: embedding, rms_norm, add_rms_norm, rope,
// rope_qkv_store, store_kv, silu/gelu_tanh_and_mul, gather_rows, add, argmax.
//
// Tolerances (bf16, 8 significant bits, unit roundoff u = 2^-9): inputs are already
// bf16 on both sides, the CUDA kernels compute in f32 and round once, so an output can
// differ from the CPU's f32 result by its own rounding (<= 1 ulp <= 2^-7 relative after
// f32 reassociation noise pushes a tie either way) -> rtol 1/128, plus atol 1e-5 for
// outputs near zero from cancellation (a*c - b*s). Copies (embedding, gather_rows,
// store_kv) must be bit-exact, and argmax must match exactly on identical values.
#include "tests/kernels/gpu/gpu_test_util.h"

#ifdef RADIX_HAS_CUDA_KERNELS

namespace radix::testing {
namespace {

constexpr float kRtol = 1.0f / 128;
constexpr float kAtol = 1e-5f;

class ElementwiseGpu : public GpuKernelTest {};

TEST_F(ElementwiseGpu, EmbeddingCopiesTableRowsExactly) {
  for (auto [vocab, h, t] :
       {std::tuple{128256, 4096, 17}, std::tuple{1000, 37, 3}, std::tuple{32, 64, 1}}) {
    OwnedTensor table = random_host({vocab, h}, -1, 1);
    std::vector<int32_t> ids(t);
    for (auto& id : ids) id = rng().randint(0, vocab - 1);
    ids[0] = vocab - 1;
    OwnedTensor ref = OwnedTensor::host({t, h}, DType::kF32);
    ASSERT_TRUE(ops::embedding(cpu(), ref, i32_host(ids), table).is_ok());
    for (DType out_dt : {DType::kBF16, DType::kF32}) {
      OwnedTensor d_table = to_device(table, DType::kBF16);
      OwnedTensor d_out = poisoned({t, h}, out_dt);
      ASSERT_TRUE(ops::embedding(gpu(), d_out, i32_device(ids), d_table).is_ok());
      EXPECT_TRUE(all_close(to_host_f32(d_out), ref, 0, 0)) << "vocab " << vocab << " h " << h;
    }
  }
}

TEST_F(ElementwiseGpu, RmsNormMatchesCpuOnModelAndOddWidths) {
  for (auto [t, h] : {std::pair{1, 4096}, std::pair{17, 4096}, std::pair{3, 3584},
                      std::pair{129, 2304}, std::pair{5, 37}}) {
    for (float offset : {0.0f, 1.0f}) {
      OwnedTensor x = random_host({t, h}, -3, 3);
      OwnedTensor w = random_host({h}, -1, 1);
      OwnedTensor ref = OwnedTensor::host({t, h}, DType::kF32);
      ASSERT_TRUE(ops::rms_norm(cpu(), ref, x, w, 1e-6f, offset).is_ok());
      OwnedTensor d_x = to_device(x, DType::kBF16), d_w = to_device(w, DType::kBF16);
      OwnedTensor d_out = poisoned({t, h}, DType::kBF16);
      ASSERT_TRUE(ops::rms_norm(gpu(), d_out, d_x, d_w, 1e-6f, offset).is_ok());
      EXPECT_TRUE(all_close(to_host_f32(d_out), ref, kAtol, kRtol)) << "t " << t << " h " << h;
    }
  }
}

TEST_F(ElementwiseGpu, RmsNormF32ActivationsWithBf16Weight) {
  OwnedTensor x = random_host({7, 4096}, -3, 3, DType::kF32);
  OwnedTensor w = random_host({4096}, -1, 1);
  OwnedTensor ref = OwnedTensor::host({7, 4096}, DType::kF32);
  ASSERT_TRUE(ops::rms_norm(cpu(), ref, x, w, 1e-5f, 0.0f).is_ok());
  OwnedTensor d_x = to_device(x, DType::kF32), d_w = to_device(w, DType::kBF16);
  OwnedTensor d_out = poisoned({7, 4096}, DType::kF32);
  ASSERT_TRUE(ops::rms_norm(gpu(), d_out, d_x, d_w, 1e-5f, 0.0f).is_ok());
  EXPECT_TRUE(all_close(to_host_f32(d_out), ref, 1e-5f, 1e-5f));
}

// The CUDA op stores residual + x rounded to bf16 (0.5 ulp from the CPU's f32 sum) and
// normalizes that stored value: out may differ by up to ~2 ulps -> rtol 1/64.
TEST_F(ElementwiseGpu, AddRmsNormUpdatesResidualAndNormalizesIt) {
  for (auto [t, h] :
       {std::pair{1, 4096}, std::pair{17, 4096}, std::pair{129, 3584}, std::pair{3, 37}}) {
    OwnedTensor x = random_host({t, h}, -2, 2);
    OwnedTensor res = random_host({t, h}, -2, 2);
    OwnedTensor w = random_host({h}, -1, 1);
    OwnedTensor d_x = to_device(x, DType::kBF16), d_res = to_device(res, DType::kBF16);
    OwnedTensor d_w = to_device(w, DType::kBF16);
    OwnedTensor ref = OwnedTensor::host({t, h}, DType::kF32);
    ASSERT_TRUE(
        ops::add_rms_norm(cpu(), ref, res, x, w, 1e-6f, 1.0f).is_ok());  // res updated in place
    OwnedTensor d_out = poisoned({t, h}, DType::kBF16);
    ASSERT_TRUE(ops::add_rms_norm(gpu(), d_out, d_res, d_x, d_w, 1e-6f, 1.0f).is_ok());
    EXPECT_TRUE(all_close(to_host_f32(d_res), res, kAtol, kRtol))
        << "residual, t " << t << " h " << h;
    EXPECT_TRUE(all_close(to_host_f32(d_out), ref, 1e-4f, 2 * kRtol))
        << "out, t " << t << " h " << h;
  }
}

// cos/sin table of a real rope (theta 500000) over max_pos positions, rotary dim r.
OwnedTensor rope_table(int max_pos, int r) {
  OwnedTensor cs = OwnedTensor::host({max_pos, r}, DType::kF32);
  for (int p = 0; p < max_pos; ++p) {
    for (int i = 0; i < r / 2; ++i) {
      const double f = std::pow(500000.0, -2.0 * i / r);
      cs.data_as<float>()[p * r + i] = static_cast<float>(std::cos(p * f));
      cs.data_as<float>()[p * r + r / 2 + i] = static_cast<float>(std::sin(p * f));
    }
  }
  return cs;
}

TEST_F(ElementwiseGpu, RopeRotatesQAndKInPlaceForBothStyles) {
  struct Case {
    int t, hq, hk, d, r;
  };
  for (Case c : {Case{1, 32, 8, 128, 128}, Case{17, 28, 4, 128, 128}, Case{3, 16, 8, 256, 256},
                 Case{129, 8, 2, 64, 32}}) {
    for (RopeStyle style : {RopeStyle::kNeox, RopeStyle::kInterleaved}) {
      OwnedTensor q = random_host({c.t, c.hq, c.d}, -2, 2),
                  k = random_host({c.t, c.hk, c.d}, -2, 2);
      OwnedTensor cs = rope_table(4096, c.r);
      std::vector<int32_t> pos(c.t);
      for (auto& p : pos) p = rng().randint(0, 4095);
      OwnedTensor d_q = to_device(q, DType::kBF16), d_k = to_device(k, DType::kBF16);
      ASSERT_TRUE(ops::rope(cpu(), q, k, i32_host(pos), cs, style).is_ok());
      ASSERT_TRUE(
          ops::rope(gpu(), d_q, d_k, i32_device(pos), to_device(cs, DType::kF32), style).is_ok());
      EXPECT_TRUE(all_close(to_host_f32(d_q), q, kAtol, kRtol)) << "q d " << c.d << " r " << c.r;
      EXPECT_TRUE(all_close(to_host_f32(d_k), k, kAtol, kRtol)) << "k d " << c.d << " r " << c.r;
    }
  }
}

TEST_F(ElementwiseGpu, RopeQkvStoreWritesQAndTheKvSlots) {
  // CTAs of 4 heads of the fused row: Llama-3 (48 heads), Qwen2-7B (36), a block mixing
  // q, k and v heads (5 + 1 + 1), partial rotary (R = D / 2) and the interleaved style.
  struct Shape {
    int hq, hk, d, r, t;
    RopeStyle style;
  };
  for (const Shape& sh : {Shape{32, 8, 128, 128, 1, RopeStyle::kNeox}, Shape{32, 8, 128, 128, 17, RopeStyle::kNeox},
                          Shape{32, 8, 128, 128, 129, RopeStyle::kNeox}, Shape{28, 4, 128, 128, 9, RopeStyle::kNeox},
                          Shape{5, 1, 64, 64, 3, RopeStyle::kInterleaved}, Shape{6, 2, 64, 32, 5, RopeStyle::kNeox}}) {
  const int hq = sh.hq, hk = sh.hk, d = sh.d, t = sh.t, slots = 300;
  SCOPED_TRACE("hq " + std::to_string(hq) + " hk " + std::to_string(hk) + " d " + std::to_string(d) + " r " +
               std::to_string(sh.r));
  {
    OwnedTensor qkv = random_host({t, (hq + 2 * hk) * d}, -2, 2);
    OwnedTensor cs = rope_table(2048, sh.r);
    std::vector<int32_t> pos(t), slot(t);
    std::vector<int32_t> perm(slots - 1);
    for (int i = 0; i < slots - 1; ++i) perm[i] = i + 1;
    for (int i = 0; i < t; ++i) {
      std::swap(perm[i], perm[rng().randint(i, slots - 2)]);
      slot[i] = perm[i];
      pos[i] = rng().randint(0, 2047);
    }
    OwnedTensor kc = random_host({slots, hk, d}, -1, 1), vc = random_host({slots, hk, d}, -1, 1);
    OwnedTensor d_kc = to_device(kc, DType::kBF16), d_vc = to_device(vc, DType::kBF16);
    OwnedTensor q_ref = OwnedTensor::host({t, hq, d}, DType::kF32);
    ASSERT_TRUE(ops::rope_qkv_store(cpu(), q_ref, qkv, i32_host(pos), cs, sh.style, kc, vc,
                                    i32_host(slot))
                    .is_ok());
    OwnedTensor d_q = poisoned({t, hq, d}, DType::kBF16);
    ASSERT_TRUE(ops::rope_qkv_store(gpu(), d_q, to_device(qkv, DType::kBF16), i32_device(pos),
                                    to_device(cs, DType::kF32), sh.style, d_kc, d_vc,
                                    i32_device(slot))
                    .is_ok());
    EXPECT_TRUE(all_close(to_host_f32(d_q), q_ref, kAtol, kRtol)) << "q, t " << t;
    EXPECT_TRUE(all_close(to_host_f32(d_kc), kc, kAtol, kRtol)) << "k cache, t " << t;
    EXPECT_TRUE(all_close(to_host_f32(d_vc), vc, 0, 0)) << "v cache, t " << t;
  }
  }
}

TEST_F(ElementwiseGpu, StoreKvWritesRowsIntoTheirSlotsOnly) {
  for (auto [t, hk, d] : {std::tuple{1, 8, 128}, std::tuple{17, 4, 128}, std::tuple{129, 8, 256},
                          std::tuple{3, 2, 64}}) {
    const int slots = 200;
    OwnedTensor k = random_host({t, hk, d}, -1, 1), v = random_host({t, hk, d}, -1, 1);
    OwnedTensor kc = random_host({slots, hk, d}, -1, 1), vc = random_host({slots, hk, d}, -1, 1);
    std::vector<int32_t> perm(slots);
    for (int i = 0; i < slots; ++i) perm[i] = i;
    for (int i = 0; i < t; ++i) std::swap(perm[i], perm[rng().randint(i, slots - 1)]);
    std::vector<int32_t> slot(perm.begin(), perm.begin() + t);
    OwnedTensor d_kc = to_device(kc, DType::kBF16), d_vc = to_device(vc, DType::kBF16);
    ASSERT_TRUE(ops::store_kv(cpu(), kc, vc, k, v, i32_host(slot)).is_ok());
    ASSERT_TRUE(ops::store_kv(gpu(), d_kc, d_vc, to_device(k, DType::kBF16),
                              to_device(v, DType::kBF16), i32_device(slot))
                    .is_ok());
    EXPECT_TRUE(all_close(to_host_f32(d_kc), kc, 0, 0));
    EXPECT_TRUE(all_close(to_host_f32(d_vc), vc, 0, 0));
  }
}

TEST_F(ElementwiseGpu, GatedActivationsMatchCpu) {
  for (auto [t, inter] : {std::pair{1, 14336}, std::pair{17, 14336}, std::pair{3, 18944},
                          std::pair{129, 9216}, std::pair{5, 37}}) {
    OwnedTensor x = random_host({t, 2 * inter}, -6, 6);
    OwnedTensor d_x = to_device(x, DType::kBF16);
    for (bool gelu : {false, true}) {
      OwnedTensor ref = OwnedTensor::host({t, inter}, DType::kF32);
      OwnedTensor d_out = poisoned({t, inter}, DType::kBF16);
      if (gelu) {
        ASSERT_TRUE(ops::gelu_tanh_and_mul(cpu(), ref, x).is_ok());
        ASSERT_TRUE(ops::gelu_tanh_and_mul(gpu(), d_out, d_x).is_ok());
      } else {
        ASSERT_TRUE(ops::silu_and_mul(cpu(), ref, x).is_ok());
        ASSERT_TRUE(ops::silu_and_mul(gpu(), d_out, d_x).is_ok());
      }
      EXPECT_TRUE(all_close(to_host_f32(d_out), ref, kAtol, kRtol))
          << (gelu ? "gelu" : "silu") << " i " << inter;
    }
  }
}

TEST_F(ElementwiseGpu, GatherRowsPicksRowsExactly) {
  for (auto [rows, cols, n] :
       {std::tuple{64, 4096, 17}, std::tuple{5, 37, 9}, std::tuple{300, 128256, 2}}) {
    OwnedTensor x = random_host({rows, cols}, -5, 5);
    std::vector<int32_t> idx(n);
    for (auto& i : idx) i = rng().randint(0, rows - 1);
    OwnedTensor ref = OwnedTensor::host({n, cols}, DType::kF32);
    ASSERT_TRUE(ops::gather_rows(cpu(), ref, x, i32_host(idx)).is_ok());
    for (DType dt : {DType::kBF16, DType::kF32}) {
      OwnedTensor d_out = poisoned({n, cols}, dt);
      ASSERT_TRUE(ops::gather_rows(gpu(), d_out, to_device(x, dt), i32_device(idx)).is_ok());
      EXPECT_TRUE(all_close(to_host_f32(d_out), ref, 0, 0)) << dtype_name(dt) << " cols " << cols;
    }
  }
}

TEST_F(ElementwiseGpu, ApplyTokenMaskMatchesCpuBitForBit) {
  for (auto [rows, vocab] : {std::pair{1, 128256}, std::pair{9, 4096}, std::pair{5, 37}, std::pair{33, 152064}}) {
    const int64_t words = (vocab + 63) / 64 * 2;  // i32 words of whole u64 masks
    const int mask_rows = 1 + rows / 2;
    std::vector<int32_t> masks(static_cast<size_t>(mask_rows * words)), index(static_cast<size_t>(rows));
    for (auto& w : masks) w = static_cast<int32_t>(rng().randint(0, 1 << 30)) ^ (rng().randint(0, 3) == 0 ? -1 : 0);
    for (auto& i : index) i = rng().randint(-1, mask_rows - 1);
    OwnedTensor logits = random_host({rows, vocab}, -5, 5);
    OwnedTensor d = to_device(logits, DType::kF32);
    OwnedTensor m_host = OwnedTensor::host({mask_rows, words}, DType::kI32);
    std::copy(masks.begin(), masks.end(), m_host.data_as<int32_t>());
    ASSERT_TRUE(ops::apply_token_mask(cpu(), logits, m_host, i32_host(index)).is_ok());
    OwnedTensor d_masks = i32_device(masks);
    ASSERT_TRUE(ops::apply_token_mask(gpu(), d, d_masks.view().reshape({mask_rows, words}), i32_device(index)).is_ok());
    OwnedTensor got = to_host_f32(d);
    ASSERT_EQ(std::memcmp(got.view().data(), logits.view().data(), static_cast<size_t>(rows * vocab) * 4), 0)
        << "rows " << rows << " vocab " << vocab;
  }
}

TEST_F(ElementwiseGpu, TakePendingTokensMatchesCpu) {
  for (int n : {1, 7, 300, 5000}) {
    const int m = 1 + n / 3;
    std::vector<int32_t> ids(n), src(n), prev(m);
    for (auto& v : ids) v = rng().randint(0, 1000);
    for (auto& v : prev) v = rng().randint(-1, 1000);  // -1: a failed sample
    for (auto& v : src) v = rng().randint(-1, m - 1);
    OwnedTensor ref = i32_host(ids);
    ASSERT_TRUE(ops::take_pending_tokens(cpu(), ref, i32_host(src), i32_host(prev)).is_ok());
    const std::vector<int32_t> want(ref.data_as<int32_t>(), ref.data_as<int32_t>() + n);
    OwnedTensor d_ids = i32_device(ids);
    ASSERT_TRUE(ops::take_pending_tokens(gpu(), d_ids, i32_device(src), i32_device(prev)).is_ok());
    OwnedTensor got = OwnedTensor::host({n}, DType::kI32);
    ASSERT_TRUE(copy_tensor(got.view(), d_ids.view()).is_ok());
    EXPECT_EQ(std::vector<int32_t>(got.data_as<int32_t>(), got.data_as<int32_t>() + n), want) << "n " << n;
  }
}

TEST_F(ElementwiseGpu, AddMatchesCpu) {
  for (int64_t n : {1, 17, 4096 * 129, 37}) {
    OwnedTensor a = random_host({n}, -4, 4), b = random_host({n}, -4, 4);
    OwnedTensor ref = OwnedTensor::host({n}, DType::kF32);
    ASSERT_TRUE(ops::add(cpu(), ref, a, b).is_ok());
    OwnedTensor d_out = poisoned({n}, DType::kBF16);
    ASSERT_TRUE(
        ops::add(gpu(), d_out, to_device(a, DType::kBF16), to_device(b, DType::kBF16)).is_ok());
    EXPECT_TRUE(all_close(to_host_f32(d_out), ref, kAtol, kRtol)) << "n " << n;
  }
}

TEST_F(ElementwiseGpu, ArgmaxMatchesCpuIncludingTies) {
  for (auto [n, v] :
       {std::pair{1, 128256}, std::pair{17, 152064}, std::pair{3, 37}, std::pair{64, 32000}}) {
    // Narrow range: bf16 rounding makes ties at the maximum common.
    OwnedTensor logits = random_host({n, v}, -8, 8);
    OwnedTensor ref = OwnedTensor::host({n}, DType::kI32);
    ASSERT_TRUE(ops::argmax(cpu(), ref, logits).is_ok());
    for (DType dt : {DType::kBF16, DType::kF32}) {
      OwnedTensor d_out = poisoned({n}, DType::kI32);
      ASSERT_TRUE(ops::argmax(gpu(), d_out, to_device(logits, dt)).is_ok());
      OwnedTensor got = to_host_f32(d_out);
      for (int i = 0; i < n; ++i) {
        EXPECT_EQ(got.data_as<int32_t>()[i], ref.data_as<int32_t>()[i])
            << "row " << i << " v " << v;
      }
    }
  }
}

TEST_F(ElementwiseGpu, UnsupportedDtypeIsAnErrorNotACrash) {
  OwnedTensor d_x = poisoned({4, 8}, DType::kF8E4M3);
  OwnedTensor d_out = poisoned({4, 8}, DType::kF8E4M3);
  EXPECT_FALSE(ops::add(gpu(), d_out, d_x, d_x).is_ok());
}

}  // namespace
}  // namespace radix::testing

#else

TEST(KernelsGpu, SkippedInABuildWithoutCudaKernels) {
  std::printf("[  SKIP    ] radix was built without CUDA kernels: GPU kernel tests skipped\n");
  GTEST_SKIP() << "built without CUDA kernels";
}

#endif  // RADIX_HAS_CUDA_KERNELS
