// CUDA (cuBLASLt) vs CPU for ops::gemm, out[M, N] = a[M, K] @ w[N, K]^T (+ bias), over
// the projection shapes of Llama-3-8B (qkv 6144x4096, o 4096x4096, gate_up
// 28672x4096, down 4096x14336) and Qwen2-7B (qkv with bias 4608x3584), decode and
// prefill row counts, and odd sizes that defeat 16-byte alignment.
//
// Tolerance: both sides multiply identical bf16 values with >= f32 accumulation; the
// CUDA result is rounded once to bf16 (relative error <= 2^-9 per element, ~1.1e-3
// RMS), and summation order differs by ~K * 2^-24. So relative L2 error < 4e-3, and
// per element |err| <= 2^-7 * max|ref| (one ulp at the largest magnitude, which also
// covers outputs that cancel to near zero).
#include <algorithm>
#include <optional>

#include "tests/kernels/gpu/gpu_test_util.h"

#ifdef RADIX_HAS_CUDA_KERNELS
#include "kernels/cuda/gemm/gemv.h"
#include "kernels/cuda/gemm/gemv_mma.h"
#endif

#ifdef RADIX_HAS_CUDA_KERNELS

namespace radix::testing {
namespace {

class GemmGpu : public GpuKernelTest {
 protected:
  // out_dt: the output dtype (dt, or f32 for the lm_head's f32 logits).
  void check(int64_t m, int64_t n, int64_t k, bool bias, DType dt, std::optional<DType> out_dt = {}) {
    SCOPED_TRACE("M " + std::to_string(m) + " N " + std::to_string(n) + " K " + std::to_string(k) +
                 (bias ? " +bias " : " ") + dtype_name(dt));
    OwnedTensor a = random_host({m, k}, -1, 1, dt), w = random_host({n, k}, -1, 1, dt);
    OwnedTensor b = random_host({n}, -1, 1, dt);
    OwnedTensor ref = OwnedTensor::host({m, n}, DType::kF32);
    ASSERT_TRUE(ops::gemm(cpu(), ref, a, w, bias ? &b.view() : nullptr).is_ok());
    OwnedTensor d_a = to_device(a, dt), d_w = to_device(w, dt), d_b = to_device(b, dt);
    OwnedTensor d_out = poisoned({m, n}, out_dt.value_or(dt));
    Status st = ops::gemm(gpu(), d_out, d_a, d_w, bias ? &d_b.view() : nullptr);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    OwnedTensor got = to_host_f32(d_out);
    float max_ref = 0;
    for (int64_t i = 0; i < ref.view().numel(); ++i)
      max_ref = std::max(max_ref, std::fabs(ref.data_as<float>()[i]));
    const bool low = dt != DType::kF32;
    print_error(
        ("gemm M " + std::to_string(m) + " N " + std::to_string(n) + " K " + std::to_string(k))
            .c_str(),
        got, ref);
    EXPECT_TRUE(rel_l2_below(got, ref, low ? 4e-3 : 1e-5));
    EXPECT_TRUE(all_close(got, ref, (low ? 1.0f / 128 : 1e-4f) * max_ref, 0));
  }
};

TEST_F(GemmGpu, LlamaProjectionsMatchCpuAtDecodeAndPrefillRows) {
  for (int64_t m : {1, 17}) {
    check(m, 6144, 4096, false, DType::kBF16);
    check(m, 28672, 4096, false, DType::kBF16);
    check(m, 4096, 14336, false, DType::kBF16);
  }
  check(129, 4096, 4096, false, DType::kBF16);
}

TEST_F(GemmGpu, DecodeGemvRowsOneToFourMatchCpu) {
  // M <= 4 at weights of 1M..64M elements runs our GEMV kernel (kernels/cuda/gemm/gemv.cu):
  // the register-streaming one (default) and the bulk-copy one (RADIX_GEMV=bulk).
  const WithoutGemvMma simt;  // (M 3..4 would go to the tensor-core GEMM)
  const bool was = cuda::gemv_bulk_enabled();
  for (bool bulk : {true, false}) {
    SCOPED_TRACE(bulk ? "bulk GEMV" : "ld GEMV");
    cuda::set_gemv_bulk_enabled(bulk);
    for (int64_t m : {1, 2, 3, 4}) check(m, 4096, 4096, false, DType::kBF16);
    check(2, 1024, 1032, true, DType::kBF16);                 // bias; K not a multiple of 128
    check(4, 8192, 4096, false, DType::kBF16, DType::kF32);   // f32 output
    check(1, 4096, 14336, false, DType::kBF16);               // down_proj: K 14336 (7 column chunks)
    check(3, 1029, 2056, false, DType::kBF16);                // rows not a multiple of 8 per CTA; a 1-vector tail chunk
    check(5, 4096, 4096, false, DType::kBF16);                // M = 5: back to cuBLASLt
  }
  cuda::set_gemv_bulk_enabled(was);
}

TEST_F(GemmGpu, TensorCoreSmallBatchGemmMatchesCpu) {
  // M 5..16 on the tensor-core kernel (gemv_mma.cu, its row range widened to 5..16): one
  // and two B tiles, Llama-3-8B and Qwen2-7B shapes, N not a multiple of the 16-row CTA,
  // a K split unevenly over the 8 warps, bias, f32 output; M 4 and 17 stay on their kernels.
  const bool was = cuda::gemv_mma_enabled();
  const int64_t lo = cuda::gemv_mma_min_rows(), hi = cuda::gemv_mma_max_rows();
  cuda::set_gemv_mma_enabled(true);
  cuda::set_gemv_mma_rows(5, 16);
  for (int64_t m : {5, 8, 9, 16}) check(m, 4096, 4096, false, DType::kBF16);
  check(7, 6144, 4096, false, DType::kBF16);       // qkv
  check(12, 4096, 14336, false, DType::kBF16);     // down: 224 chunks, 28 per warp
  check(6, 4608, 3584, true, DType::kBF16);        // Qwen2 qkv with bias: 56 chunks, 7 per warp
  check(11, 1000, 1088, true, DType::kBF16);       // N % 16 = 8; 17 chunks: warps get 2 or 3
  check(16, 1032, 1024, false, DType::kBF16, DType::kF32);  // f32 output; N % 16 = 8
  check(13, 28672, 4096, false, DType::kBF16);     // gate_up
  check(4, 4096, 4096, false, DType::kBF16);       // M 4: the SIMT GEMV
  check(17, 4096, 4096, false, DType::kBF16);      // M 17: cuBLASLt
  check(8, 4096, 4100, false, DType::kBF16);       // K % 64 != 0: cuBLASLt
  cuda::set_gemv_mma_rows(1, 16);                  // M 1..4 too (benchmarks compare)
  for (int64_t m : {1, 2, 4}) check(m, 4096, 4096, false, DType::kBF16);
  check(3, 4608, 3584, true, DType::kBF16);
  cuda::set_gemv_mma_rows(lo, hi);
  cuda::set_gemv_mma_enabled(was);
}

TEST_F(GemmGpu, BiasEpilogueMatchesCpu) {
  check(3, 4608, 3584, true, DType::kBF16);
  check(129, 4608, 3584, true, DType::kBF16);
}

TEST_F(GemmGpu, OddShapesAndOtherDtypes) {
  check(3, 37, 19, false, DType::kBF16);
  check(17, 129, 72, true, DType::kBF16);
  check(5, 300, 64, false, DType::kF16);
  check(7, 96, 130, true, DType::kF32);
}

TEST_F(GemmGpu, Bf16InputsWithF32OutputMatchCpu) {
  // The lm_head: bf16 hidden states and weights, f32 logits (Llama-3 vocabulary).
  check(1, 128256, 4096, false, DType::kBF16, DType::kF32);
  check(9, 4096, 192, false, DType::kBF16, DType::kF32);
}

TEST_F(GemmGpu, PlansAreCachedPerShape) {
  // Small weights (< 1M elements) stay on cuBLASLt even at M <= 4.
  check(4, 256, 128, false, DType::kBF16);
  const size_t plans = backend_->cached_matmul_plans();
  check(4, 256, 128, false, DType::kBF16);
  EXPECT_EQ(backend_->cached_matmul_plans(), plans);
  check(5, 256, 128, false, DType::kBF16);
  EXPECT_EQ(backend_->cached_matmul_plans(), plans + 1);
}

TEST_F(GemmGpu, MixedDtypesAreAnErrorNotACrash) {
  OwnedTensor a = poisoned({2, 8}, DType::kBF16), w = poisoned({4, 8}, DType::kF32);
  OwnedTensor out = poisoned({2, 4}, DType::kBF16);
  EXPECT_FALSE(ops::gemm(gpu(), out, a, w).is_ok());
  OpContext no_backend = gpu();
  no_backend.cuda = nullptr;
  OwnedTensor w16 = poisoned({4, 8}, DType::kBF16);
  EXPECT_FALSE(ops::gemm(no_backend, out, a, w16).is_ok());
}

}  // namespace
}  // namespace radix::testing

#endif  // RADIX_HAS_CUDA_KERNELS
