// Decode attention on tensor cores (GQA groups of up to 16 query heads, head dims
// that are multiples of 16 up to 128). One CTA handles one (sequence, KV head, split
// of the context): the group's query heads are the 16 rows of an mma.sync m16n8k16
// tile (rows past the group are zero and never written), so each K/V byte is read
// from memory once per KV group and from shared memory once per CTA (ldmatrix),
// instead of once per query head and dimension chunk as in decode_kernel's SIMT dot
// products, which made that kernel shared-memory bound at ~55 % of the HBM ceiling.
//
// Tiles of kTile = 64 positions are gathered through kv_indices with 16-byte cp.async
// into a 3-stage ring (two tiles in flight while one is computed; slot indices are
// fetched one tile further ahead into registers). Each of the 4 warps owns 16
// positions of every tile and keeps its own online softmax (m, l, O) over the
// positions it saw; the CTA merges the 4 warps at the end in shared memory. Same
// outputs as decode_kernel: bf16 out with one split, else normalized f32 partials and
// log-sum-exps for merge_kernel (kPartialsOnly: always partials).
#pragma once

#include "kernels/cuda/attention/attention_common.cuh"
#include "kernels/cuda/attention/plan.h"

namespace radix::cuda::attn {

template <int kD>
struct DecodeMmaShape {
  static constexpr int kWarps = 4;
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kTile = 16 * kWarps;  // positions per tile: 16 per warp
  static constexpr int kStages = 3;
  static constexpr int kStride = kD + 8;  // padded smem row (elements): ldmatrix without bank conflicts
  static constexpr int kRows = 16;        // query-head rows of the MMA tile
  static constexpr int kKvBytes = kStages * 2 * kTile * kStride * 2;  // (K, V) x stages, bf16
  static constexpr int kQBytes = kRows * kStride * 2;
  // The end-of-CTA merge reuses the K/V ring: per warp O [16][kD] f32, m and l [16].
  static constexpr int kMergeBytes = kWarps * kRows * (kD + 2) * 4;
  static_assert(kMergeBytes <= kKvBytes, "merge scratch must fit the K/V ring");
  static constexpr int kSmemBytes = kKvBytes + kQBytes;
  static_assert(kD % 16 == 0 && kD <= 128, "head dim: a multiple of 16, at most 128");
};

// The splits of sequence b's visible context [lo, kv_len): each keeps at least
// kMinPositionsPerSplit positions, so a context shorter than the grid was planned for
// (graphs are captured for the longest) leaves the upper splits inactive. The decode
// kernels and merge_kernel compute it alike from the step's indptrs, which are on the
// device before any kernel of the step (so before the PDL wait).
struct DecodeSplits {
  int kv_start, kv_len, lo, chunk, active;
};
template <typename V>
__device__ __forceinline__ DecodeSplits decode_splits(const AttnArgs& a, int b) {
  DecodeSplits s;
  s.kv_start = a.kv_indptr[b];
  s.kv_len = a.kv_indptr[b + 1] - s.kv_start;
  s.lo = V::first_visible(s.kv_len - 1, a);
  const int len = s.kv_len - s.lo;
  s.chunk = max(kMinPositionsPerSplit, (len + a.num_splits - 1) / a.num_splits);
  s.active = len > 0 ? min(a.num_splits, (len + s.chunk - 1) / s.chunk) : 1;
  return s;
}

// The sequence whose query row is `row` (decode: each sequence has at most one):
// usually b = row; otherwise a binary search of qo_indptr over [0, B).
__device__ __forceinline__ int decode_seq_of_row(const AttnArgs& a, int row) {
  if (row < a.batch && a.qo_indptr[row] == row && a.qo_indptr[row + 1] == row + 1) return row;
  int lo = 0, hi = a.batch - 1;  // the last b with qo_indptr[b] <= row
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (a.qo_indptr[mid] <= row) lo = mid; else hi = mid - 1;
  }
  return lo;
}

// Whether decode_mma_kernel serves a step with this head dim and GQA group.
constexpr bool decode_mma_applies(int head_dim, int group) {
  return head_dim % 16 == 0 && head_dim <= 128 && group >= 1 && group <= 16;
}

