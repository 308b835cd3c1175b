// CUDA vs CPU for the fused decode projections of kernels/ops.h: gemm_add (residual +=
// a @ w^T), rms_norm_gemm (RMSNorm prologue) and rms_norm_gemm_silu (RMSNorm prologue,
// SiLU-and-mul epilogue). M <= 4 runs the fused GEMV (kernels/cuda/gemm/gemv.cu); larger
// M, weights outside the GEMV's range and norm rows too wide for its shared memory run
// the unfused sequence (cuBLASLt with beta = 1 for gemm_add) — both are checked here
// against the CPU twins, which compose the unfused f32 ops.
//
// Tolerances: as in gemm_test.cpp (one bf16 rounding of the output: relative L2 < 4e-3,
// per element <= 2^-7 * max|ref|). The CUDA side also rounds the normalized input to
// bf16 (as the rms_norm op stores it), and the SiLU path rounds gate and up to bf16 (as
// the gate_up buffer does): each adds ~2^-9 relative error per factor, so the SiLU
// check allows relative L2 < 6e-3 and 2^-6 * max|ref| per element.
#include <algorithm>
#include <cmath>
#include <vector>

#include "tests/kernels/gpu/gpu_test_util.h"

#ifdef RADIX_HAS_CUDA_KERNELS
#include "kernels/cuda/gemm/gemv.h"
#include "kernels/cuda/gemm/gemv_mma.h"

namespace radix::testing {
namespace {

class FusedGemmGpu : public GpuKernelTest {
 protected:
  void check_gemm_add(int64_t m, int64_t n, int64_t k) {
    SCOPED_TRACE("gemm_add M " + std::to_string(m) + " N " + std::to_string(n) + " K " + std::to_string(k));
    OwnedTensor a = random_host({m, k}, -1, 1), w = random_host({n, k}, -1, 1);
    // The residual stream is larger than one projection's output.
    OwnedTensor res = random_host({m, n}, -40, 40);
    OwnedTensor ref = host_copy(res);
    ASSERT_TRUE(ops::gemm_add(cpu(), ref, a, w).is_ok());
    OwnedTensor d_a = to_device(a, DType::kBF16), d_w = to_device(w, DType::kBF16);
    OwnedTensor d_res = to_device(res, DType::kBF16);
    Status st = ops::gemm_add(gpu(), d_res, d_a, d_w);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    expect_close("gemm_add", to_host_f32(d_res), ref, 4e-3, 1.0f / 128);
  }

  void check_norm_gemm(int64_t m, int64_t n, int64_t k, bool bias, DType out_dt = DType::kBF16,
                       float offset = 0.0f) {
    SCOPED_TRACE("rms_norm_gemm M " + std::to_string(m) + " N " + std::to_string(n) + " K " +
                 std::to_string(k) + (bias ? " +bias" : "") + " offset " + std::to_string(offset));
    OwnedTensor x = random_host({m, k}, -30, 30), g = random_host({k}, 0.2f, 1.5f);
    OwnedTensor w = random_host({n, k}, -1, 1), b = random_host({n}, -1, 1);
    OwnedTensor normed = OwnedTensor::host({m, k}, DType::kF32), ref = OwnedTensor::host({m, n}, DType::kF32);
    ASSERT_TRUE(ops::rms_norm_gemm(cpu(), ref, normed, x, g, 1e-5f, w, bias ? &b.view() : nullptr, offset).is_ok());
    OwnedTensor d_x = to_device(x, DType::kBF16), d_g = to_device(g, DType::kBF16);
    OwnedTensor d_w = to_device(w, DType::kBF16), d_b = to_device(b, DType::kBF16);
    OwnedTensor d_normed = poisoned({m, k}, DType::kBF16), d_out = poisoned({m, n}, out_dt);
    Status st = ops::rms_norm_gemm(gpu(), d_out, d_normed, d_x, d_g, 1e-5f, d_w, bias ? &d_b.view() : nullptr, offset);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    expect_close("rms_norm_gemm", to_host_f32(d_out), ref, 4e-3, 1.0f / 128);
  }

