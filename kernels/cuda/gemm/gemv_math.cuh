// The bf16 dot products of the weight-streaming kernels (gemv.cu, decode_chain.cu):
// 8 bf16 pairs of two 16-byte vectors, accumulated in f32.
#pragma once

#include <cuda_bf16.h>

namespace radix::cuda {

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

__device__ __forceinline__ float sum_squares8(const uint4& v) {
  return dot8(v, v);
}

}  // namespace radix::cuda
