// Shared-prefix (cascade) decode attention, pass 1: the prefix. One CTA handles one
// (group, KV head, split of the group's prefix, block of kPrefixRowsPerCta rows), where
// the rows are the group's members x the query heads of that KV head — every member's
// query heads attend to the same prefix K/V, so the group reads each prefix tile once
// for all of them, and the row count makes it a small matrix product: the
// FlashAttention-2 tile loop of prefill.cuh (mma.sync m16n8k16, bf16 in, f32
// accumulate, online softmax in registers) with 16 rows per warp, K/V tiles gathered
// through prefix_indices with 16-byte cp.async, double-buffered, slot indices fetched
// a tile ahead as in decode.cuh. Members are found on the device by scanning
// group_of_seq (sequences of a group need not be contiguous), while the first tile
// loads. Each row writes a normalized partial output and its log-sum-exp into plane
// `split` of the workspace; pass 2 (the decode kernel over each sequence's own
// positions, partials only) fills planes [P, P + S) and pass 3 (the merge below)
// combines the planes of each (sequence, query head).
#pragma once

#include "kernels/cuda/attention/attention_common.cuh"
#include "kernels/cuda/attention/decode.cuh"
#include "kernels/cuda/attention/plan.h"

namespace radix::cuda::attn {

template <int kD>
struct PrefixShape {
  static constexpr int kWarps = 4;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kBlockM = 16 * kWarps;          // (member, head) rows per CTA
  static constexpr int kBlockN = kD <= 128 ? 64 : 32;  // prefix positions per tile
  static constexpr int kStride = kD + 8;               // smem row (16-byte pad, as prefill)
  // Members whose rows meet one block of kBlockM rows: at most kBlockM / group + 2.
  static constexpr int kMembers = kBlockM + 2;
  static constexpr int kScanPerThread = 4;  // sequences per thread per member-scan round
  static constexpr int kTileBytes = (kBlockM + 4 * kBlockN) * kStride * 2;  // Q + 2 x (K, V)
  static constexpr int kSmemBytes = kTileBytes + (2 * kMembers + kScanPerThread * kWarps) * 4;
  static_assert(kBlockM == kPrefixRowsPerCta, "plan.h sizes the grid with kPrefixRowsPerCta");
};

// grid (row_blocks, Hk * P, G), block kThreads, dynamic smem kSmemBytes.
template <int kD, typename V>
__global__ void __launch_bounds__(PrefixShape<kD>::kThreads)
    shared_prefix_kernel(const SharedPrefixArgs a) {
  using Sh = PrefixShape<kD>;
  constexpr int kM = Sh::kBlockM, kN = Sh::kBlockN, kS = Sh::kStride, kThreads = Sh::kThreads;
  constexpr int kChunks = kD / 8;  // 16-byte chunks per row
  constexpr int kCopies = kN * kChunks / kThreads;
  static_assert(kCopies * kThreads == kN * kChunks, "tile must split evenly over threads");

  // Launched with PDL: q comes from the kernel before (the prefix K/V is older).
  pdl_wait();
  pdl_launch_dependents();
  const AttnArgs& at = a.attn;
  const int g = blockIdx.z;
  const int kvh = blockIdx.y % at.hk, split = blockIdx.y / at.hk;
  const int group = at.hq / at.hk;
  const int p_start = a.prefix_indptr[g];
  const int p_len = a.prefix_indptr[g + 1] - p_start;
  // Splits of >= kMinPrefixPerSplit positions (as decode): a short prefix leaves the
  // upper splits without tiles; their rows get lse = -inf, which the merge skips.
  const int chunk = max(kMinPrefixPerSplit, (p_len + a.prefix_splits - 1) / a.prefix_splits);
  const int k_begin = split * chunk;
  const int k_end = min(p_len, k_begin + chunk);
  const int tiles = k_end > k_begin ? (k_end - k_begin + kN - 1) / kN : 0;

  extern __shared__ __align__(16) unsigned char smem_raw[];
  bf16* q_s = reinterpret_cast<bf16*>(smem_raw);                   // [kM][kS]
  bf16* k_s = q_s + kM * kS;                                       // [2][kN][kS]
  bf16* v_s = k_s + 2 * kN * kS;                                   // [2][kN][kS]
  int* tok_s = reinterpret_cast<int*>(smem_raw + Sh::kTileBytes);  // [kMembers] q row of member
  int* first_s = tok_s + Sh::kMembers;    // [kMembers] first prefix position it sees (window)
  int* count_s = first_s + Sh::kMembers;  // [kScanPerThread][kWarps] scan scratch

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;

  // K/V tiles: chunk c = tid + i * kThreads of a tile is row c / kChunks, column
  // (c % kChunks) * 8; slots of a tile are fetched one tile ahead into registers.
  int32_t slots[kCopies];
  auto fetch_slots = [&](int tile) {
    const int base = k_begin + tile * kN;
#pragma unroll
    for (int i = 0; i < kCopies; ++i) {
      const int kpos = base + (tid + i * kThreads) / kChunks;
      slots[i] = kpos < k_end ? a.prefix_indices[p_start + kpos] : -1;
    }
  };
  auto issue_copies = [&](int stage) {
#pragma unroll
    for (int i = 0; i < kCopies; ++i) {
      const int c = tid + i * kThreads;
      const int j = c / kChunks, col = (c % kChunks) * 8;
      const bool ok = slots[i] >= 0 && slots[i] < at.num_slots;
      const int64_t off = ((ok ? static_cast<int64_t>(slots[i]) : 0) * at.hk + kvh) * kD + col;
      cp_async_16(k_s + (stage * kN + j) * kS + col, at.k_cache + off, ok);
      cp_async_16(v_s + (stage * kN + j) * kS + col, at.v_cache + off, ok);
    }
  };
  auto start_tiles = [&] {
    if (tiles > 0) {
      fetch_slots(0);
      issue_copies(0);
    }
    cp_async_commit();
    if (tiles > 1) fetch_slots(1);
  };

  // Members of group g, ranked in sequence order: sequences with group_of_seq == g and
  // a query row. Records members [m_lo, m_lo + kMembers) in tok_s/first_s; returns
  // how many there are. Each round covers kScan sequences per thread, their loads
  // independent (b = base + k * kThreads + tid, so (k, warp, lane) order is b order).
  // Every thread runs the same trip count (barriers inside).
  constexpr int kScan = Sh::kScanPerThread;
  auto scan_members = [&](int m_lo) {
    int total = 0;
    for (int base = 0; base < at.batch; base += kScan * kThreads) {
      bool member[kScan];
      int tok[kScan], first[kScan];
#pragma unroll
      for (int k = 0; k < kScan; ++k) {
        const int b = base + k * kThreads + tid;
        member[k] = false;
        tok[k] = first[k] = 0;
        if (b < at.batch) {
          const int gb = a.group_of_seq[b], q_end = at.qo_indptr[b + 1];  // loads not chained
          tok[k] = at.qo_indptr[b];
          member[k] = gb == g && q_end > tok[k];
          // Query position p_len + suffix_len - 1 sees prefix positions > it - window.
          if constexpr (V::kUseWindow)
            first[k] = p_len + (at.kv_indptr[b + 1] - at.kv_indptr[b]) - at.window;
        }
      }
      unsigned ballot[kScan];
#pragma unroll
      for (int k = 0; k < kScan; ++k) {
        ballot[k] = __ballot_sync(0xffffffffu, member[k]);
        if (lane == 0) count_s[k * Sh::kWarps + warp] = __popc(ballot[k]);
      }
      __syncthreads();
      int before = total;  // members ahead of (k, warp) in this round, running
#pragma unroll
      for (int k = 0; k < kScan; ++k) {
        for (int w = 0; w < Sh::kWarps; ++w) {
          if (w == warp) {
            const int rank = before + __popc(ballot[k] & ((1u << lane) - 1u));
            if (member[k] && rank >= m_lo && rank - m_lo < Sh::kMembers) {
              tok_s[rank - m_lo] = tok[k];
              first_s[rank - m_lo] = first[k];
            }
          }
          before += count_s[k * Sh::kWarps + w];
        }
      }
      total = before;
      __syncthreads();  // count_s is rewritten next round; tok_s/first_s published
    }
    return total;
  };

  const int g_row = lane >> 2, t = lane & 3;            // mma fragment coordinates
  const int i_lo = warp * 16 + g_row, i_hi = i_lo + 8;  // this thread's rows in the block

  start_tiles();  // the first K/V tile loads while the members are found
  const int first_block = blockIdx.x;
  const int rows_total = scan_members(first_block * kM / group) * group;
  // Normally one pass (the plan covers max_group_size); more members than planned
  // take further blocks of rows here, re-reading the prefix.
  for (int blk = first_block; blk * kM < rows_total; blk += a.row_blocks) {
    const int r0 = blk * kM, m_lo = r0 / group;
    if (blk != first_block) {
      scan_members(m_lo);
      start_tiles();
    }
    // Q rows: row i is member (r0 + i) / group, head kvh * group + (r0 + i) % group.
    for (int c = tid; c < kM * kChunks; c += kThreads) {
      const int i = c / kChunks, col = (c % kChunks) * 8;
      const int r = r0 + i;
      const bool ok = r < rows_total;
      const int64_t q_row =
          ok ? static_cast<int64_t>(tok_s[r / group - m_lo]) * at.hq + kvh * group + r % group : 0;
      cp_async_16(q_s + i * kS + col, at.q + q_row * kD + col, ok);
    }
    cp_async_commit();
    const bool ok_lo = r0 + i_lo < rows_total, ok_hi = r0 + i_hi < rows_total;
    const bool warp_rows = r0 + warp * 16 < rows_total;  // warp-uniform
    int first_lo = 0, first_hi = 0;
    if constexpr (V::kUseWindow) {
      if (ok_lo) first_lo = first_s[(r0 + i_lo) / group - m_lo];
      if (ok_hi) first_hi = first_s[(r0 + i_hi) / group - m_lo];
    }

    float o[kD / 8][4];
#pragma unroll
    for (int i = 0; i < kD / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
    float m_lo_row = -INFINITY, m_hi_row = -INFINITY, l_lo = 0.0f, l_hi = 0.0f;

    for (int tile = 0; tile < tiles; ++tile) {
      cp_async_wait<0>();
      __syncthreads();  // tile (and Q) landed; every warp is done with the other stage
      if (tile + 1 < tiles) {
        issue_copies((tile + 1) & 1);
        if (tile + 2 < tiles) fetch_slots(tile + 2);  // lands while this tile computes
      }
      cp_async_commit();
      if (!warp_rows) continue;  // no rows for this warp: it only helps with the copies
      const bf16* ks = k_s + (tile & 1) * kN * kS;
      const bf16* vs = v_s + (tile & 1) * kN * kS;
      const int base = k_begin + tile * kN;

      // S = Q K^T for this warp's 16 rows x kN positions, masks (tile tail; the window
      // per member), online softmax, O += P V.
      float s[kN / 8][4];
      warp_qk<kD, kN, kS>(s, q_s, warp * 16, ks, lane);
#pragma unroll
      for (int nb = 0; nb < kN / 8; ++nb) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int kpos = base + nb * 8 + 2 * t + (e & 1);
          bool vis = kpos < k_end;
          if constexpr (V::kUseWindow) vis = vis && kpos >= (e < 2 ? first_lo : first_hi);
          s[nb][e] = vis ? V::logit(s[nb][e], at) : -INFINITY;
        }
      }
      warp_softmax_update<kD, kN>(s, o, m_lo_row, m_hi_row, l_lo, l_hi);
      warp_pv<kD, kN, kS>(o, s, vs, lane);
    }
    cp_async_wait<0>();
    l_lo = quad_sum(l_lo);
    l_hi = quad_sum(l_hi);
    // Plane `split`, row (token, head). Rows without a visible position write only
    // lse = -inf (the merge then never reads their partial output).
    const int64_t plane = static_cast<int64_t>(split) * at.tokens;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int r = r0 + (half == 0 ? i_lo : i_hi);
      if (!(half == 0 ? ok_lo : ok_hi)) continue;
      const float l = half == 0 ? l_lo : l_hi;
      const float m = half == 0 ? m_lo_row : m_hi_row;
      const int64_t row = (plane + tok_s[r / group - m_lo]) * at.hq + kvh * group + r % group;
      if (t == 0) a.partial_lse[row] = l > 0.0f ? m + logf(l) : -INFINITY;
      if (l > 0.0f) {
        const float inv = 1.0f / l;
        float* dst = a.partial_o + row * kD + 2 * t;
#pragma unroll
        for (int nd = 0; nd < kD / 8; ++nd) {
          *reinterpret_cast<float2*>(dst + nd * 8) =
              make_float2(o[nd][2 * half] * inv, o[nd][2 * half + 1] * inv);
        }
      }
    }
    __syncthreads();  // tok_s, q_s and the K/V stages are free for the next block of rows
  }
  cp_async_wait<0>();  // a CTA without rows still has its first tile in flight
}