// grid (B, Hk, num_splits), block kThreads, dynamic smem kSmemBytes.
template <int kD, typename V, bool kPartialsOnly>
__global__ void __launch_bounds__(DecodeMmaShape<kD>::kThreads, 2) decode_mma_kernel(const AttnArgs a) {
  using Sh = DecodeMmaShape<kD>;
  constexpr int kT = Sh::kTile, kS = Sh::kStride, kSt = Sh::kStages;
  constexpr int kChunks = kD / 8;  // 16-byte chunks per row

  // The step's indptrs and slot indices were copied in before any kernel of the step:
  // they are read before the PDL wait; q and the newest K/V come from the kernel before.
  const int b = blockIdx.x, kvh = blockIdx.y, split = blockIdx.z;
  const int q_tok = a.qo_indptr[b];
  const int q_rows = a.qo_indptr[b + 1] - q_tok;
  const int heads = a.hq / a.hk;
  const int h0 = kvh * heads;
  const DecodeSplits sp = decode_splits<V>(a, b);
  const int kv_start = sp.kv_start, kv_len = sp.kv_len, chunk = sp.chunk, active = sp.active;
  const int tid = threadIdx.x;
  const int k_begin = sp.lo + split * chunk;
  const int k_end = min(kv_len, k_begin + chunk);
  const int tiles = k_end > k_begin ? (k_end - k_begin + kT - 1) / kT : 0;
  if (q_rows <= 0) return;  // no query row for this sequence
  if (split >= active) {
    // An inactive split: merge_kernel reads only the active ones, so it is done at once;
    // a caller that merges all splits itself (kPartialsOnly) gets an empty partial.
    if constexpr (kPartialsOnly) {
      pdl_wait();
      if (tid < heads) a.partial_lse[(static_cast<int64_t>(split) * a.tokens + q_tok) * a.hq + h0 + tid] = -INFINITY;
    }
    return;
  }
  int32_t slots[kGatherCopies<kD, kT, Sh::kThreads>];  // slot indices, a tile ahead of the copies
  auto fetch_slots = [&](int tile) { gather_slots<kD, kT, Sh::kThreads>(slots, a, kv_start, k_begin + tile * kT, k_end, tid); };
  if (tiles > 0) fetch_slots(0);

  pdl_wait();
  pdl_launch_dependents();

  extern __shared__ __align__(16) unsigned char smem_raw[];
  bf16* k_s = reinterpret_cast<bf16*>(smem_raw);                          // [kSt][kT][kS]
  bf16* v_s = k_s + kSt * kT * kS;                                        // [kSt][kT][kS]
  bf16* q_s = reinterpret_cast<bf16*>(smem_raw + Sh::kKvBytes);           // [16][kS]

  auto issue_copies = [&](int stage) {
    gather_tile<kD, kT, Sh::kThreads, kS>(slots, a, kvh, k_s + stage * kT * kS, v_s + stage * kT * kS, tid);
  };
  // Prologue: the Q rows (own commit group), then tiles 0 .. kSt - 2 in flight (one
  // group each, empty past the end) and tile kSt - 1's slots in registers.
  for (int c = tid; c < Sh::kRows * kChunks; c += Sh::kThreads) {
    const int r = c / kChunks, col = (c % kChunks) * 8;
    const bool ok = r < heads;
    cp_async_16(q_s + r * kS + col, a.q + ((static_cast<int64_t>(q_tok) * a.hq + h0 + (ok ? r : 0)) * kD + col), ok);
  }
  cp_async_commit();
#pragma unroll
  for (int t = 0; t < kSt - 1; ++t) {
    if (t < tiles) {
      if (t > 0) fetch_slots(t);  // tile 0's came before the wait
      issue_copies(t);
    }
    cp_async_commit();
  }
  if (kSt - 1 < tiles) fetch_slots(kSt - 1);

  const int warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, t4 = lane & 3;  // mma fragment coordinates: rows g, g + 8
  const int mi = lane >> 3, mr = lane & 7;

  float o[kD / 8][4];
#pragma unroll
  for (int i = 0; i < kD / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
  float m_lo = -INFINITY, m_hi = -INFINITY, l_lo = 0.0f, l_hi = 0.0f;
  uint32_t qf[kD / 16][4];  // the Q tile's A fragments, loaded once
  cp_async_wait<kSt - 1>();  // the Q group has landed (the tiles' groups may be in flight)
  __syncthreads();
#pragma unroll
  for (int kk = 0; kk < kD / 16; ++kk)
    ldmatrix_x4(qf[kk], q_s + ((mi & 1) * 8 + mr) * kS + kk * 16 + (mi >> 1) * 8);

  for (int tile = 0; tile < tiles; ++tile) {
    cp_async_wait<kSt - 2>();  // this tile's group has landed (the next one may be in flight)
    __syncthreads();           // ... for every thread; and every warp is done with stage (tile - 1) % kSt
    if (tile + kSt - 1 < tiles) {
      issue_copies((tile + kSt - 1) % kSt);
      if (tile + kSt < tiles) fetch_slots(tile + kSt);  // lands while this tile computes
    }
    cp_async_commit();
    const int stage = tile % kSt;
    const bf16* ks = k_s + (stage * kT + warp * 16) * kS;  // this warp's 16 positions
    const bf16* vs = v_s + (stage * kT + warp * 16) * kS;
    const int base = k_begin + tile * kT + warp * 16;

    // S = Q K^T: 16 query-head rows x this warp's 16 positions.
    float s[2][4];
#pragma unroll
    for (int nb = 0; nb < 2; ++nb) s[nb][0] = s[nb][1] = s[nb][2] = s[nb][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < kD / 16; ++kk) {
      uint32_t kf[4];  // K rows (mi / 2) * 8 + mr, dims kk*16 + (mi % 2) * 8
      ldmatrix_x4(kf, ks + ((mi >> 1) * 8 + mr) * kS + kk * 16 + (mi & 1) * 8);
      const uint32_t b0[2] = {kf[0], kf[1]}, b1[2] = {kf[2], kf[3]};
      mma_bf16_16816(s[0], qf[kk], b0);
      mma_bf16_16816(s[1], qf[kk], b1);
    }
#pragma unroll
    for (int nb = 0; nb < 2; ++nb) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int kpos = base + nb * 8 + 2 * t4 + (e & 1);
        s[nb][e] = kpos < k_end ? V::logit(s[nb][e], a) : -INFINITY;
      }
    }
    warp_softmax_update<kD, 16>(s, o, m_lo, m_hi, l_lo, l_hi);
    warp_pv<kD, 16, kS>(o, s, vs, lane);
  }
  cp_async_wait<0>();
  __syncthreads();  // the ring is free: reuse it for the merge

  // Each warp's (m, l, O) for the real rows, then one pass combines the 4 warps.
  float* mo_s = reinterpret_cast<float*>(smem_raw);          // [kWarps][16][kD]
  float* ml_s = mo_s + Sh::kWarps * Sh::kRows * kD;          // [kWarps][16][2]: m, l
  l_lo = quad_sum(l_lo);
  l_hi = quad_sum(l_hi);
  float* mine = mo_s + warp * Sh::kRows * kD;
  if (g < heads) {
#pragma unroll
    for (int nd = 0; nd < kD / 8; ++nd)
      *reinterpret_cast<float2*>(mine + g * kD + nd * 8 + 2 * t4) = make_float2(o[nd][0], o[nd][1]);
    if (t4 == 0) {
      ml_s[(warp * Sh::kRows + g) * 2] = m_lo;
      ml_s[(warp * Sh::kRows + g) * 2 + 1] = l_lo;
    }
  }
  if (g + 8 < heads) {
#pragma unroll
    for (int nd = 0; nd < kD / 8; ++nd)
      *reinterpret_cast<float2*>(mine + (g + 8) * kD + nd * 8 + 2 * t4) = make_float2(o[nd][2], o[nd][3]);
    if (t4 == 0) {
      ml_s[(warp * Sh::kRows + g + 8) * 2] = m_hi;
      ml_s[(warp * Sh::kRows + g + 8) * 2 + 1] = l_hi;
    }
  }
  __syncthreads();
  const bool partials = kPartialsOnly || active > 1;
  for (int i = tid; i < heads * kD; i += Sh::kThreads) {
    const int r = i / kD, d = i % kD;
    float mx = -INFINITY;
#pragma unroll
    for (int w = 0; w < Sh::kWarps; ++w) mx = fmaxf(mx, ml_s[(w * Sh::kRows + r) * 2]);
    float l = 0.0f, acc = 0.0f;
    if (mx != -INFINITY) {
#pragma unroll
      for (int w = 0; w < Sh::kWarps; ++w) {
        const float mw = ml_s[(w * Sh::kRows + r) * 2];
        const float sc = mw == -INFINITY ? 0.0f : exp2f((mw - mx) * kLog2e);
        l += sc * ml_s[(w * Sh::kRows + r) * 2 + 1];
        acc += sc * mo_s[(w * Sh::kRows + r) * kD + d];
      }
    }
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    const int h = h0 + r;
    if (!partials) {
      a.out[(static_cast<int64_t>(q_tok) * a.hq + h) * kD + d] = __float2bfloat16_rn(acc * inv);
    } else {
      const int64_t row = (static_cast<int64_t>(split) * a.tokens + q_tok) * a.hq + h;
      a.partial_o[row * kD + d] = acc * inv;
      if (d == 0) a.partial_lse[row] = l > 0.0f ? mx + logf(l) : -INFINITY;
    }
  }
}

template <int kD, typename V, bool kPartialsOnly>
Status launch_decode_mma(const AttnArgs& a) {
  using Sh = DecodeMmaShape<kD>;
  const dim3 grid(a.batch, a.hk, a.num_splits);
  if (grid.y > 65535 || grid.z > 65535) return invalid_argument("attention: too many heads or splits");
  // Two CTAs per SM need ~218 KB of shared memory: ask for the largest carveout.
  RADIX_RETURN_IF_ERROR((allow_smem<decode_mma_kernel<kD, V, kPartialsOnly>>(Sh::kSmemBytes, true)));
  return cuda_status(launch_decode_pdl(decode_mma_kernel<kD, V, kPartialsOnly>, grid, dim3(Sh::kThreads), Sh::kSmemBytes,
                                a.stream, a),
                     "attention decode (tensor cores)");
}

}  // namespace radix::cuda::attn
