// Prefill/extend attention: FlashAttention-2 tiling on tensor cores (mma.sync
// m16n8k16, bf16 in, f32 accumulate) with the online softmax in f32 registers.
// One CTA = 64 query rows of one (sequence, query head); 4 warps own 16 rows each.
// K/V tiles of kBlockN context positions are gathered through kv_indices into
// shared memory with cp.async, double-buffered so the next tile loads while this one
// is computed. Causal, sliding window and soft-cap come from the Variant policy.
#pragma once

#include "kernels/cuda/attention/attention_common.cuh"

namespace radix::cuda::attn {

template <int kD>
struct PrefillShape {
  static constexpr int kWarps = kD <= 128 ? 8 : 4;  // 128 query rows share each K/V tile
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kBlockM = 16 * kWarps;          // query rows per CTA
  static constexpr int kBlockN = kD <= 128 ? 64 : 32;  // context positions per tile
  static constexpr int kStride = kD + 8;               // smem row (16-byte pad: no bank conflicts)
  static constexpr int kSmemBytes =
      (kBlockM + 4 * kBlockN) * kStride * static_cast<int>(sizeof(bf16));  // Q + 2 stages of K, V
};

// grid (ceil(max_q_len / kBlockM), Hq, B), block kThreads, dynamic smem kSmemBytes. The
// heads of a sequence are adjacent in launch order, so the query heads of a KV group
// (and a sequence's q tiles) read its K/V while L2 still holds it — with the sequence
// outermost per head, a mixed step's hundreds of decode rows re-read each sequence's
// K/V from memory once per query head.
template <int kD, typename V>
__global__ void __launch_bounds__(PrefillShape<kD>::kThreads, kD <= 128 ? 2 : 1)
    prefill_kernel(const AttnArgs a) {
  using Sh = PrefillShape<kD>;
  constexpr int kM = Sh::kBlockM, kN = Sh::kBlockN, kS = Sh::kStride;
  constexpr int kChunks = kD / 8;  // 16-byte chunks per row

  const int h = blockIdx.y, b = blockIdx.z;
  const int q_start = a.qo_indptr[b];
  const int q_len = a.qo_indptr[b + 1] - q_start;
  const int m0 = blockIdx.x * kM;  // first query row of this CTA within the sequence
  if (m0 >= q_len) return;
  const int kv_start = a.kv_indptr[b];
  const int kv_len = a.kv_indptr[b + 1] - kv_start;
  const int kvh = h / (a.hq / a.hk);
  const int pos0 = kv_len - q_len + m0;  // position of row m0
  const int rows = min(kM, q_len - m0);
  const int kv_end = min(kv_len, pos0 + rows);             // causal bound of the last row
  const int kv_begin = max(0, V::first_visible(pos0, a));  // window bound of the first row
  const int tiles = kv_end > kv_begin ? (kv_end - kv_begin + kN - 1) / kN : 0;

  extern __shared__ __align__(16) unsigned char smem_raw[];
  bf16* q_s = reinterpret_cast<bf16*>(smem_raw);  // [kM][kS]
  bf16* k_s = q_s + kM * kS;                      // [2][kN][kS]
  bf16* v_s = k_s + 2 * kN * kS;                  // [2][kN][kS]

  const int tid = threadIdx.x;
  // Q tile (rows past q_len zero-filled).
  for (int c = tid; c < kM * kChunks; c += Sh::kThreads) {
    const int r = c / kChunks, col = (c % kChunks) * 8;
    const bool ok = r < rows;
    const bf16* src =
        a.q + ((static_cast<int64_t>(q_start) + m0 + (ok ? r : 0)) * a.hq + h) * kD + col;
    cp_async_16(q_s + r * kS + col, src, ok);
  }
  auto load_kv = [&](int stage, int tile) {
    const int base = kv_begin + tile * kN;
    for (int c = tid; c < kN * kChunks; c += Sh::kThreads) {
      const int j = c / kChunks, col = (c % kChunks) * 8;
      const int kpos = base + j;
      int64_t slot = kpos < kv_end ? a.kv_indices[kv_start + kpos] : -1;
      const bool ok = slot >= 0 && slot < a.num_slots;
      if (!ok) slot = 0;
      const int64_t off = (slot * a.hk + kvh) * kD + col;
      cp_async_16(k_s + (stage * kN + j) * kS + col, a.k_cache + off, ok);
      cp_async_16(v_s + (stage * kN + j) * kS + col, a.v_cache + off, ok);
    }
  };
  if (tiles > 0) load_kv(0, 0);
  cp_async_commit();

  const int warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, t = lane & 3;  // mma fragment coordinates
  const int r_lo = warp * 16 + g, r_hi = r_lo + 8;
  const int qpos_lo = pos0 + r_lo, qpos_hi = pos0 + r_hi;

  float o[kD / 8][4];
#pragma unroll
  for (int i = 0; i < kD / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
  float m_lo = -INFINITY, m_hi = -INFINITY, l_lo = 0.0f, l_hi = 0.0f;

  for (int tile = 0; tile < tiles; ++tile) {
    cp_async_wait<0>();
    __syncthreads();
    if (tile + 1 < tiles) load_kv((tile + 1) & 1, tile + 1);
    cp_async_commit();
    // A warp whose 16 rows are all past the CTA's query rows has nothing to compute: a
    // short tail tile, or a decode row (q_len 1) in a mixed step, needs warp 0 alone.
    if (warp * 16 >= rows) continue;
    const bf16* ks = k_s + (tile & 1) * kN * kS;
    const bf16* vs = v_s + (tile & 1) * kN * kS;
    const int base = kv_begin + tile * kN;

    // S = Q K^T for this warp's 16 rows x kN positions.
    float s[kN / 8][4];
    warp_qk<kD, kN, kS>(s, q_s, warp * 16, ks, lane);
    // Logits and masks, then the online softmax update (rows r_lo and r_hi) and O += P V.
#pragma unroll
    for (int nb = 0; nb < kN / 8; ++nb) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int kpos = base + nb * 8 + 2 * t + (e & 1);
        const int qpos = e < 2 ? qpos_lo : qpos_hi;
        const bool vis = kpos < kv_end && V::visible(qpos, kpos, a);
        s[nb][e] = vis ? V::logit(s[nb][e], a) : -INFINITY;
      }
    }
    warp_softmax_update<kD, kN>(s, o, m_lo, m_hi, l_lo, l_hi);
    warp_pv<kD, kN, kS>(o, s, vs, lane);
  }
  cp_async_wait<0>();