  // rms_norm_gemm_rope_store against the CPU twin: q_out and the K/V rows at the step's
  // slots (the pool's other rows must stay as they were).
  void check_rope(int64_t m, int64_t hq, int64_t hk, int64_t d, int64_t k, bool bias,
                  RopeStyle style = RopeStyle::kNeox, int64_t rot = 0) {
    if (rot == 0) rot = d;
    SCOPED_TRACE("rope_store M " + std::to_string(m) + " heads " + std::to_string(hq) + "/" + std::to_string(hk) +
                 " D " + std::to_string(d) + " R " + std::to_string(rot) + " K " + std::to_string(k) +
                 (bias ? " +bias" : "") + (style == RopeStyle::kNeox ? " neox" : " interleaved"));
    const int64_t n = (hq + 2 * hk) * d, slots_n = 4 * m + 3, max_pos = 4096;
    OwnedTensor x = random_host({m, k}, -30, 30), g = random_host({k}, 0.2f, 1.5f);
    OwnedTensor w = random_host({n, k}, -0.1f, 0.1f), b = random_host({n}, -1, 1);
    OwnedTensor cs = OwnedTensor::host({max_pos, rot}, DType::kF32);
    for (int64_t p = 0; p < max_pos; ++p) {
      for (int64_t i = 0; i < rot / 2; ++i) {
        const double f = static_cast<double>(p) * std::pow(10000.0, -2.0 * static_cast<double>(i) / static_cast<double>(rot));
        cs.data_as<float>()[p * rot + i] = static_cast<float>(std::cos(f));
        cs.data_as<float>()[p * rot + rot / 2 + i] = static_cast<float>(std::sin(f));
      }
    }
    std::vector<int32_t> pos, slot;
    for (int64_t i = 0; i < m; ++i) {
      pos.push_back(rng().randint(0, static_cast<int>(max_pos - 1)));
      slot.push_back(static_cast<int32_t>(1 + 4 * i + rng().randint(0, 2)));  // distinct, never slot 0
    }
    OwnedTensor pos_h = i32_host(pos), slot_h = i32_host(slot);
    OwnedTensor kc = random_host({slots_n, hk, d}, -1, 1), vc = random_host({slots_n, hk, d}, -1, 1);
    OwnedTensor kc_ref = host_copy(kc), vc_ref = host_copy(vc);
    OwnedTensor q_ref = OwnedTensor::host({m, hq, d}, DType::kF32), normed = OwnedTensor::host({m, k}, DType::kF32);
    OwnedTensor qkv = OwnedTensor::host({m, n}, DType::kF32);
    ASSERT_TRUE(ops::rms_norm_gemm_rope_store(cpu(), q_ref, normed, qkv, x, g, 1e-5f, w, bias ? &b.view() : nullptr,
                                              pos_h, cs, style, kc_ref, vc_ref, slot_h)
                    .is_ok());
    OwnedTensor d_x = to_device(x, DType::kBF16), d_g = to_device(g, DType::kBF16);
    OwnedTensor d_w = to_device(w, DType::kBF16), d_b = to_device(b, DType::kBF16);
    OwnedTensor d_cs = to_device(cs, DType::kF32), d_pos = to_device(pos_h, DType::kI32);
    OwnedTensor d_slot = to_device(slot_h, DType::kI32);
    OwnedTensor d_kc = to_device(kc, DType::kBF16), d_vc = to_device(vc, DType::kBF16);
    OwnedTensor d_q = poisoned({m, hq, d}, DType::kBF16), d_normed = poisoned({m, k}, DType::kBF16);
    OwnedTensor d_qkv = poisoned({m, n}, DType::kBF16);
    Status st = ops::rms_norm_gemm_rope_store(gpu(), d_q, d_normed, d_qkv, d_x, d_g, 1e-5f, d_w,
                                              bias ? &d_b.view() : nullptr, d_pos, d_cs, style, d_kc, d_vc, d_slot);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    expect_close("rope_store q", to_host_f32(d_q), q_ref, 6e-3, 1.0f / 64);
    // K and V: the written rows against the reference, every other row unchanged (bits).
    expect_slot_rows("rope_store k", to_host_f32(d_kc), kc, kc_ref, slot, 6e-3, 1.0f / 64);
    expect_slot_rows("rope_store v", to_host_f32(d_vc), vc, vc_ref, slot, 6e-3, 1.0f / 64);
  }

