// Small-batch GEMV for decode: out[M, N] = a[M, K] @ w[N, K]^T (+ bias) for M <= 4,
// bf16 inputs, f32 accumulation, bf16 or f32 output. Decode GEMMs are weight-bandwidth
// bound; cuBLASLt leaves narrow shapes (N = 4096-6144 at K = 4096) at 60-70% of the
// streaming-read rate, because too few CTAs keep too few bytes in flight. Here one warp
// owns one output row n: its lanes stream w[n, :] with 16-byte loads that bypass L1 (read
// once) and dot them with the matching 16 bytes of each a row
// (tiny, L1/L2-resident); a warp reduction finishes the row. 8 warps per CTA, four
// loads in flight per lane.
#include "kernels/cuda/common/cuda_utils.cuh"
#include "kernels/cuda/gemm/gemv.h"

namespace radix::cuda {
namespace {

constexpr int kWarpsPerCta = 8;

__device__ __forceinline__ uint4 load_stream(const uint4* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

__device__ __forceinline__ float dot8(const uint4& w, const uint4& a) {
  const auto* wp = reinterpret_cast<const __nv_bfloat162*>(&w);
  const auto* ap = reinterpret_cast<const __nv_bfloat162*>(&a);
  float acc = 0.0f;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 wf = __bfloat1622float2(wp[i]);
    const float2 af = __bfloat1622float2(ap[i]);
    acc = fmaf(wf.x, af.x, acc);
    acc = fmaf(wf.y, af.y, acc);
  }
  return acc;
}

template <int M, typename Out>
__global__ void __launch_bounds__(kWarpsPerCta * 32)
    gemv_kernel(Out* __restrict__ out, const bf16* __restrict__ a, const bf16* __restrict__ w,
                const bf16* __restrict__ bias, int n, int k) {
  const int lane = threadIdx.x & 31;
  const int row = blockIdx.x * kWarpsPerCta + (threadIdx.x >> 5);
  if (row >= n) return;
  const int k8 = k / 8;
  const uint4* w4 = reinterpret_cast<const uint4*>(w + static_cast<int64_t>(row) * k);
  const uint4* a4 = reinterpret_cast<const uint4*>(a);
  float acc[M] = {};
  int j = lane;
  // Four 16-byte weight loads in flight per lane (eight measured slower), then their
  // dot products.
  for (; j + 96 < k8; j += 128) {
    uint4 wv[4];
#pragma unroll
    for (int u = 0; u < 4; ++u) wv[u] = load_stream(w4 + j + 32 * u);
#pragma unroll
    for (int u = 0; u < 4; ++u) {
#pragma unroll
      for (int m = 0; m < M; ++m) acc[m] += dot8(wv[u], __ldg(a4 + m * k8 + j + 32 * u));
    }
  }
  for (; j < k8; j += 32) {
    const uint4 wv = load_stream(w4 + j);
#pragma unroll
    for (int m = 0; m < M; ++m) acc[m] += dot8(wv, __ldg(a4 + m * k8 + j));
  }
#pragma unroll
  for (int m = 0; m < M; ++m) {
    float v = warp_sum(acc[m]);
    if (lane == 0) {
      if (bias != nullptr) v += __bfloat162float(bias[row]);
      out[static_cast<int64_t>(m) * n + row] = from_f32<Out>(v);
    }
  }
}

template <typename Out>
Status launch(int m, Out* out, const bf16* a, const bf16* w, const bf16* bias, int n, int k, cudaStream_t stream) {
  const dim3 grid((n + kWarpsPerCta - 1) / kWarpsPerCta), block(kWarpsPerCta * 32);
  switch (m) {
    case 1: gemv_kernel<1, Out><<<grid, block, 0, stream>>>(out, a, w, bias, n, k); break;
    case 2: gemv_kernel<2, Out><<<grid, block, 0, stream>>>(out, a, w, bias, n, k); break;
    case 3: gemv_kernel<3, Out><<<grid, block, 0, stream>>>(out, a, w, bias, n, k); break;
    case 4: gemv_kernel<4, Out><<<grid, block, 0, stream>>>(out, a, w, bias, n, k); break;
    default: return invalid_argument("gemv: M must be 1..4");
  }
  return check_launch("gemv");
}

}  // namespace

bool gemv_applies(const Tensor& out, const Tensor& a, const Tensor& w, const Tensor* bias) {
  const int64_t m = a.size(0), k = a.size(1), n = w.size(0);
  return m >= 1 && m <= kGemvMaxRows && a.dtype() == DType::kBF16 && w.dtype() == DType::kBF16 &&
         (out.dtype() == DType::kBF16 || out.dtype() == DType::kF32) &&
         (bias == nullptr || bias->dtype() == DType::kBF16) && k % 8 == 0 && n * k >= kGemvMinWeights && n * k <= kGemvMaxWeights &&
         n <= 0x7fffffff && k <= 0x7fffffff && aligned16(a.data()) && aligned16(w.data());
}

Status gemv(const Tensor& out, const Tensor& a, const Tensor& w, const Tensor* bias, void* stream) {
  const int m = static_cast<int>(a.size(0)), k = static_cast<int>(a.size(1)), n = static_cast<int>(w.size(0));
  const bf16* b = bias ? bias->data_as<const bf16>() : nullptr;
  auto st = static_cast<cudaStream_t>(stream);
  if (out.dtype() == DType::kF32) {
    return launch(m, out.data_as<float>(), a.data_as<const bf16>(), w.data_as<const bf16>(), b, n, k, st);
  }
  return launch(m, out.data_as<bf16>(), a.data_as<const bf16>(), w.data_as<const bf16>(), b, n, k, st);
}

}  // namespace radix::cuda
