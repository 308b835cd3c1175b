// Greedy sampling's argmax over logits [N, V] -> i32 [N]: one CTA per row, each thread
// scans a strided slice, then a warp-shuffle and shared-memory reduction. Ties go to
// the lowest index, as in the CPU op; NaN never wins.
#include <cfloat>

#include "kernels/cuda/common/cuda_utils.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace radix::cuda {
namespace {

constexpr int kThreads = 1024;

__device__ __forceinline__ void better(float& v, int& i, float ov, int oi) {
  if (ov > v || (ov == v && oi < i)) {
    v = ov;
    i = oi;
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    argmax_kernel(int32_t* __restrict__ out, const T* __restrict__ logits, int v) {
  const T* row = logits + static_cast<int64_t>(blockIdx.x) * v;
  float best = -FLT_MAX;
  int best_i = 0x7fffffff;
  for (int i = threadIdx.x; i < v; i += kThreads) better(best, best_i, to_f32(row[i]), i);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, best, o);
    const int oi = __shfl_xor_sync(0xffffffffu, best_i, o);
    better(best, best_i, ov, oi);
  }
  __shared__ float sv[32];
  __shared__ int si[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    sv[warp] = best;
    si[warp] = best_i;
  }
  __syncthreads();
  if (warp == 0) {
    best = sv[lane];
    best_i = si[lane];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, best, o);
      const int oi = __shfl_xor_sync(0xffffffffu, best_i, o);
      better(best, best_i, ov, oi);
    }
    // A row of NaN/-inf only: fall back to index 0 like the CPU loop.
    if (lane == 0) out[blockIdx.x] = best_i == 0x7fffffff ? 0 : best_i;
  }
}

}  // namespace

Status argmax(const OpContext& ctx, const Tensor& out, const Tensor& logits) {
  const int64_t n = logits.size(0);
  if (n == 0) return Status::ok();
  if (logits.size(1) > 0x7fffffff) return invalid_argument("argmax: vocabulary too large");
  auto stream = static_cast<cudaStream_t>(ctx.stream);
  return dispatch_float(logits.dtype(), "argmax", [&](auto tag) -> Status {
    using T = decltype(tag);
    argmax_kernel<T><<<static_cast<unsigned>(n), kThreads, 0, stream>>>(
        out.data_as<int32_t>(), logits.data_as<const T>(), static_cast<int>(logits.size(1)));
    return check_launch("argmax");
  });
}

}  // namespace radix::cuda
