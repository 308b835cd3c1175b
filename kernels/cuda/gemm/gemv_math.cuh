// The per-vector math the weight-streaming kernels share (gemv.cu, gemv_mma.cu,
// decode_chain.cu): bf16 dot products of two 16-byte vectors accumulated in f32, the
// RMSNorm of a staged input vector, and the SiLU-and-mul epilogue.
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

// 8 bf16 activations x scaled by inv * (offset + g), rounded to bf16 as the rms_norm op
// stores them.
__device__ __forceinline__ uint4 normalize8(uint4 x, const uint4& g, float inv, float offset) {
  auto* xp = reinterpret_cast<__nv_bfloat162*>(&x);
  const auto* gp = reinterpret_cast<const __nv_bfloat162*>(&g);
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    const float2 xf = __bfloat1622float2(xp[q]);
    const float2 wf = __bfloat1622float2(gp[q]);
    xp[q] = __floats2bfloat162_rn(xf.x * inv * (offset + wf.x), xf.y * inv * (offset + wf.y));
  }
  return x;
}

// silu(gate) * up of the two dot products, each rounded to bf16 first as the unfused
// gate_up buffer would hold them.
__device__ __forceinline__ float silu_mul_rounded(float gate, float up) {
  const float g = __bfloat162float(__float2bfloat16_rn(gate));
  const float u = __bfloat162float(__float2bfloat16_rn(up));
  return g / (1.0f + __expf(-g)) * u;
}

}  // namespace radix::cuda
