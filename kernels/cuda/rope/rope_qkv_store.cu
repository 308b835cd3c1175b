// Fused attention prologue: CTAs of (token, 4 heads) read the fused qkv row, rotate q
// and k with the f32 cos/sin table, write q to q_out and k, v into the KV pool slots.
// Memory-bound: every element is read once and written once.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "kernels/cuda/common/cuda_utils.cuh"
#include "kernels/cuda/fused_ops.h"

namespace radix::cuda {
namespace {

// q_out [T, Hq, D]; qkv [T, (Hq + 2 Hk) D]; caches [S, Hk, D]; cos_sin [P, R].
// CTA (token t, heads [h0, h0 + kHeadsPerCta) of the fused row's Hq + 2 Hk heads): q
// and k heads are rotated pair by pair, v heads copied. Small CTAs keep every thread's
// loads to one or two round trips: one CTA per token looped over its 48 heads
// (Llama-3-8B) with dependent loads and took 6.6 us at 64 tokens (docs/perf.md, session 5).
constexpr int kHeadsPerCta = 4;

template <typename T, typename C, bool kNeox>
__global__ void rope_qkv_store_kernel(T* __restrict__ q_out, const T* __restrict__ qkv,
                                      const int32_t* __restrict__ positions,
                                      const float* __restrict__ cos_sin, C* __restrict__ k_cache,
                                      C* __restrict__ v_cache, const int32_t* __restrict__ slots,
                                      int hq, int hk, int d, int r) {
  pdl_wait();  // launched with PDL: qkv comes from the projection before
  pdl_launch_dependents();
  const int t = blockIdx.x;
  const int h0 = blockIdx.y * kHeadsPerCta;
  const int h_end = min(hq + 2 * hk, h0 + kHeadsPerCta);
  const int rot_end = max(h0, min(h_end, hq + hk));  // q and k heads of this CTA: [h0, rot_end)
  const int64_t width = static_cast<int64_t>(hq + 2 * hk) * d;
  const T* row = qkv + t * width;
  const float* cs = cos_sin + static_cast<int64_t>(positions[t]) * r;
  const int64_t slot = slots[t];
  const int half = r / 2;
  // Rotated pairs (head, i) for i < R/2.
  for (int idx = threadIdx.x; idx < (rot_end - h0) * half; idx += blockDim.x) {
    const int head = h0 + idx / half, i = idx % half;
    const int i0 = kNeox ? i : 2 * i;
    const int i1 = kNeox ? i + half : 2 * i + 1;
    const T* src = row + static_cast<int64_t>(head) * d;
    const float a = to_f32(src[i0]), b = to_f32(src[i1]);
    const float c = cs[i], s = cs[half + i];
    const float o0 = a * c - b * s, o1 = b * c + a * s;
    if (head < hq) {
      T* dst = q_out + (static_cast<int64_t>(t) * hq + head) * d;
      dst[i0] = from_f32<T>(o0);
      dst[i1] = from_f32<T>(o1);
    } else {
      C* dst = k_cache + (slot * hk + (head - hq)) * d;
      dst[i0] = from_f32<C>(o0);
      dst[i1] = from_f32<C>(o1);
    }
  }
  // Dims past the rotary part (R < D) pass through unchanged.
  const int rest = d - r;
  for (int idx = threadIdx.x; idx < (rot_end - h0) * rest; idx += blockDim.x) {
    const int head = h0 + idx / rest, e = r + idx % rest;
    const float v = to_f32(row[static_cast<int64_t>(head) * d + e]);
    if (head < hq) {
      q_out[(static_cast<int64_t>(t) * hq + head) * d + e] = from_f32<T>(v);
    } else {
      k_cache[(slot * hk + (head - hq)) * d + e] = from_f32<C>(v);
    }
  }
  // v heads of this CTA: a straight copy into the slot.
  const int v0 = max(h0, hq + hk);
  for (int idx = threadIdx.x; idx < (h_end - v0) * d; idx += blockDim.x) {
    const int head = v0 + idx / d, e = idx % d;
    v_cache[(slot * hk + (head - hq - hk)) * d + e] = from_f32<C>(to_f32(row[static_cast<int64_t>(head) * d + e]));
  }
}

template <typename T, typename C>
Status launch(const OpContext& ctx, const Tensor& q_out, const Tensor& qkv, const Tensor& positions,
              const Tensor& cos_sin, RopeStyle style, const Tensor& k_cache, const Tensor& v_cache,
              const Tensor& slots) {
  const int t = static_cast<int>(q_out.size(0));
  if (t == 0) return Status::ok();
  const int hq = static_cast<int>(q_out.size(1)), d = static_cast<int>(q_out.size(2));
  const int hk = static_cast<int>(k_cache.size(1)), r = static_cast<int>(cos_sin.size(1));
  auto stream = static_cast<cudaStream_t>(ctx.stream);
  // One pass per thread for D <= 128 (kHeadsPerCta x D / 2 pairs, or x D for v).
  const int threads = std::clamp(kHeadsPerCta * d / 2, 32, 256);
  const int head_blocks = (hq + 2 * hk + kHeadsPerCta - 1) / kHeadsPerCta;
  if (head_blocks > 65535) return invalid_argument("rope_qkv_store: too many heads");
  auto kernel = style == RopeStyle::kNeox ? rope_qkv_store_kernel<T, C, true> : rope_qkv_store_kernel<T, C, false>;
  return cuda_status(launch_pdl(kernel, dim3(t, head_blocks), dim3(threads), 0, stream, q_out.data_as<T>(), qkv.data_as<const T>(),
                                positions.data_as<const int32_t>(), cos_sin.data_as<const float>(),
                                k_cache.data_as<C>(), v_cache.data_as<C>(), slots.data_as<const int32_t>(), hq, hk,
                                d, r),
                     "rope_qkv_store");
}

}  // namespace

Status rope_qkv_store(const OpContext& ctx, const Tensor& q_out, const Tensor& qkv,
                      const Tensor& positions, const Tensor& cos_sin, RopeStyle style,
                      const Tensor& k_cache, const Tensor& v_cache, const Tensor& slots) {
  const DType a = qkv.dtype(), c = k_cache.dtype();
  if (a == DType::kBF16 && c == DType::kBF16) {
    return launch<__nv_bfloat16, __nv_bfloat16>(ctx, q_out, qkv, positions, cos_sin, style, k_cache, v_cache, slots);
  }
  if (a == DType::kF16 && c == DType::kF16) {
    return launch<__half, __half>(ctx, q_out, qkv, positions, cos_sin, style, k_cache, v_cache, slots);
  }
  if (a == DType::kF32 && c == DType::kF32) {
    return launch<float, float>(ctx, q_out, qkv, positions, cos_sin, style, k_cache, v_cache, slots);
  }
  return unimplemented(std::string("rope_qkv_store: activations ") + dtype_name(a) + " with cache " +
                       dtype_name(c));
}

}  // namespace radix::cuda
