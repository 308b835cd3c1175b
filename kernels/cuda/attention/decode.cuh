// Decode attention (every sequence has q_len <= 1): split-KV flash-decoding. One CTA
// handles one (sequence, KV head, block of up to kGroup query heads of that KV head,
// split of the context), so each K/V byte is read once per KV group rather than once
// per query head. Tiles of kTile positions are gathered through kv_indices with
// 16-byte cp.async into padded shared memory, double-buffered. Per tile: scores (a few
// threads per position, 16-byte smem reads), an online-softmax update per head (one
// warp per head), then P.V with each thread owning a pair of columns. With more than
// one split, each CTA writes a normalized partial output and its log-sum-exp, and
// merge_kernel combines the splits.
#pragma once

#include "kernels/cuda/attention/attention_common.cuh"
#include "kernels/cuda/attention/decode_mma.cuh"
#include "kernels/cuda/attention/plan.h"

namespace radix::cuda::attn {

template <int kD, int kGroup>
struct DecodeShape {
  static constexpr int kThreads = 128;
  static constexpr int kTile = kD <= 128 ? 64 : 32;        // positions per tile
  static constexpr int kThreadsPerKey = kThreads / kTile;  // score phase
  static constexpr int kStride = kD + 8 * kThreadsPerKey;  // padded smem row (elements)
  static constexpr int kColPairs = kD / 2;                 // P.V: one bf16 pair per thread
  static constexpr int kJGroups = kThreads / kColPairs;    // threads sharing a column pair
  static_assert(kThreads % kColPairs == 0 && kJGroups >= 1, "head dim too large");
  static constexpr int kKvBytes = 4 * kTile * kStride * 2;  // 2 stages x (K, V), bf16
  static constexpr int kQBytes = kGroup * kD * 4;           // q in f32
  static constexpr int kScoreBytes = kGroup * kTile * 4;
  static constexpr int kStatBytes = 3 * kGroup * 4;  // m, l, alpha
  static constexpr int kRedBytes = kJGroups > 1 ? kJGroups* kGroup* kD * 4 : 0;
  static constexpr int kSmemBytes = kKvBytes + kQBytes + kScoreBytes + kStatBytes + kRedBytes;
};

// grid (B, Hk * group_blocks, num_splits), block kThreads, dynamic smem kSmemBytes.
// kPartialsOnly: write partials even with one split (the caller merges them with
// partials of its own: shared-prefix attention's suffix pass).
template <int kD, int kGroup, typename V, bool kPartialsOnly = false>
__global__ void __launch_bounds__(DecodeShape<kD, kGroup>::kThreads)
    decode_kernel(const AttnArgs a) {
  using Sh = DecodeShape<kD, kGroup>;
  constexpr int kT = Sh::kTile, kS = Sh::kStride, kTPK = Sh::kThreadsPerKey;
  constexpr int kChunks = kD / 8;  // 16-byte chunks per row
  constexpr int kChunksPerThread = kChunks / kTPK;

  // Launched with PDL: q and the newest K/V come from the kernel before; the indptrs
  // were on the device before any kernel of the step.
  const int b = blockIdx.x, split = blockIdx.z;
  const int q_tok = a.qo_indptr[b];
  if (a.qo_indptr[b + 1] - q_tok <= 0) return;  // no query row for this sequence
  const int group = a.hq / a.hk;
  const int group_blocks = (group + kGroup - 1) / kGroup;
  const int kvh = blockIdx.y / group_blocks;
  const int g0 = (blockIdx.y % group_blocks) * kGroup;  // first head of the block within the group
  const int heads = min(kGroup, group - g0);
  const int h0 = kvh * group + g0;
  // Splits of at least kMinPositionsPerSplit positions (decode_splits): the grid is
  // planned (and graphs captured) for the longest context, so a short context leaves
  // the upper splits inactive instead of cutting itself into slivers that the merge
  // must then combine. An inactive split is done at once (merge_kernel reads only the
  // active ones), unless the caller merges all splits itself (kPartialsOnly).
  const DecodeSplits sp = decode_splits<V>(a, b);
  const int kv_start = sp.kv_start, kv_len = sp.kv_len, lo = sp.lo, chunk = sp.chunk, active = sp.active;
  if (split >= active) {
    if constexpr (kPartialsOnly) {
      pdl_wait();
      if (static_cast<int>(threadIdx.x) < heads) {
        a.partial_lse[(static_cast<int64_t>(split) * a.tokens + q_tok) * a.hq + h0 + threadIdx.x] = -INFINITY;
      }
    }
    return;
  }
  pdl_wait();
  pdl_launch_dependents();
  const int k_begin = lo + split * chunk;
  const int k_end = min(kv_len, k_begin + chunk);
  const int tiles = k_end > k_begin ? (k_end - k_begin + kT - 1) / kT : 0;

  extern __shared__ __align__(16) unsigned char smem_raw[];
  bf16* k_s = reinterpret_cast<bf16*>(smem_raw);                   // [2][kT][kS]
  bf16* v_s = k_s + 2 * kT * kS;                                   // [2][kT][kS]
  float* q_s = reinterpret_cast<float*>(smem_raw + Sh::kKvBytes);  // [kGroup][kD]
  float* s_s = q_s + kGroup * kD;                                  // [kGroup][kT]
  float* m_s = s_s + kGroup * kT;                                  // [kGroup]
  float* l_s = m_s + kGroup;
  float* alpha_s = l_s + kGroup;
  float* red_s = alpha_s + kGroup;  // [kJGroups][kGroup][kD]

  const int tid = threadIdx.x;
  // The slot indices of a tile are fetched one tile ahead into registers (gather_slots).
  int32_t slots[kGatherCopies<kD, kT, Sh::kThreads>];
  auto fetch_slots = [&](int tile) { gather_slots<kD, kT, Sh::kThreads>(slots, a, kv_start, k_begin + tile * kT, k_end, tid); };
  auto issue_copies = [&](int stage) {
    gather_tile<kD, kT, Sh::kThreads, kS>(slots, a, kvh, k_s + stage * kT * kS, v_s + stage * kT * kS, tid);
  };
  if (tiles > 0) {
    fetch_slots(0);
    issue_copies(0);
  }
  cp_async_commit();
  if (tiles > 1) fetch_slots(1);

  for (int i = tid; i < kGroup * kD; i += Sh::kThreads) {
    const int gi = i / kD, d = i % kD;
    q_s[i] = gi < heads
                 ? __bfloat162float(a.q[(static_cast<int64_t>(q_tok) * a.hq + h0 + gi) * kD + d])
                 : 0.0f;
  }
  if (tid < kGroup) {
    m_s[tid] = -INFINITY;
    l_s[tid] = 0.0f;
  }

  // P.V mapping: thread owns columns (2 cp, 2 cp + 1) for positions j = jg (mod kJGroups).
  const int cp = tid % Sh::kColPairs, jg = tid / Sh::kColPairs;
  float acc[kGroup][2];
#pragma unroll
  for (int gi = 0; gi < kGroup; ++gi) acc[gi][0] = acc[gi][1] = 0.0f;

  // Score mapping: position j = tid / kTPK; this thread takes chunks part, part + kTPK, ...
  const int sj = tid / kTPK, part = tid % kTPK;
  const int warp = tid >> 5, lane = tid & 31;

  for (int tile = 0; tile < tiles; ++tile) {
    cp_async_wait<0>();
    __syncthreads();  // tile landed; previous P.V finished with s_s
    if (tile + 1 < tiles) {
      issue_copies((tile + 1) & 1);
      if (tile + 2 < tiles) fetch_slots(tile + 2);  // lands while this tile computes
    }
    cp_async_commit();
    const bf16* ks = k_s + (tile & 1) * kT * kS;
    const bf16* vs = v_s + (tile & 1) * kT * kS;
    const int base = k_begin + tile * kT;

    {  // scores
      float dot[kGroup];
#pragma unroll
      for (int gi = 0; gi < kGroup; ++gi) dot[gi] = 0.0f;
#pragma unroll
      for (int cc = 0; cc < kChunksPerThread; ++cc) {
        const int col = (cc * kTPK + part) * 8;
        Vec16<bf16> kv = *reinterpret_cast<const Vec16<bf16>*>(ks + sj * kS + col);
        float kf[8];
#pragma unroll
        for (int e = 0; e < 8; ++e) kf[e] = __bfloat162float(kv.v[e]);
#pragma unroll
        for (int gi = 0; gi < kGroup; ++gi) {
          const float4 qa = *reinterpret_cast<const float4*>(q_s + gi * kD + col);
          const float4 qb = *reinterpret_cast<const float4*>(q_s + gi * kD + col + 4);
          dot[gi] += qa.x * kf[0] + qa.y * kf[1] + qa.z * kf[2] + qa.w * kf[3] + qb.x * kf[4] +
                     qb.y * kf[5] + qb.z * kf[6] + qb.w * kf[7];
        }
      }
#pragma unroll
      for (int gi = 0; gi < kGroup; ++gi) {
#pragma unroll
        for (int off = 1; off < kTPK; off <<= 1)
          dot[gi] += __shfl_xor_sync(0xffffffffu, dot[gi], off);
      }
      if (part == 0) {
        const bool vis = base + sj < k_end;
#pragma unroll
        for (int gi = 0; gi < kGroup; ++gi)
          s_s[gi * kT + sj] = vis ? V::logit(dot[gi], a) : -INFINITY;
      }
    }
    __syncthreads();

    // Online softmax: warp w updates heads w, w + 4, ...
    for (int gi = warp; gi < kGroup; gi += Sh::kThreads / 32) {
      float x[kT / 32];
      float tmax = -INFINITY;
#pragma unroll
      for (int e = 0; e < kT / 32; ++e) {
        x[e] = s_s[gi * kT + e * 32 + lane];
        tmax = fmaxf(tmax, x[e]);
      }
      tmax = warp_max(tmax);
      const float m_old = m_s[gi];
      const float m_new = fmaxf(m_old, tmax);
      const float mu = m_new == -INFINITY ? 0.0f : m_new;
      float sum = 0.0f;
#pragma unroll
      for (int e = 0; e < kT / 32; ++e) {
        const float p = exp2f((x[e] - mu) * kLog2e);
        s_s[gi * kT + e * 32 + lane] = p;
        sum += p;
      }
      sum = warp_sum(sum);
      __syncwarp();  // every lane has read m_s[gi] before lane 0 overwrites it
      if (lane == 0) {
        const float alpha = exp2f((m_old - mu) * kLog2e);
        alpha_s[gi] = alpha;
        l_s[gi] = l_s[gi] * alpha + sum;
        m_s[gi] = m_new;
      }
    }
    __syncthreads();

    // acc = acc * alpha + P V
#pragma unroll
    for (int gi = 0; gi < kGroup; ++gi) {
      const float al = alpha_s[gi];
      acc[gi][0] *= al;
      acc[gi][1] *= al;
    }
    for (int j = jg; j < kT; j += Sh::kJGroups) {
      const __nv_bfloat162 v2 = *reinterpret_cast<const __nv_bfloat162*>(vs + j * kS + 2 * cp);
      const float2 vf = __bfloat1622float2(v2);
#pragma unroll
      for (int gi = 0; gi < kGroup; ++gi) {
        const float p = s_s[gi * kT + j];
        acc[gi][0] += p * vf.x;
        acc[gi][1] += p * vf.y;
      }
    }
  }
  cp_async_wait<0>();

  // Combine the kJGroups partial sums of each column pair.
  if constexpr (Sh::kJGroups > 1) {
    __syncthreads();
#pragma unroll
    for (int gi = 0; gi < kGroup; ++gi) {
      red_s[(jg * kGroup + gi) * kD + 2 * cp] = acc[gi][0];
      red_s[(jg * kGroup + gi) * kD + 2 * cp + 1] = acc[gi][1];
    }
  }
  __syncthreads();  // also publishes m_s/l_s when there were no tiles
  if (jg != 0) return;
#pragma unroll
  for (int gi = 0; gi < kGroup; ++gi) {
    if (gi >= heads) break;
    float o0 = acc[gi][0], o1 = acc[gi][1];
    if constexpr (Sh::kJGroups > 1) {
      for (int r = 1; r < Sh::kJGroups; ++r) {
        o0 += red_s[(r * kGroup + gi) * kD + 2 * cp];
        o1 += red_s[(r * kGroup + gi) * kD + 2 * cp + 1];
      }
    }
    const float l = l_s[gi];
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    const int h = h0 + gi;
    if (active == 1 && !kPartialsOnly) {
      bf16* dst = a.out + (static_cast<int64_t>(q_tok) * a.hq + h) * kD + 2 * cp;
      *reinterpret_cast<uint32_t*>(dst) = pack_bf16x2(o0 * inv, o1 * inv);
    } else {
      const int64_t row = (static_cast<int64_t>(split) * a.tokens + q_tok) * a.hq + h;
      *reinterpret_cast<float2*>(a.partial_o + row * kD + 2 * cp) = make_float2(o0 * inv, o1 * inv);
      if (cp == 0) a.partial_lse[row] = l > 0.0f ? m_s[gi] + logf(l) : -INFINITY;
    }
  }
}

// out[t, h, :] = sum_s exp(lse_s - lse) * partial_o[s, t, h, :], lse = logsumexp_s(lse_s).
// grid (T, Hq), block kMergeThreads<kD> (a thread per column, at least a warp). Warp 0
// reads the splits' lse at once (a lane per split) and leaves the normalized weights in
// shared memory; then every thread sums its column over the splits with the loads of
// 16 splits in flight (kBatch; 4 before session 13: 4.33 vs 4.30 ms per batch-1 step at
// 1K context, docs/perf.md). (One thread walking the splits' lse and partials in turn
// made this a chain of dependent L2 round trips: 6 us at batch 1 with 17 splits.)
template <int kD>
constexpr int kMergeThreads = kD < 32 ? 32 : kD;

// kBatch: splits' loads in flight per thread (split_weighted_sum; decode_merge_batch()).
// Only the row's active splits are read (decode_splits, computed before the PDL wait
// from the indptrs); a row with one active split was written by the attention kernel
// itself, so its CTA is done at once.
template <int kD, int kBatch, typename V>
__global__ void __launch_bounds__(kMergeThreads<kD>) merge_kernel(const AttnArgs a) {
  static_assert(kMaxSplits <= 64, "warp 0 reads two splits per lane");
  __shared__ float w_s[kMaxSplits];
  const int tok = blockIdx.x, h = blockIdx.y, d = threadIdx.x;
  const int ns = decode_splits<V>(a, decode_seq_of_row(a, tok)).active;
  if (ns <= 1) return;
  pdl_wait();
  const int64_t plane = static_cast<int64_t>(a.tokens) * a.hq;  // rows per split
  const int64_t row = static_cast<int64_t>(tok) * a.hq + h;
  if (d < 32) split_weights_warp(a.partial_lse + row, plane, ns, w_s, d);
  __syncthreads();
  if (d >= kD) return;
  const float acc = split_weighted_sum<kBatch>(a.partial_o + row * kD + d, plane * kD, ns, w_s);
  // The next kernel (under PDL: the decode chain, whose weight copies would queue ahead
  // of these loads) may start once every CTA has its partials.
  pdl_launch_dependents();
  a.out[row * kD + d] = __float2bfloat16_rn(acc);
}

// The split merge (merge_kernel) at the batch width decode_merge_batch() picks.
template <int kD, typename V>
Status launch_merge(const AttnArgs& a) {
  auto kernel = decode_merge_batch() == 4 ? merge_kernel<kD, 4, V> : merge_kernel<kD, 16, V>;
  return cuda_status(launch_decode_pdl(kernel, dim3(a.tokens, a.hq), dim3(kMergeThreads<kD>), 0, a.stream, a),
                     "attention decode merge");
}

template <int kD, int kGroup, typename V, bool kPartialsOnly>
Status launch_decode_group(const AttnArgs& a) {
  using Sh = DecodeShape<kD, kGroup>;
  const int group = a.hq / a.hk;
  const dim3 grid(a.batch, a.hk * ((group + kGroup - 1) / kGroup), a.num_splits);
  if (grid.y > 65535 || grid.z > 65535)
    return invalid_argument("attention: too many heads or splits");
  RADIX_RETURN_IF_ERROR((allow_smem<decode_kernel<kD, kGroup, V, kPartialsOnly>>(Sh::kSmemBytes)));
  RADIX_RETURN_IF_ERROR(cuda_status(launch_decode_pdl(decode_kernel<kD, kGroup, V, kPartialsOnly>, grid,
                                               dim3(Sh::kThreads), Sh::kSmemBytes, a.stream, a),
                                    "attention decode"));
  if constexpr (!kPartialsOnly) {
    if (a.num_splits > 1) RADIX_RETURN_IF_ERROR((launch_merge<kD, V>(a)));
  }
  return Status::ok();
}

// The tensor-core kernel (decode_mma.cuh: one CTA per KV head) where it applies and
// is enabled (decode_mma_enabled; plan.h's decode_cta_heads agrees), else the SIMT
// kernel with query heads per CTA: 1 (MHA), 4 (GQA groups up to 4), else 8 (larger
// groups take several CTAs per KV head). kPartialsOnly: partials [num_splits, T, Hq,
// D] and lse for every split (a.partial_o/partial_lse), no merge.
template <int kD, typename V, bool kPartialsOnly = false>
Status launch_decode(const AttnArgs& a) {
  if (a.batch == 0 || a.tokens == 0) return Status::ok();
  const int group = a.hq / a.hk;
  if constexpr (decode_mma_applies(kD, 1)) {
    if (decode_mma_applies(kD, group) && decode_mma_enabled()) {
      RADIX_RETURN_IF_ERROR((launch_decode_mma<kD, V, kPartialsOnly>(a)));
      if constexpr (!kPartialsOnly) {
        if (a.num_splits > 1) RADIX_RETURN_IF_ERROR((launch_merge<kD, V>(a)));
      }
      return Status::ok();
    }
  }
  if (group == 1) return launch_decode_group<kD, 1, V, kPartialsOnly>(a);
  if (group <= 4) return launch_decode_group<kD, 4, V, kPartialsOnly>(a);
  return launch_decode_group<kD, 8, V, kPartialsOnly>(a);
}

}  // namespace radix::cuda::attn
