// Shared pieces of the attention kernel family: the launch arguments (pointers,
// strides, lengths), the compile-time variant policy (causal always; sliding window
// and logit soft-cap as `if constexpr` hooks), and the bf16 tensor-core MMA helper.
// Layout comments name the shapes of kernels/ops.h.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>

#include "core/status.h"
#include "kernels/cuda/common/cuda_utils.cuh"

namespace radix::cuda::attn {

// Which variant policy a launch uses; inst files instantiate those the models need.
enum class VariantId : int { kCausal = 0, kWindow = 1, kSoftcap = 2, kSoftcapWindow = 3 };

inline const char* variant_name(VariantId v) {
  switch (v) {
    case VariantId::kCausal:
      return "causal";
    case VariantId::kWindow:
      return "causal+window";
    case VariantId::kSoftcap:
      return "causal+softcap";
    case VariantId::kSoftcapWindow:
      return "causal+softcap+window";
  }
  return "?";
}

struct AttnArgs {
  const bf16* q;              // [T, Hq, D]
  bf16* out;                  // [T, Hq, D]
  const bf16* k_cache;        // [S, Hk, D]
  const bf16* v_cache;        // [S, Hk, D]
  const int32_t* qo_indptr;   // [B + 1]
  const int32_t* kv_indptr;   // [B + 1]
  const int32_t* kv_indices;  // [kv_indptr[B]] pool slot per context position
  int batch = 0;              // B
  int tokens = 0;             // T
  int hq = 0, hk = 0;         // query / key-value heads; group = hq / hk
  int64_t num_slots = 0;      // S
  float scale = 1.0f;
  float softcap = 0.0f;
  int window = -1;
  int max_q_len = 0;
  // Split-KV decode: partial outputs [splits, T, Hq, D] and log-sum-exp [splits, T, Hq].
  int num_splits = 1;
  float* partial_o = nullptr;
  float* partial_lse = nullptr;
  cudaStream_t stream = nullptr;
};

template <bool kWindow, bool kSoftcap>
struct Variant {
  static constexpr bool kUseWindow = kWindow;
  static constexpr bool kUseSoftcap = kSoftcap;

  // Raw q.k -> the logit softmax sees.
  __device__ __forceinline__ static float logit(float dot, const AttnArgs& a) {
    float s = dot * a.scale;
    if constexpr (kSoftcap) s = a.softcap * tanhf(s / a.softcap);
    return s;
  }
  // First context position query position `qpos` may see (causal bound is qpos itself).
  __device__ __forceinline__ static int first_visible(int qpos, const AttnArgs& a) {
    if constexpr (kWindow) return max(0, qpos - a.window + 1);
    return 0;
  }
  __device__ __forceinline__ static bool visible(int qpos, int kpos, const AttnArgs& a) {
    bool v = kpos <= qpos;
    if constexpr (kWindow) v = v && kpos > qpos - a.window;
    return v;
  }
};

using CausalVariant = Variant<false, false>;
using WindowVariant = Variant<true, false>;
using SoftcapVariant = Variant<false, true>;
using SoftcapWindowVariant = Variant<true, true>;

constexpr float kLog2e = 1.4426950408889634f;

// D[16x8] += A[16x16] (row) * B[16x8] (col), bf16 in, f32 accumulate.
__device__ __forceinline__ void mma_bf16_16816(float (&d)[4], const uint32_t (&a)[4],
                                               const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// Four 8x8 b16 matrices from shared memory; lane l supplies the address of row l % 8
// of matrix l / 8 and receives, for matrix i, elements (l / 4, 2 (l % 4) .. +1) in
// r[i] (.trans: elements (2 (l % 4) .. +1, l / 4), i.e. the transposed fragment).
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* smem_row) {
  const uint32_t addr = static_cast<uint32_t>(__cvta_generic_to_shared(smem_row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* smem_row) {
  const uint32_t addr = static_cast<uint32_t>(__cvta_generic_to_shared(smem_row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x (low 16 bits) = lo
  return *reinterpret_cast<const uint32_t*>(&v);
}
__device__ __forceinline__ uint32_t pack_bf16x2(bf16 lo, bf16 hi) {
  const uint32_t l = *reinterpret_cast<const uint16_t*>(&lo);
  const uint32_t h = *reinterpret_cast<const uint16_t*>(&hi);
  return l | (h << 16);
}

// Raises a kernel's dynamic shared-memory limit once per (kernel, device): the
// attribute is host-side state, so later launches (and graph captures) skip the call.
// One static per kernel instantiation, as kKernel is a template argument.
template <auto kKernel>
Status allow_smem(int bytes) {
  static std::atomic<uint64_t> done{0};  // bit per device index < 64
  int dev = 0;
  RADIX_RETURN_IF_ERROR(cuda_status(cudaGetDevice(&dev), "cudaGetDevice"));
  const uint64_t bit = dev < 64 ? (uint64_t{1} << dev) : 0;
  if (bit != 0 && (done.load(std::memory_order_acquire) & bit)) return Status::ok();
  RADIX_RETURN_IF_ERROR(
      cuda_status(cudaFuncSetAttribute(kKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes),
                  "cudaFuncSetAttribute(max dynamic smem)"));
  done.fetch_or(bit, std::memory_order_release);
  return Status::ok();
}

}  // namespace radix::cuda::attn
