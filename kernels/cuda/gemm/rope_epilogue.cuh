// The RoPE + KV-store epilogue of the attention prologue's GEMM, shared by the SIMT GEMV
// (gemv.cu) and the tensor-core small-batch GEMM (gemv_mma.cu): a NeoX rotation pair of
// the fused qkv row — rows head * D + i and head * D + i + D/2 — goes rotated to q_out or
// the K cache, or as is to the V cache, exactly as rope_qkv_store would write the bf16
// qkv row the unfused projection stores.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#include "kernels/cuda/gemm/gemv.h"

namespace radix::cuda {

struct RopeEpilogue {
  __nv_bfloat16* q_out = nullptr;    // [M, Hq, D]
  __nv_bfloat16* k_cache = nullptr;  // [S, Hk, D]
  __nv_bfloat16* v_cache = nullptr;  // [S, Hk, D]
  const int32_t* positions = nullptr;  // [M]
  const int32_t* slots = nullptr;      // [M]
  const float* cos_sin = nullptr;      // [P, D]: cos(p f_i) for i < D/2, then sin
  int hq = 0, hk = 0, half = 0;        // half = D / 2
};

inline RopeEpilogue rope_epilogue(const GemvRope& r) {
  RopeEpilogue e;
  e.q_out = r.q_out->data_as<__nv_bfloat16>();
  e.k_cache = r.k_cache->data_as<__nv_bfloat16>();
  e.v_cache = r.v_cache->data_as<__nv_bfloat16>();
  e.positions = r.positions->data_as<const int32_t>();
  e.slots = r.slots->data_as<const int32_t>();
  e.cos_sin = r.cos_sin->data_as<const float>();
  e.hq = static_cast<int>(r.q_out->size(1));
  e.hk = static_cast<int>(r.k_cache->size(1));
  e.half = static_cast<int>(r.q_out->size(2) / 2);
  return e;
}

// The fused qkv weight row of rotation pair `unit` = (head h, i < half), partner r (0, 1):
// rows h D + i and h D + i + D/2.
__device__ __forceinline__ int64_t rope_pair_row(int unit, int r, int half) {
  return static_cast<int64_t>(unit / half) * 2 * half + unit % half + r * half;
}

// Pair i of head `head` of batch row m, from its two dot products (bias added here when
// given), each rounded to bf16 first.
__device__ __forceinline__ void rope_store_pair(const RopeEpilogue& e, const __nv_bfloat16* bias, int m, int head,
                                                int i, float a, float b) {
  const int d = 2 * e.half;
  const int64_t r0 = static_cast<int64_t>(head) * d + i;
  if (bias != nullptr) {
    a += __bfloat162float(bias[r0]);
    b += __bfloat162float(bias[r0 + e.half]);
  }
  a = __bfloat162float(__float2bfloat16_rn(a));
  b = __bfloat162float(__float2bfloat16_rn(b));
  if (head < e.hq + e.hk) {
    const float* cs = e.cos_sin + static_cast<int64_t>(e.positions[m]) * d;
    const float c = cs[i], sn = cs[e.half + i];
    __nv_bfloat16* dst = head < e.hq ? e.q_out + (static_cast<int64_t>(m) * e.hq + head) * d
                                     : e.k_cache + (static_cast<int64_t>(e.slots[m]) * e.hk + head - e.hq) * d;
    dst[i] = __float2bfloat16_rn(a * c - b * sn);
    dst[i + e.half] = __float2bfloat16_rn(b * c + a * sn);
  } else {
    __nv_bfloat16* dst = e.v_cache + (static_cast<int64_t>(e.slots[m]) * e.hk + head - e.hq - e.hk) * d;
    dst[i] = __float2bfloat16_rn(a);
    dst[i + e.half] = __float2bfloat16_rn(b);
  }
}

}  // namespace radix::cuda