// out[tok, h, :] = sum_s exp(lse_s - lse) * partial_o[s, tok, h, :] over the planes of
// sequence b: all P + S for a member of a group, the suffix's S otherwise.
// grid (B, Hq), block kD threads.
template <int kD>
__global__ void __launch_bounds__(kD) shared_prefix_merge_kernel(const SharedPrefixArgs a) {
  pdl_wait();
  pdl_launch_dependents();
  const AttnArgs& at = a.attn;
  const int b = blockIdx.x, h = blockIdx.y, d = threadIdx.x;
  const int tok = at.qo_indptr[b];
  if (at.qo_indptr[b + 1] <= tok) return;  // no query row
  const int g = a.group_of_seq[b];
  const int first = g >= 0 && g < a.num_groups ? 0 : a.prefix_splits;
  const int planes = a.prefix_splits + a.suffix_splits;
  const int64_t plane = static_cast<int64_t>(at.tokens) * at.hq;  // rows per plane
  const int64_t row = static_cast<int64_t>(tok) * at.hq + h;
  float mx = -INFINITY;
  for (int s = first; s < planes; ++s) mx = fmaxf(mx, a.partial_lse[s * plane + row]);
  float acc = 0.0f, wsum = 0.0f;
  if (mx != -INFINITY) {
    for (int s = first; s < planes; ++s) {
      const float lse = a.partial_lse[s * plane + row];
      if (lse == -INFINITY) continue;  // nothing visible there: its partial_o is not written
      const float w = exp2f((lse - mx) * kLog2e);
      wsum += w;
      acc += w * a.partial_o[(s * plane + row) * kD + d];
    }
  }
  at.out[row * kD + d] = __float2bfloat16_rn(wsum > 0.0f ? acc / wsum : 0.0f);
}