  void check_norm_gemm_silu(int64_t m, int64_t inter, int64_t k) {
    SCOPED_TRACE("rms_norm_gemm_silu M " + std::to_string(m) + " I " + std::to_string(inter) + " K " +
                 std::to_string(k));
    OwnedTensor x = random_host({m, k}, -30, 30), g = random_host({k}, 0.2f, 1.5f);
    OwnedTensor w = random_host({2 * inter, k}, -0.1f, 0.1f);
    OwnedTensor normed = OwnedTensor::host({m, k}, DType::kF32);
    OwnedTensor gate_up = OwnedTensor::host({m, 2 * inter}, DType::kF32);
    OwnedTensor ref = OwnedTensor::host({m, inter}, DType::kF32);
    ASSERT_TRUE(ops::rms_norm_gemm_silu(cpu(), ref, normed, gate_up, x, g, 1e-5f, w).is_ok());
    OwnedTensor d_x = to_device(x, DType::kBF16), d_g = to_device(g, DType::kBF16);
    OwnedTensor d_w = to_device(w, DType::kBF16);
    OwnedTensor d_normed = poisoned({m, k}, DType::kBF16), d_gate_up = poisoned({m, 2 * inter}, DType::kBF16);
    OwnedTensor d_out = poisoned({m, inter}, DType::kBF16);
    Status st = ops::rms_norm_gemm_silu(gpu(), d_out, d_normed, d_gate_up, d_x, d_g, 1e-5f, d_w);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    expect_close("rms_norm_gemm_silu", to_host_f32(d_out), ref, 6e-3, 1.0f / 64);
  }

