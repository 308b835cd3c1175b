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

#include "tests/kernels/gpu/gpu_test_util.h"

#ifdef RADIX_HAS_CUDA_KERNELS

namespace radix::testing {
namespace {

class FusedGemmGpu : public GpuKernelTest {
 protected:
  static float max_abs(const Tensor& t) {
    float m = 0;
    for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::fabs(t.data_as<const float>()[i]));
    return m;
  }

  void expect_close(const char* what, const Tensor& got, const Tensor& ref, double rel_l2, float per_elem) {
    print_error(what, got, ref);
    EXPECT_TRUE(rel_l2_below(got, ref, rel_l2));
    EXPECT_TRUE(all_close(got, ref, per_elem * max_abs(ref), 0));
  }

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
};

TEST_F(FusedGemmGpu, GemmAddAccumulatesIntoTheResidual) {
  for (int64_t m : {1, 2, 3, 4}) check_gemm_add(m, 4096, 4096);  // o_proj, fused GEMV
  check_gemm_add(1, 4096, 14336);                                  // down_proj
  check_gemm_add(3, 40, 24);       // tiny weight at M <= 4: cuBLASLt, beta = 1
  check_gemm_add(5, 4096, 4096);   // M = 5: cuBLASLt (a new shape is timed: the addend must survive)
  check_gemm_add(5, 4096, 4096);   // the cached plan
  check_gemm_add(130, 512, 256);
}

TEST_F(FusedGemmGpu, RmsNormGemmNormalizesInTheProlog) {
  for (int64_t m : {1, 2, 3, 4}) check_norm_gemm(m, 6144, 4096, false);  // Llama-3 qkv
  check_norm_gemm(2, 4608, 3584, true);                                   // Qwen2 qkv with bias
  check_norm_gemm(3, 37, 24, true, DType::kBF16, 1.0f);                   // odd sizes, Gemma's (1 + w)
  check_norm_gemm(1, 128256, 4096, false, DType::kF32);                   // final norm + lm_head, f32 logits
  check_norm_gemm(2, 1000, 6144, false);                                  // 24 KB of staged rows
  check_norm_gemm(4, 512, 8192, false);  // 64 KB of rows: too wide for shared memory, unfused
  check_norm_gemm(17, 1024, 4096, true);  // M > 4: rms_norm + cuBLASLt
}

TEST_F(FusedGemmGpu, RmsNormGemmSiluPairsGateAndUpRows) {
  for (int64_t m : {1, 4}) check_norm_gemm_silu(m, 14336, 4096);  // Llama-3 gate_up
  check_norm_gemm_silu(2, 1000, 512);
  check_norm_gemm_silu(3, 40, 24);  // odd sizes
  check_norm_gemm_silu(9, 700, 256);  // M > 4: unfused
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