// The three passes, each launched with PDL on a.attn.stream: prefix -> planes [0, P),
// suffix (the decode kernel, partials only) -> planes [P, P + S), merge -> out.
template <int kD, typename V>
Status launch_shared_prefix(const SharedPrefixArgs& a) {
  using Sh = PrefixShape<kD>;
  const AttnArgs& at = a.attn;
  if (at.batch == 0 || at.tokens == 0 || at.hq == 0) return Status::ok();
  if (at.hk * a.prefix_splits > 65535 || a.num_groups > 65535 || at.hq > 65535) {
    return invalid_argument("attention_shared_prefix: too many heads, splits or groups");
  }
  if (a.num_groups > 0 && a.prefix_splits > 0) {
    const dim3 grid(a.row_blocks, at.hk * a.prefix_splits, a.num_groups);
    RADIX_RETURN_IF_ERROR((allow_smem<shared_prefix_kernel<kD, V>>(Sh::kSmemBytes)));
    RADIX_RETURN_IF_ERROR(cuda_status(launch_pdl(shared_prefix_kernel<kD, V>, grid,
                                                 dim3(Sh::kThreads), Sh::kSmemBytes, at.stream, a),
                                      "attention_shared_prefix prefix pass"));
  }
  AttnArgs suffix = at;
  const int64_t plane = static_cast<int64_t>(at.tokens) * at.hq;
  suffix.num_splits = a.suffix_splits;
  suffix.partial_o = a.partial_o + a.prefix_splits * plane * kD;
  suffix.partial_lse = a.partial_lse + a.prefix_splits * plane;
  RADIX_RETURN_IF_ERROR((launch_decode<kD, V, /*kPartialsOnly=*/true>(suffix)));
  return cuda_status(
      launch_pdl(shared_prefix_merge_kernel<kD>, dim3(at.batch, at.hq), dim3(kD), 0, at.stream, a),
      "attention_shared_prefix merge");
}

}  // namespace radix::cuda::attn