  l_lo = quad_sum(l_lo);
  l_hi = quad_sum(l_hi);
  const float inv_lo = l_lo > 0.0f ? 1.0f / l_lo : 0.0f;
  const float inv_hi = l_hi > 0.0f ? 1.0f / l_hi : 0.0f;
  bf16* out_lo = a.out + ((static_cast<int64_t>(q_start) + m0 + r_lo) * a.hq + h) * kD;
  bf16* out_hi = a.out + ((static_cast<int64_t>(q_start) + m0 + r_hi) * a.hq + h) * kD;
#pragma unroll
  for (int nd = 0; nd < kD / 8; ++nd) {
    const int col = nd * 8 + 2 * t;
    if (r_lo < rows) {
      *reinterpret_cast<uint32_t*>(out_lo + col) =
          pack_bf16x2(o[nd][0] * inv_lo, o[nd][1] * inv_lo);
    }
    if (r_hi < rows) {
      *reinterpret_cast<uint32_t*>(out_hi + col) =
          pack_bf16x2(o[nd][2] * inv_hi, o[nd][3] * inv_hi);
    }
  }
}

template <int kD, typename V>
Status launch_prefill(const AttnArgs& a) {
  using Sh = PrefillShape<kD>;
  const dim3 grid((a.max_q_len + Sh::kBlockM - 1) / Sh::kBlockM, a.hq, a.batch);
  if (grid.x == 0 || grid.z == 0) return Status::ok();
  if (grid.y > 65535 || grid.z > 65535)
    return invalid_argument("attention: batch or heads too large");
  RADIX_RETURN_IF_ERROR((allow_smem<prefill_kernel<kD, V>>(Sh::kSmemBytes)));
  prefill_kernel<kD, V><<<grid, Sh::kThreads, Sh::kSmemBytes, a.stream>>>(a);
  return check_launch("attention prefill");
}

}  // namespace radix::cuda::attn
