// Shared pieces of the attention kernel family: the launch arguments (pointers,
// strides, lengths), the compile-time variant policy (causal always; sliding window
// and logit soft-cap as `if constexpr` hooks), the bf16 tensor-core MMA helpers and
// the FlashAttention-2 warp tile built on them.
// Layout comments name the shapes of kernels/ops.h.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>

#include "core/status.h"
#include "kernels/cuda/common/cuda_utils.cuh"
#include "kernels/cuda/common/mma.cuh"  // mma_bf16_16816

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

// Shared-prefix decode (shared_prefix.cuh, ops::attention_shared_prefix): `attn` is
// the suffix (each sequence's own positions) and carries q, out, the caches and the
// variant values; groups of sequences also see their group's prefix. Partial results
// of the prefix pass fill planes [0, P) of the workspace, the suffix's [P, P + S).
struct SharedPrefixArgs {
  AttnArgs attn;
  const int32_t* group_of_seq = nullptr;    // [B]: group of sequence b, or -1
  const int32_t* prefix_indptr = nullptr;   // [G + 1]
  const int32_t* prefix_indices = nullptr;  // [prefix_indptr[G]] pool slot per prefix position
  int num_groups = 0;                       // G
  int row_blocks = 1;     // CTAs along a group's (member, query head) rows
  int prefix_splits = 0;  // P
  int suffix_splits = 1;  // S
  float* partial_o = nullptr;    // [P + S, T, Hq, D]
  float* partial_lse = nullptr;  // [P + S, T, Hq]
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

// Split-KV merge, step 1, by one warp for one output row: w[s] = exp(lse_s - lse) for
// the ns (<= 64) splits, lse = logsumexp_s(lse_s), where lse_s = lse[s * stride].
// Empty splits (lse -inf; their partial_o is not written) weigh 0.
__device__ __forceinline__ void split_weights_warp(const float* lse, int64_t stride, int ns, float* w, int lane) {
  const float l0 = lane < ns ? __ldcg(lse + lane * stride) : -INFINITY;
  const float l1 = lane + 32 < ns ? __ldcg(lse + (lane + 32) * stride) : -INFINITY;
  float mx = fmaxf(l0, l1);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
  const float w0 = l0 == -INFINITY ? 0.0f : exp2f((l0 - mx) * kLog2e);
  const float w1 = l1 == -INFINITY ? 0.0f : exp2f((l1 - mx) * kLog2e);
  float sum = w0 + w1;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
  if (lane < ns) w[lane] = w0 * inv;
  if (lane + 32 < ns) w[lane + 32] = w1 * inv;
}

// Step 2, per output element: sum_s w[s] * po[s * stride] in split order, the loads of
// kBatch splits in flight at a time (only splits with a weight load: inactive splits
// wrote no partial). Each batch is one dependent L2 round trip, so kBatch = 16 takes the
// 6-16 active splits of a 384-1K context in one (kBatch = 4, the first version, in 2-4).
template <int kBatch>
__device__ __forceinline__ float split_weighted_sum(const float* po, int64_t stride, int ns, const float* w) {
  float acc = 0.0f;
  for (int s = 0; s < ns; s += kBatch) {
    float v[kBatch];
#pragma unroll
    for (int u = 0; u < kBatch; ++u) v[u] = s + u < ns && w[s + u] != 0.0f ? __ldcg(po + (s + u) * stride) : 0.0f;
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      if (s + u < ns) acc += w[s + u] * v[u];
    }
  }
  return acc;
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

// ---- decode K/V gather (decode.cuh, decode_mma.cuh) ----
// A tile of kTile context positions [base, base + kTile) of one sequence and KV head is
// gathered through kv_indices into shared-memory rows of kStride elements with 16-byte
// cp.async: thread tid copies chunks c = tid + i * kThreads, row c / (kD / 8), column
// (c % (kD / 8)) * 8, of K and V. The slot indices are fetched into registers a tile
// ahead of the copies (gather_slots, then later gather_tile), so the gather never waits
// on its index load. Positions at or past `end` and slots out of the pool zero-fill.
template <int kD, int kTile, int kThreads>
constexpr int kGatherCopies = kTile * (kD / 8) / kThreads;

template <int kD, int kTile, int kThreads>
__device__ __forceinline__ void gather_slots(int32_t (&slots)[kGatherCopies<kD, kTile, kThreads>], const AttnArgs& a,
                                             int kv_start, int base, int end, int tid) {
  constexpr int kChunks = kD / 8;
  static_assert(kGatherCopies<kD, kTile, kThreads> * kThreads == kTile * kChunks, "tile must split evenly over threads");
#pragma unroll
  for (int i = 0; i < kGatherCopies<kD, kTile, kThreads>; ++i) {
    const int kpos = base + (tid + i * kThreads) / kChunks;
    slots[i] = kpos < end ? a.kv_indices[kv_start + kpos] : -1;
  }
}

template <int kD, int kTile, int kThreads, int kStride>
__device__ __forceinline__ void gather_tile(const int32_t (&slots)[kGatherCopies<kD, kTile, kThreads>],
                                            const AttnArgs& a, int kvh, bf16* k_s, bf16* v_s, int tid) {
  constexpr int kChunks = kD / 8;
#pragma unroll
  for (int i = 0; i < kGatherCopies<kD, kTile, kThreads>; ++i) {
    const int c = tid + i * kThreads;
    const int j = c / kChunks, col = (c % kChunks) * 8;
    const bool ok = slots[i] >= 0 && slots[i] < a.num_slots;
    const int64_t off = ((ok ? static_cast<int64_t>(slots[i]) : 0) * a.hk + kvh) * kD + col;
    cp_async_16(k_s + j * kStride + col, a.k_cache + off, ok);
    cp_async_16(v_s + j * kStride + col, a.v_cache + off, ok);
  }
}

// ---- FlashAttention-2 warp tile (prefill.cuh, shared_prefix.cuh) ----
// One warp owns 16 query rows against the kN positions of a K/V tile in shared memory
// (rows of kS elements). Thread (g, t) = (lane / 4, lane % 4) holds rows g and g + 8:
// s[nb][0..1] / o[nd][0..1] are row g, columns nb*8 (nd*8) + 2t .. +1; [2..3] row g + 8.

// s = Q K^T: the warp's 16 Q rows are rows row0.. of q_s, ks = the tile's kN K rows
// (ldmatrix: lane l addresses row l % 8 of 8x8 matrix l / 8).
template <int kD, int kN, int kS>
__device__ __forceinline__ void warp_qk(float (&s)[kN / 8][4], const bf16* q_s, int row0, const bf16* ks,
                                        int lane) {
  const int mi = lane >> 3, mr = lane & 7;
#pragma unroll
  for (int nb = 0; nb < kN / 8; ++nb) s[nb][0] = s[nb][1] = s[nb][2] = s[nb][3] = 0.0f;
#pragma unroll
  for (int kk = 0; kk < kD / 16; ++kk) {
    uint32_t af[4];  // Q rows row0 + (mi % 2) * 8 + mr, dims kk*16 + (mi / 2) * 8
    ldmatrix_x4(af, q_s + (row0 + (mi & 1) * 8 + mr) * kS + kk * 16 + (mi >> 1) * 8);
#pragma unroll
    for (int nb = 0; nb < kN / 8; nb += 2) {
      uint32_t kf[4];  // K rows (nb + mi / 2) * 8 + mr, dims kk*16 + (mi % 2) * 8
      ldmatrix_x4(kf, ks + ((nb + (mi >> 1)) * 8 + mr) * kS + kk * 16 + (mi & 1) * 8);
      const uint32_t b0[2] = {kf[0], kf[1]}, b1[2] = {kf[2], kf[3]};
      mma_bf16_16816(s[nb], af, b0);
      mma_bf16_16816(s[nb + 1], af, b1);
    }
  }
}

// The online-softmax step for this tile: s holds the masked logits (-inf where not
// visible) and becomes exp(s - m); m = running row max (quad-reduced), l = this
// thread's running partial row sum (quad_sum it at the end), o rescaled by
// exp(m_old - m). A row with nothing visible yet keeps m = -inf and adds zeros.
template <int kD, int kN>
__device__ __forceinline__ void warp_softmax_update(float (&s)[kN / 8][4], float (&o)[kD / 8][4], float& m_lo,
                                                    float& m_hi, float& l_lo, float& l_hi) {
  float tmax_lo = -INFINITY, tmax_hi = -INFINITY;
#pragma unroll
  for (int nb = 0; nb < kN / 8; ++nb) {
    tmax_lo = fmaxf(fmaxf(tmax_lo, s[nb][0]), s[nb][1]);
    tmax_hi = fmaxf(fmaxf(tmax_hi, s[nb][2]), s[nb][3]);
  }
#pragma unroll
  for (int off = 1; off < 4; off <<= 1) {
    tmax_lo = fmaxf(tmax_lo, __shfl_xor_sync(0xffffffffu, tmax_lo, off));
    tmax_hi = fmaxf(tmax_hi, __shfl_xor_sync(0xffffffffu, tmax_hi, off));
  }
  const float mn_lo = fmaxf(m_lo, tmax_lo), mn_hi = fmaxf(m_hi, tmax_hi);
  const float mu_lo = mn_lo == -INFINITY ? 0.0f : mn_lo;
  const float mu_hi = mn_hi == -INFINITY ? 0.0f : mn_hi;
  const float alpha_lo = exp2f((m_lo - mu_lo) * kLog2e);
  const float alpha_hi = exp2f((m_hi - mu_hi) * kLog2e);
  m_lo = mn_lo;
  m_hi = mn_hi;
  float sum_lo = 0.0f, sum_hi = 0.0f;
#pragma unroll
  for (int nb = 0; nb < kN / 8; ++nb) {
    s[nb][0] = exp2f((s[nb][0] - mu_lo) * kLog2e);
    s[nb][1] = exp2f((s[nb][1] - mu_lo) * kLog2e);
    s[nb][2] = exp2f((s[nb][2] - mu_hi) * kLog2e);
    s[nb][3] = exp2f((s[nb][3] - mu_hi) * kLog2e);
    sum_lo += s[nb][0] + s[nb][1];
    sum_hi += s[nb][2] + s[nb][3];
  }
  l_lo = l_lo * alpha_lo + sum_lo;
  l_hi = l_hi * alpha_hi + sum_hi;
#pragma unroll
  for (int nd = 0; nd < kD / 8; ++nd) {
    o[nd][0] *= alpha_lo;
    o[nd][1] *= alpha_lo;
    o[nd][2] *= alpha_hi;
    o[nd][3] *= alpha_hi;
  }
}

// o += P V: P's accumulator layout is the A-fragment layout of the next MMA (rounded
// to bf16); V fragments by ldmatrix.trans from vs (the tile's kN V rows).
template <int kD, int kN, int kS>
__device__ __forceinline__ void warp_pv(float (&o)[kD / 8][4], const float (&s)[kN / 8][4], const bf16* vs,
                                        int lane) {
  const int mi = lane >> 3, mr = lane & 7;
#pragma unroll
  for (int kc = 0; kc < kN / 16; ++kc) {
    uint32_t pf[4];
    pf[0] = pack_bf16x2(s[2 * kc][0], s[2 * kc][1]);
    pf[1] = pack_bf16x2(s[2 * kc][2], s[2 * kc][3]);
    pf[2] = pack_bf16x2(s[2 * kc + 1][0], s[2 * kc + 1][1]);
    pf[3] = pack_bf16x2(s[2 * kc + 1][2], s[2 * kc + 1][3]);
#pragma unroll
    for (int nd = 0; nd < kD / 8; nd += 2) {
      uint32_t vf[4];  // V rows kc*16 + (mi % 2) * 8 + mr, dims (nd + mi / 2) * 8, transposed
      ldmatrix_x4_trans(vf, vs + (kc * 16 + (mi & 1) * 8 + mr) * kS + (nd + (mi >> 1)) * 8);
      const uint32_t b0[2] = {vf[0], vf[1]}, b1[2] = {vf[2], vf[3]};
      mma_bf16_16816(o[nd], pf, b0);
      mma_bf16_16816(o[nd + 1], pf, b1);
    }
  }
}

// A row's sum over the four threads of its quad.
__device__ __forceinline__ float quad_sum(float v) {
#pragma unroll
  for (int off = 1; off < 4; off <<= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

// Raises a kernel's dynamic shared-memory limit once per (kernel, device): the
// attribute is host-side state, so later launches (and graph captures) skip the call.
// One static per kernel instantiation, as kKernel is a template argument.
// max_carveout: also prefer the largest shared-memory carveout (kernels that need it
// for their occupancy).
template <auto kKernel>
Status allow_smem(int bytes, bool max_carveout = false) {
  static std::atomic<uint64_t> done{0};  // bit per device index < 64
  int dev = 0;
  RADIX_RETURN_IF_ERROR(cuda_status(cudaGetDevice(&dev), "cudaGetDevice"));
  const uint64_t bit = dev < 64 ? (uint64_t{1} << dev) : 0;
  if (bit != 0 && (done.load(std::memory_order_acquire) & bit)) return Status::ok();
  RADIX_RETURN_IF_ERROR(
      cuda_status(cudaFuncSetAttribute(kKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes),
                  "cudaFuncSetAttribute(max dynamic smem)"));
  if (max_carveout) {
    RADIX_RETURN_IF_ERROR(cuda_status(cudaFuncSetAttribute(kKernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                                                           static_cast<int>(cudaSharedmemCarveoutMaxShared)),
                                      "cudaFuncSetAttribute(carveout)"));
  }
  done.fetch_or(bit, std::memory_order_release);
  return Status::ok();
}

}  // namespace radix::cuda::attn