  // rms_norm_mlp: residual += down(silu(gate) * up) of rms_norm(residual).
  void check_mlp(int64_t m, int64_t h, int64_t inter) {
    SCOPED_TRACE("rms_norm_mlp M " + std::to_string(m) + " H " + std::to_string(h) + " I " + std::to_string(inter));
    OwnedTensor res = random_host({m, h}, -30, 30), g = random_host({h}, 0.2f, 1.5f);
    OwnedTensor wgu = random_host({2 * inter, h}, -0.1f, 0.1f), wd = random_host({h, inter}, -0.1f, 0.1f);
    OwnedTensor ref = host_copy(res), act = OwnedTensor::host({m, inter}, DType::kF32);
    OwnedTensor normed = OwnedTensor::host({m, h}, DType::kF32), gate_up = OwnedTensor::host({m, 2 * inter}, DType::kF32);
    ASSERT_TRUE(ops::rms_norm_mlp(cpu(), ref, act, normed, gate_up, g, 1e-5f, wgu, wd).is_ok());
    OwnedTensor d_res = to_device(res, DType::kBF16), d_g = to_device(g, DType::kBF16);
    OwnedTensor d_wgu = to_device(wgu, DType::kBF16), d_wd = to_device(wd, DType::kBF16);
    OwnedTensor d_act = poisoned({m, inter}, DType::kBF16), d_normed = poisoned({m, h}, DType::kBF16);
    OwnedTensor d_gate_up = poisoned({m, 2 * inter}, DType::kBF16);
    Status st = ops::rms_norm_mlp(gpu(), d_res, d_act, d_normed, d_gate_up, d_g, 1e-5f, d_wgu, d_wd);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    // act: SiLU amplifies its input's relative error by |1 + g (1 - sigmoid(g))| (~4 at
    // g = -5), so a few such elements move the relative L2 of a small act (I = 40:
    // 6.13e-3 seen under memcheck, 2026-11-30) past the 6e-3 of the projections.
    expect_close("rms_norm_mlp act", to_host_f32(d_act), act, inter < 256 ? 1e-2 : 6e-3, 1.0f / 64);
    expect_close("rms_norm_mlp residual", to_host_f32(d_res), ref, 6e-3, 1.0f / 64);
  }
};

TEST_F(FusedGemmGpu, MlpMatchesCpu) {
  // The decode MLP as the two fused GEMVs; Llama-3 shapes, odd sizes, M past the fused
  // range (the unfused sequence).
  for (int64_t m : {1, 2, 4}) check_mlp(m, 4096, 14336);
  check_mlp(3, 1000, 1032);  // H and I not multiples of 64: the GEMVs' last batches end short
  check_mlp(1, 64, 40);      // a tiny layer
  check_mlp(6, 512, 256);    // M 6: the unfused sequence
}

TEST_F(FusedGemmGpu, RmsNormGemmRopeStoreWritesQAndTheKvSlots) {
  const WithoutGemvMma simt;  // the GEMV at M 3..4 too (the default sends those to gemv_mma)
  // Llama-3 (32/8/128) at M 1..4: the fused GEMV (NeoX pairs in the epilogue).
  for (int64_t m : {1, 2, 3, 4}) check_rope(m, 32, 8, 128, 4096, false);
  check_rope(2, 28, 4, 128, 3584, true);                 // Qwen2: qkv bias
  check_rope(3, 4, 2, 16, 24, true);                     // odd sizes
  check_rope(1, 4, 2, 16, 32, false, RopeStyle::kInterleaved);  // GPT-J pairs: unfused
  check_rope(2, 4, 2, 16, 32, false, RopeStyle::kNeox, 8);      // partial rotary (R 8 < D 16): unfused
  check_rope(7, 32, 8, 128, 4096, false);                // M > 4: unfused
}

TEST_F(FusedGemmGpu, GemmAddAccumulatesIntoTheResidual) {
  const WithoutGemvMma simt;  // the GEMV at M 3..4 too (the default sends those to gemv_mma)
  for (int64_t m : {1, 2, 3, 4}) check_gemm_add(m, 4096, 4096);  // o_proj, fused GEMV
  check_gemm_add(1, 4096, 14336);                                  // down_proj
  check_gemm_add(3, 40, 24);       // tiny weight at M <= 4: cuBLASLt, beta = 1
  check_gemm_add(5, 4096, 4096);   // M = 5: cuBLASLt (a new shape is timed: the addend must survive)
  check_gemm_add(5, 4096, 4096);   // the cached plan
  check_gemm_add(130, 512, 256);
}

TEST_F(FusedGemmGpu, RmsNormGemmNormalizesInTheProlog) {
  const WithoutGemvMma simt;  // the GEMV at M 3..4 too (the default sends those to gemv_mma)
  for (int64_t m : {1, 2, 3, 4}) check_norm_gemm(m, 6144, 4096, false);  // Llama-3 qkv
  check_norm_gemm(2, 4608, 3584, true);                                   // Qwen2 qkv with bias
  check_norm_gemm(3, 37, 24, true, DType::kBF16, 1.0f);                   // odd sizes, Gemma's (1 + w)
  check_norm_gemm(1, 128256, 4096, false, DType::kF32);                   // final norm + lm_head, f32 logits
  check_norm_gemm(2, 1000, 6144, false);                                  // 24 KB of staged rows
  check_norm_gemm(4, 512, 8192, false);  // 64 KB of rows: too wide for shared memory, unfused
  check_norm_gemm(17, 1024, 4096, true);  // M > 4: rms_norm + cuBLASLt
}

TEST_F(FusedGemmGpu, RmsNormGemmSiluPairsGateAndUpRows) {
  const WithoutGemvMma simt;  // the GEMV at M 3..4 too (the default sends those to gemv_mma)
  for (int64_t m : {1, 4}) check_norm_gemm_silu(m, 14336, 4096);  // Llama-3 gate_up
  check_norm_gemm_silu(2, 1000, 512);
  check_norm_gemm_silu(3, 40, 24);  // odd sizes
  check_norm_gemm_silu(9, 700, 256);  // M > 4: unfused
}

TEST_F(FusedGemmGpu, TensorCoreSmallBatchGemmAccumulatesAndGates) {
  // gemm_add, rms_norm_gemm_silu and rms_norm_gemm_rope_store at M 5..16 through the
  // tensor-core kernel (its row range widened to 5..16).
  const bool was = cuda::gemv_mma_enabled();
  const int64_t lo = cuda::gemv_mma_min_rows(), hi = cuda::gemv_mma_max_rows();
  cuda::set_gemv_mma_enabled(true);
  cuda::set_gemv_mma_rows(5, 16);
  for (int64_t m : {5, 8, 16}) check_gemm_add(m, 4096, 4096);  // o_proj
  check_gemm_add(10, 4096, 14336);                               // down_proj
  check_gemm_add(9, 1000, 1088);                                 // N % 16 != 0
  check_norm_gemm(7, 6144, 4096, false);  // rms_norm + the tensor-core GEMM
  // rms_norm + the tensor-core GEMM with the SiLU-and-mul epilogue (8 gate rows and
  // their 8 up rows as the A tile of one CTA).
  for (int64_t m : {5, 9, 16}) check_norm_gemm_silu(m, 14336, 4096);  // Llama-3 gate_up
  check_norm_gemm_silu(6, 1000, 1088);                                 // N % 16 != 0
  check_norm_gemm_silu(11, 1004, 1088);                                // N % 8 != 0
  // rms_norm + the qkv GEMM with the RoPE + KV-store epilogue (8 NeoX pairs per CTA).
  for (int64_t m : {5, 9, 16}) check_rope(m, 32, 8, 128, 4096, false);  // Llama-3
  check_rope(7, 28, 4, 128, 3584, true);                               // Qwen2: qkv bias
  check_rope(6, 16, 4, 64, 4096, false);                               // head dim 64: 4 CTAs per head
  check_rope(8, 32, 8, 128, 4096, false, RopeStyle::kInterleaved);     // GPT-J pairs: unfused
  // Rows the SIMT GEMV would take (the default range starts at 3): the tensor-core kernel
  // takes the fused projections too, after an rms_norm kernel, instead of the norm-fusing GEMV.
  cuda::set_gemv_mma_rows(2, 16);
  check_norm_gemm_silu(2, 14336, 4096);
  check_norm_gemm_silu(4, 1004, 1088);
  check_rope(3, 32, 8, 128, 4096, false);
  check_gemm_add(4, 4096, 14336);
  check_norm_gemm(2, 6144, 4096, false);
  cuda::set_gemv_mma_rows(lo, hi);
  cuda::set_gemv_mma_enabled(was);
}

TEST_F(FusedGemmGpu, BulkCopyGemvMatchesToo) {
  const WithoutGemvMma simt;  // the GEMV at M 3..4 too (the default sends those to gemv_mma)
  // The same fusions through the bulk-copy GEMV (RADIX_GEMV=bulk).
  const bool was = cuda::gemv_bulk_enabled();
  cuda::set_gemv_bulk_enabled(true);
  for (int64_t m : {1, 4}) {
    check_rope(m, 32, 8, 128, 4096, false);
    check_gemm_add(m, 4096, 4096);
    check_norm_gemm(m, 6144, 4096, false);
    check_norm_gemm_silu(m, 14336, 4096);
  }
  check_norm_gemm(3, 37, 24, true, DType::kBF16, 1.0f);
  check_norm_gemm_silu(3, 40, 24);
  cuda::set_gemv_bulk_enabled(was);
}

TEST_F(FusedGemmGpu, BadShapesAreErrors) {
  OwnedTensor x = poisoned({2, 64}, DType::kBF16), g = poisoned({64}, DType::kBF16);
  OwnedTensor w = poisoned({30, 64}, DType::kBF16), normed = poisoned({2, 64}, DType::kBF16);
  OwnedTensor gate_up = poisoned({2, 30}, DType::kBF16), out = poisoned({2, 16}, DType::kBF16);
  // out must have half of w's rows.
  EXPECT_FALSE(ops::rms_norm_gemm_silu(gpu(), out, normed, gate_up, x, g, 1e-5f, w).is_ok());
  OwnedTensor g_bad = poisoned({63}, DType::kBF16);
  OwnedTensor out2 = poisoned({2, 30}, DType::kBF16);
  EXPECT_FALSE(ops::rms_norm_gemm(gpu(), out2, normed, x, g_bad, 1e-5f, w).is_ok());
  OwnedTensor res = poisoned({2, 29}, DType::kBF16);
  EXPECT_FALSE(ops::gemm_add(gpu(), res, x, w).is_ok());
}

}  // namespace
}  // namespace radix::testing

#endif  // RADIX_HAS_CUDA_KERNELS
