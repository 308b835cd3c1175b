// The decode GEMVs between two attentions as phases of one persistent kernel (M = 1 or 2
// rows).
//
// Why: a batch-1 decode step is ~190 short kernels, and each pays its ramp (the first
// weights in flight) and its drain (the last rows, the stores, the exit) — the profile
// of docs/perf.md (session 6) puts the GEMVs at ~128 us per layer against ~97 us for
// their bytes at the read rate. Here one launch runs, e.g., o + residual, norm +
// gate/up + SiLU, down + residual and the next layer's norm + qkv + RoPE + KV store.
//
// How:
// - One CTA per SM (cooperative launch: all resident), 16 warps. Phase p's units
//   (rows; row pairs for SiLU and RoPE) are split evenly over the CTAs, and the CTA's
//   (unit, 1024-column chunk, row) items evenly over its warps.
// - Weight streaming: an item is kVecs 16-byte vectors of one row per lane (vectors
//   chunk * kChunkVecs + j * 32 + lane). Every lane keeps kRing items of cp.async copies
//   in flight, in its own shared-memory slots (it reads back only what it copied: no
//   barrier). The issuing side walks the same item sequence kRing - 1 items ahead and
//   crosses phase boundaries without waiting: weights depend on nothing. While a CTA
//   waits for the previous phase, its next weights are already on the way.
// - Phase boundary: a CTA stages the phase's input row in shared memory (RMSNorm-ed and
//   rounded to bf16 as the rms_norm op stores it, for the normed phases) once the
//   previous phase's counter says every CTA has stored its outputs; warps add their
//   partial dot products into per-unit shared sums; the epilogue (gemv.cu's: residual
//   add, SiLU-and-mul, RoPE + KV store, same roundings) stores, fences and bumps this
//   phase's counter. The counters keep growing by whole launches (decode_chain.h), so a
//   launch ends when its CTAs do: no fence or count after the last phase, no reset.
// Measured (docs/perf.md, 2026-11-30, H200, dummy Llama-3-8B, batch 1): 4.13-4.16 ms
// per step against 4.54 ms for the same GEMVs as separate kernels. One 16-byte copy per
// item (its bookkeeping per copy) lost (4.89 ms), and so did L2 prefetches of the next
// share issued at a phase boundary (4.26-4.65 ms).
// Two rows (a batch of two tokens) too: 4.50 vs 4.74 ms per step; at four rows it lost
// (6.00 vs 5.04 ms: the input rows come from shared memory per item, not registers).
// The decode attention as the chain's first step (CTAs by (KV head, split), the o phase
// waiting for the merged heads) lost twice, so the attention runs as its own kernels
// before (docs/kernels.md): a warp per query head, 4.36 vs 4.13 ms at 128 positions and
// 5.67 vs 4.31 ms at 4K; rebuilt for latency, 4.33 vs 4.13 and 4.66 vs 4.32 ms. The
// ring's weight copies issued before it delay its loads: with none in flight 4.21-4.33
// ms, still behind the separate kernels (4.12-4.18).
// The split merge of the layer's decode attention as the chain's first step (the
// attention as split partials before it) lost: 4.37 vs 4.25 ms per step at 1K context,
// 4.56 vs 4.39 at 4K (H200, batch 1, docs/perf.md 2026-11-30 session 9); removed.
// Norm weights loaded before each phase's wait with staging loads four at a time were
// neutral: 4.24 vs 4.25 ms at 1K, 4.41 vs 4.39 at 4K, 114.0 vs 114.8 us per layer tail in
// the kernel bench (same session); removed. A %globaltimer trace per phase stays for the
// kernel bench.
// Session 10 (H200, batch 1, docs/perf.md): launched with PDL (decode_pdl_enabled), the
// first ring copies are issued before the wait for the merge: 4.09 vs 4.13 ms per step.
// Measured and removed: the ring filled by bulk copies (cp.async.bulk, one 2 KB copy per
// warp item on an mbarrier): 114.4 vs 112.1 us per layer tail, 85.7 vs 87.4 % of the
// roofline; the residual loaded at the phase start and one fence per CTA: 4.08-4.13 vs
// 4.10-4.15 ms (noise); SM shares in proportion to each SM's measured speed (24 SMs
// stream their equal share ~24 % faster, the same ones every launch): the fast SMs stop
// waiting (down phase's longest wait 14.4 -> 5.7 us) but the step is no faster (4.12 vs
// 4.11 ms): the phase is bound by the total read rate, not by the slow SMs.
// Session 11 (H200, batch 1, docs/perf.md), measured and removed: the gate/up -> down
// barrier replaced by per-chunk act counters (the flow pair: 5.24 vs 4.11 ms) or by each
// CTA multiplying its own act units into all outputs through a fixed-point atomic
// accumulator (the split down: 4.52 vs 4.20 ms, 540K atomics per launch); L2 prefetch of
// the next 4/8 items beyond the ring at phase ends (4.24 / 4.36 vs 4.09 ms); fewer ring
// items into the next phase before its input is staged (4.14-4.35 vs 4.12 ms).
// Session 12 (H200, batch 1, docs/perf.md), measured and removed: tagged boundaries (each
// feeding phase's outputs also as {bf16, bf16, u32 tag} words the next phase polls, no
// fence or counter: 4.77 vs 4.31 ms, the polling slowed the weight stream) and pooled
// tails (the last 10-25 % of each phase's units claimed unit by unit by the warps done
// first: 4.74-4.77 vs 4.31 ms, a warp streams a whole unit too slowly); bulk L2
// prefetches of 2-4 items beyond the ring at phase ends. Kept: the weight copies marked
// evict-first in L2 (4.27-4.30 vs 4.28-4.34 ms).
// Session 13 (H200, batch 1, docs/perf.md), measured and removed: counted tagged
// boundaries (the tagged words kept beside the counter, no fence before the count: 5.41
// vs 4.32 ms, the gate/up dots 63.8 vs ~50 us) and the full ring (each copy issued after
// its slot's item is used, so kRing items, not kRing - 1, are in flight across a
// boundary's wait: 4.34 vs 4.32 ms); a boundary warp (a 17th warp, streaming nothing,
// stored, fenced, counted and polled, so no fence waited in a warp with copies in flight:
// 4.28 vs 4.27 ms, 4.74 vs 4.68 at two rows; the fence's cost is not the ring's drain).
// Session 16 (H200, docs/perf.md): set_decode_chain_unsynced's diagnostics against a
// probe streaming the same bytes through the same ring shape (~100 us per layer): the
// waits, fences and counts cost ~2.7 us of the chain's ~119, its staging ~6, stores ~1.4,
// dots ~4, the item walk and shares ~4. Staging's loads issued at once (again) saved
// 1.9 us unsynced but nothing synced (4.28 vs 4.28 ms); not kept. The lm_head as a fourth
// phase (kLogits) was neutral (4.28 vs 4.28 ms) and removed.
// Session 17 (H200, docs/perf.md), measured and removed: the dot products on tensor cores
// (items of 8 rows x 128 columns, mma.m16n8k16 with the input rows as A: 129.3 vs 117.5 us
// per layer tail, 4.61 vs 4.25 ms per step) and items claimed two at a time by the warps
// from a per-phase pool in shared memory instead of even shares (148.9 vs 118.7 us, 5.30
// vs 4.31 ms: a flush every two items and a claim between copies); items of 8 vectors
// per lane (4.31 vs 4.26 ms); two CTAs of 8 warps per SM at one row (122.4 vs 119.0 us,
// 4.37 vs 4.29 ms).
// Constraints: nothing else may hold SMs the grid needs (the cooperative launch checks
// co-residency); one chain at a time per set of counters (CudaBackend::sync_counters()).
#include <algorithm>
#include <atomic>

#include "kernels/cuda/common/cuda_utils.cuh"
#include "kernels/cuda/common/env_switch.h"
#include "kernels/cuda/gemm/decode_chain.h"
#include "kernels/cuda/gemm/gemv_math.cuh"
#include "kernels/cuda/gemm/rope_epilogue.cuh"

namespace radix::cuda {
namespace {

constexpr int kWarps = 16;
constexpr int kThreads = kWarps * 32;
constexpr int kVecs = 4;                 // 16-byte vectors per lane per item
constexpr int kChunkVecs = 32 * kVecs;   // a row's vectors per item
constexpr int kMaxSmem = 226 * 1024;  // dynamic; the 227 KB opt-in limit counts static memory too

struct Phase {
  int kind;  // ChainPhase::Kind
  int n;     // units
  int k;     // input width
  const bf16* w;
  const bf16* a;
  const bf16* norm_w;  // or nullptr
  bf16* out;
  const bf16* bias;
  RopeEpilogue rope;
};

struct Chain {
  Phase ph[kChainMaxPhases];
  int num;
  float eps, norm_offset;
  int x_vecs;  // shared-memory input row: 16-byte vectors (the largest K, in whole chunks)
  unsigned long long* counters;  // kChainCounters, growing by whole launches (decode_chain.h)
  unsigned long long* trace;  // [gridDim.x][kChainTraceSlots] timestamps, or nullptr
  int unsynced;               // diagnostics: set_decode_chain_unsynced
};

__device__ __forceinline__ unsigned long long global_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}
// Thread 0's timestamp k of this CTA (decode_chain.h: kChainTraceSlots).
__device__ __forceinline__ void stamp(const Chain& ch, int k) {
  if (ch.trace != nullptr && threadIdx.x == 0) ch.trace[blockIdx.x * kChainTraceSlots + k] = global_ns();
}
// Lane 0's stamp of this warp's end of phase p's dot products.
__device__ __forceinline__ void stamp_warp(const Chain& ch, int p, int warp, int lane) {
  if (ch.trace != nullptr && lane == 0) ch.trace[blockIdx.x * kChainTraceSlots + chain_trace_warp_slot(p, warp)] = global_ns();
}

// Chain::counters: [p] CTAs that have stored phase p (in this launch: minus its base).
static_assert(kChainCounters == kChainMaxPhases);
static_assert(kChainTraceWarps == kWarps);

__device__ __forceinline__ int rows_per_unit(int kind) {
  return kind == ChainPhase::kAccumulate ? 1 : 2;
}
__device__ __forceinline__ int chunks_of(int k) {
  return (k / 8 + kChunkVecs - 1) / kChunkVecs;
}

// The CTA's units [u0, u1) of a phase and this warp's items [t0, t1) of them; item t is
// (unit t / (R chunks), chunk, row r) in that order.
struct Share {
  int u0, u1, t0, t1, r_n, chunks;
};
// The CTA's even share [u0, u1) of a phase's units, and a warp's of the CTA's items.
__device__ __forceinline__ void cta_units(const Phase& ph, int* u0, int* u1) {
  *u0 = static_cast<int>(static_cast<int64_t>(ph.n) * blockIdx.x / gridDim.x);
  *u1 = static_cast<int>(static_cast<int64_t>(ph.n) * (blockIdx.x + 1) / gridDim.x);
}
__device__ __forceinline__ void warp_items(int64_t items, int warp, int* t0, int* t1) {
  *t0 = static_cast<int>(items * warp / kWarps);
  *t1 = static_cast<int>(items * (warp + 1) / kWarps);
}
__device__ __forceinline__ Share share_of(const Phase& ph, int warp) {
  Share s;
  s.r_n = rows_per_unit(ph.kind);
  s.chunks = chunks_of(ph.k);
  cta_units(ph, &s.u0, &s.u1);
  warp_items(static_cast<int64_t>(s.u1 - s.u0) * s.r_n * s.chunks, warp, &s.t0, &s.t1);
  return s;
}

// Row r (< 2) of (global) unit u: the unit's row, or for SiLU its gate and up rows, for
// RoPE its NeoX pair (rows h D + i and h D + i + D/2 of unit (head h, i < D/2)).
__device__ __forceinline__ const uint4* weight_row(const Phase& ph, int u, int r) {
  int64_t row = u;
  if (ph.kind == ChainPhase::kRopeStore) {
    const int half = ph.rope.half;
    row = rope_pair_row(u, r, half);
  } else if (ph.kind == ChainPhase::kSiluMul) {
    row += static_cast<int64_t>(r) * ph.n;
  }
  return reinterpret_cast<const uint4*>(ph.w) + row * (ph.k / 8);
}

// The issuing side: walks this warp's items of every phase, skipping empty shares.
struct Cursor {
  int p, t, t1, u, c, r, r_n, chunks, k8;
  const uint4* row0;  // unit u's rows
  const uint4* row1;
};
__device__ __forceinline__ void set_rows(Cursor& cur, const Phase& ph) {
  cur.row0 = weight_row(ph, cur.u, 0);
  cur.row1 = cur.r_n == 2 ? weight_row(ph, cur.u, 1) : cur.row0;
}
__device__ __forceinline__ void enter_phase(Cursor& cur, const Chain& ch, int p, int warp) {
  for (; p < ch.num; ++p) {
    const Phase& ph = ch.ph[p];
    const Share s = share_of(ph, warp);
    if (s.t0 == s.t1) continue;
    const int per_unit = s.r_n * s.chunks;
    const int ul = s.t0 / per_unit, rem = s.t0 - ul * per_unit;
    cur.p = p;
    cur.t = s.t0;
    cur.t1 = s.t1;
    cur.u = s.u0 + ul;
    cur.c = rem / s.r_n;
    cur.r = rem % s.r_n;
    cur.r_n = s.r_n;
    cur.chunks = s.chunks;
    cur.k8 = ph.k / 8;
    set_rows(cur, ph);
    return;
  }
  cur.p = ch.num;
}

// Issues the cursor's next item into `slot` (a commit group either way: the consumer
// counts groups) and advances. kEvictFirst: the copies carry an L2 evict-first policy
// (`policy`, from createpolicy).
template <bool kEvictFirst>
__device__ __forceinline__ void issue(Cursor& cur, const Chain& ch, uint4* slot, int lane, int warp,
                                      unsigned long long policy) {
  if (cur.p < ch.num) {
    const uint4* row = cur.r == 0 ? cur.row0 : cur.row1;
#pragma unroll
    for (int j = 0; j < kVecs; ++j) {
      const int v = cur.c * kChunkVecs + j * 32 + lane;
      const bool valid = v < cur.k8;
      cp_async_16_maybe_policy<kEvictFirst>(slot + j * kThreads, row + (valid ? v : 0), valid, policy);
    }
    ++cur.t;
    if (++cur.r == cur.r_n) {
      cur.r = 0;
      if (++cur.c == cur.chunks) {
        cur.c = 0;
        ++cur.u;
        if (cur.t < cur.t1) set_rows(cur, ch.ph[cur.p]);
      }
    }
    if (cur.t == cur.t1) enter_phase(cur, ch, cur.p + 1, warp);
  }
  cp_async_commit();
}

__device__ __forceinline__ void wait_count(const unsigned long long* counter, unsigned long long target) {
  for (;;) {
    unsigned long long v;
    asm volatile("ld.acquire.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(counter) : "memory");
    if (v >= target) return;
    __nanosleep(32);
  }
}

// Row m of the phase's input (see stage_input).
__device__ void stage_row(uint4* x, const Phase& ph, const Chain& ch, int m, bool norm) {
  const int k8 = ph.k / 8, padded = chunks_of(ph.k) * kChunkVecs;
  const uint4* a4 = reinterpret_cast<const uint4*>(ph.a) + static_cast<int64_t>(m) * k8;
  const bool normed = ph.norm_w != nullptr && norm;
  float ss = 0.0f;
  for (int i = threadIdx.x; i < padded; i += kThreads) {
    const uint4 v = i < k8 ? __ldcg(a4 + i) : make_uint4(0, 0, 0, 0);
    x[i] = v;
    ss += sum_squares8(v);
  }
  if (normed) {
    const float inv = rsqrtf(block_sum(ss) / static_cast<float>(ph.k) + ch.eps);
    const uint4* nw = reinterpret_cast<const uint4*>(ph.norm_w);
    // Each thread normalizes the vectors it staged itself.
    for (int i = threadIdx.x; i < k8; i += kThreads) {
      x[i] = normalize8(x[i], __ldg(nw + i), inv, ch.norm_offset);
    }
  }
}


// The phase's M input rows into x (row m at m * x_vecs; zero up to whole chunks),
// RMSNorm-ed and rounded to bf16 when the phase has a norm (as gemv.cu's
// stage_normalized). Read through L2: other CTAs wrote them during this launch.
template <int M>
__device__ void stage_input(uint4* x_all, const Phase& ph, const Chain& ch, bool norm) {
#pragma unroll 1
  for (int m = 0; m < M; ++m) stage_row(x_all + m * ch.x_vecs, ph, ch, m, norm);
}

// Unit u of batch row m: its epilogue from its dot products (gemv.cu's store_row).
__device__ __forceinline__ void store_unit(const Phase& ph, int u, int m, float a0, float a1) {
  const int64_t o = static_cast<int64_t>(m) * ph.n + u;
  if (ph.kind == ChainPhase::kAccumulate) {
    ph.out[o] = __float2bfloat16_rn(a0 + __bfloat162float(__ldcg(ph.out + o)));
  } else if (ph.kind == ChainPhase::kSiluMul) {
    ph.out[o] = __float2bfloat16_rn(silu_mul_rounded(a0, a1));
  } else {
    rope_store_pair(ph.rope, ph.bias, m, u / ph.rope.half, u % ph.rope.half, a0, a1);
  }
}


// M: batch rows (tokens), 1..kChainMaxRows. kEvictFirst: the weight copies are marked
// evict-first in L2 (decode_chain_evict_first). kNoDots (diagnostics, kSkipDots): each
// item's weights are consumed by an xor instead of the dot products (outputs wrong).
template <int kRing, int M, bool kEvictFirst, bool kNoDots = false>
__global__ void __launch_bounds__(kThreads, 1) decode_chain_kernel(const Chain ch) {
  extern __shared__ __align__(16) uint4 smem[];
  uint4* ring = smem;  // kRing x kVecs x kThreads: vector j of slot s of thread i at [(s kVecs + j) kThreads + i]
  uint4* x = smem + kRing * kVecs * kThreads;  // the phase's M input rows, x_vecs apart
  float* sums = reinterpret_cast<float*>(x + M * ch.x_vecs);  // the CTA's units x rows x M
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;

  stamp(ch, 0);
  if (ch.trace != nullptr && threadIdx.x == 0) {
    unsigned int sm;
    asm volatile("mov.u32 %0, %%smid;" : "=r"(sm));
    ch.trace[blockIdx.x * kChainTraceSlots + kChainTraceSmSlot] = sm;
  }
  // Under PDL (decode_pdl_enabled) the next kernel may launch now: its CTAs take the SMs
  // this grid leaves, and wait for its completion before reading what it wrote.
  pdl_launch_dependents();
  Cursor cur;
  enter_phase(cur, ch, 0, warp);
  unsigned long long policy = 0;
  if constexpr (kEvictFirst) policy = l2_evict_first_policy();
  int issue_slot = 0, slot = 0;
  for (int i = 0; i < kRing - 1; ++i) {
    issue<kEvictFirst>(cur, ch, ring + issue_slot * kVecs * kThreads + threadIdx.x, lane, warp, policy);
    issue_slot = issue_slot + 1 == kRing ? 0 : issue_slot + 1;
  }
  // The weights depend on nothing; the first phase's input (and the counters as the
  // previous chain left them) on the kernels before.
  pdl_wait();
  // Thread 0's base for each counter it waits on (phases 0 .. num - 2): the whole
  // multiple of the grid size below what it reads now. Other CTAs of this launch may
  // have counted already, but not all of them: this one has not.
  __shared__ unsigned long long base[kChainMaxPhases];
  if (threadIdx.x == 0) {
    for (int p = 0; p + 1 < ch.num; ++p) {
      unsigned long long v;
      asm volatile("ld.relaxed.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(ch.counters + p) : "memory");
      base[p] = v / gridDim.x * gridDim.x;
    }
  }

  for (int p = 0; p < ch.num; ++p) {
    const Phase& ph = ch.ph[p];
    const Share s = share_of(ph, warp);
    stamp(ch, 2 + 4 * p);
    if (p > 0 && threadIdx.x == 0 && !(ch.unsynced & kSkipWaits)) wait_count(&ch.counters[p - 1], base[p - 1] + gridDim.x);
    if (!(ch.unsynced & kSkipBarriers)) __syncthreads();  // the previous phase's outputs are all stored; x and sums are free
    if (!(ch.unsynced & kSkipStaging)) stage_input<M>(x, ph, ch, !(ch.unsynced & kSkipNorm));
    for (int i = threadIdx.x; i < (s.u1 - s.u0) * s.r_n * M; i += kThreads) sums[i] = 0.0f;
    if (!(ch.unsynced & kSkipBarriers)) __syncthreads();
    stamp(ch, 3 + 4 * p);

    const int per_unit = s.r_n * s.chunks;
    int ul = s.t0 / per_unit, rem = s.t0 - ul * per_unit;
    int c = rem / s.r_n, r = rem % s.r_n;
    float acc0[M], acc1[M];
#pragma unroll
    for (int m = 0; m < M; ++m) acc0[m] = acc1[m] = 0.0f;
    // M = 1: the chunk's input vectors stay in registers; more rows read shared memory.
    uint4 xv[kVecs];
    auto load_x = [&] {
      if constexpr (M == 1) {
#pragma unroll
        for (int j = 0; j < kVecs; ++j) xv[j] = x[c * kChunkVecs + j * 32 + lane];
      }
    };
    load_x();
    // sums[(unit R + r) M + m]: unit's row r, batch row m.
    auto flush = [&](int unit) {
#pragma unroll
      for (int m = 0; m < M; ++m) {
        acc0[m] = warp_sum(acc0[m]);
        if (s.r_n == 2) acc1[m] = warp_sum(acc1[m]);
        if (lane == 0) {
          atomicAdd(&sums[unit * s.r_n * M + m], acc0[m]);
          if (s.r_n == 2) atomicAdd(&sums[(unit * s.r_n + 1) * M + m], acc1[m]);
        }
        acc0[m] = acc1[m] = 0.0f;
      }
    };
    for (int t = s.t0; t < s.t1; ++t) {
      issue<kEvictFirst>(cur, ch, ring + issue_slot * kVecs * kThreads + threadIdx.x, lane, warp, policy);
      issue_slot = issue_slot + 1 == kRing ? 0 : issue_slot + 1;
      cp_async_wait<kRing - 1>();  // this lane's copies of item t have landed
      float d[M];
      if constexpr (kNoDots) {
        uint32_t h = 0;
#pragma unroll
        for (int j = 0; j < kVecs; ++j) {
          const uint4 w = ring[(slot * kVecs + j) * kThreads + threadIdx.x];
          h ^= w.x ^ w.y ^ w.z ^ w.w;
        }
#pragma unroll
        for (int m = 0; m < M; ++m) d[m] = __uint_as_float(h & 0x3f800000u);
      } else if constexpr (M == 1) {
        d[0] = 0.0f;
#pragma unroll
        for (int j = 0; j < kVecs; ++j) d[0] += dot8(ring[(slot * kVecs + j) * kThreads + threadIdx.x], xv[j]);
      } else {
#pragma unroll
        for (int m = 0; m < M; ++m) d[m] = 0.0f;
#pragma unroll
        for (int j = 0; j < kVecs; ++j) {
          const uint4 w = ring[(slot * kVecs + j) * kThreads + threadIdx.x];
#pragma unroll
          for (int m = 0; m < M; ++m) d[m] += dot8(w, x[m * ch.x_vecs + c * kChunkVecs + j * 32 + lane]);
        }
      }
      slot = slot + 1 == kRing ? 0 : slot + 1;
      if (r == 0) {
#pragma unroll
        for (int m = 0; m < M; ++m) acc0[m] += d[m];
      } else {
#pragma unroll
        for (int m = 0; m < M; ++m) acc1[m] += d[m];
      }
      if (++r == s.r_n) {
        r = 0;
        if (++c == s.chunks) {
          c = 0;
          flush(ul);
          ++ul;
        }
        if (t + 1 < s.t1) load_x();
      }
    }
    if (s.t0 < s.t1 && (c != 0 || r != 0)) flush(ul);  // the share ended inside a unit
    stamp_warp(ch, p, warp, lane);
    if (!(ch.unsynced & kSkipBarriers)) __syncthreads();
    stamp(ch, 4 + 4 * p);

    for (int i = threadIdx.x; !(ch.unsynced & kSkipStores) && i < (s.u1 - s.u0) * M; i += kThreads) {
      const int u = i / M, m = i - u * M;
      const float a0 = sums[u * s.r_n * M + m], a1 = s.r_n == 2 ? sums[(u * s.r_n + 1) * M + m] : 0.0f;
      store_unit(ph, s.u0 + u, m, a0, a1);
    }
    // Nothing in this launch reads the last phase's outputs (the next kernel waits for the
    // whole grid): it is neither fenced nor counted.
    if (p + 1 < ch.num && !(ch.unsynced & kSkipCounts)) {
      if (threadIdx.x < (s.u1 - s.u0) * M) __threadfence();  // this thread's stores before the CTA's arrival below
      __syncthreads();
      if (threadIdx.x == 0) atomicAdd(&ch.counters[p], 1ull);
    }
    stamp(ch, 5 + 4 * p);
  }

  cp_async_wait<0>();
  stamp(ch, 1);
}

std::atomic<bool> g_chain_on{env_int("RADIX_DECODE_CHAIN", 0, 1, 1) == 1};
// Trace: launches record into consecutive blocks of the buffer, wrapping after `launches`.
std::atomic<unsigned long long*> g_trace_buf{nullptr};
std::atomic<int> g_trace_launches{0};
std::atomic<unsigned> g_trace_next{0};
std::atomic<int> g_unsynced{0};
// Evict-first weight copies (decode_chain.h), on unless RADIX_DECODE_CHAIN_EVICT_FIRST=0.
EnvSwitch& evict_first_switch() {
  static EnvSwitch s("RADIX_DECODE_CHAIN_EVICT_FIRST", "0", EnvSwitch::DefaultOn{});
  return s;
}
std::atomic<int> g_chain_max_rows{
    static_cast<int>(env_int("RADIX_DECODE_CHAIN_MAX_ROWS", 1, kChainMaxRows, kChainMaxRows))};

// The most items (of kVecs vectors per lane) in flight, 6, 4 or 2: batch 1 on H200 took
// 4.13 / 4.16 / 4.25 ms per step (docs/perf.md, 2026-11-30). RADIX_DECODE_CHAIN_RING caps it.
int max_ring_depth() {
  static const int depth = static_cast<int>(env_int("RADIX_DECODE_CHAIN_RING", 2, 6, 6));
  return depth;
}

bool bf16_2d(const Tensor* t) {
  return t != nullptr && t->ndim() == 2 && t->dtype() == DType::kBF16 && aligned16(t->data());
}

// The units of a phase and whether its tensors fit the kernel (M = a's rows).
bool phase_ok(const ChainPhase& c, int64_t* units) {
  if (!bf16_2d(c.a) || !bf16_2d(c.w) || c.a->size(0) < 1 || c.a->size(0) > kChainMaxRows) return false;
  const int64_t rows = c.a->size(0);
  const int64_t k = c.a->size(1);
  if (k % 8 != 0 || c.w->size(1) != k || k > 0x7fffffff) return false;
  const bool normed = c.kind != ChainPhase::kAccumulate;
  if (normed != (c.norm_weight != nullptr)) return false;
  if (normed && (c.norm_weight->dtype() != DType::kBF16 || c.norm_weight->numel() != k ||
                 !aligned16(c.norm_weight->data()))) {
    return false;
  }
  if (c.kind != ChainPhase::kRopeStore && c.bias != nullptr) return false;
  switch (c.kind) {
    case ChainPhase::kAccumulate:
    case ChainPhase::kSiluMul: {
      const int64_t n = c.kind == ChainPhase::kSiluMul ? c.w->size(0) / 2 : c.w->size(0);
      if (c.kind == ChainPhase::kSiluMul && c.w->size(0) % 2 != 0) return false;
      if (c.out == nullptr || c.out->dtype() != DType::kBF16 || c.out->ndim() != 2 || c.out->size(0) != rows ||
          c.out->size(1) != n) {
        return false;
      }
      *units = n;
      return true;
    }
    case ChainPhase::kRopeStore: {
      if (c.rope == nullptr) return false;
      const GemvRope& r = *c.rope;
      const Tensor& q = *r.q_out;
      if (q.ndim() != 3 || q.dtype() != DType::kBF16 || q.size(0) != rows || q.size(2) % 2 != 0 ||
          r.k_cache->dtype() != DType::kBF16 || r.v_cache->shape() != r.k_cache->shape() ||
          r.v_cache->dtype() != DType::kBF16 || r.k_cache->ndim() != 3 || r.positions->dtype() != DType::kI32 ||
          r.slots->dtype() != DType::kI32 ||
          r.k_cache->size(2) != q.size(2) || r.cos_sin->dtype() != DType::kF32 || r.cos_sin->size(1) != q.size(2) ||
          r.positions->numel() != rows || r.slots->numel() != rows ||
          c.w->size(0) != (q.size(1) + 2 * r.k_cache->size(1)) * q.size(2)) {
        return false;
      }
      if (c.bias != nullptr && (c.bias->dtype() != DType::kBF16 || c.bias->numel() != c.w->size(0))) return false;
      *units = c.w->size(0) / 2;
      return true;
    }
  }
  return false;
}

// What a launch needs, worked out once from the phases: their units, the rows, the
// input-row region (16-byte vectors per row) and the deepest ring that fits.
struct Plan {
  int64_t units[kChainMaxPhases] = {};
  int64_t rows = 0;
  int64_t x_vecs = 0;  // per row: the widest input in whole chunks
  int64_t sums = 0;    // per-unit sums per CTA and row (2 rows per unit at most)
  int ring = 0;
  size_t smem = 0;
};

size_t smem_bytes(const Plan& plan, int ring) {
  return static_cast<size_t>(ring * kVecs * kThreads + plan.rows * plan.x_vecs) * 16 +
         static_cast<size_t>(plan.sums * plan.rows) * sizeof(float);
}

// The plan for these phases, or false when the chain does not take them: the switches,
// each phase's tensors, one row count (at most decode_chain_max_rows()) and a ring (6, 4
// or 2 items, the deepest whose shared memory fits beside the input rows).
bool make_plan(const ChainPhase* phases, int n, Plan* plan) {
  if (!decode_chain_enabled() || n < 1 || n > kChainMaxPhases) return false;
  plan->rows = phases[0].a != nullptr ? phases[0].a->size(0) : 0;
  if (plan->rows > decode_chain_max_rows()) return false;
  const int64_t ctas = num_sms();
  for (int i = 0; i < n; ++i) {
    int64_t& units = plan->units[i];
    if (!phase_ok(phases[i], &units) || units < 1 || units > 0x3fffffff || phases[i].a->size(0) != plan->rows) {
      return false;
    }
    const int64_t k = phases[i].a->size(1);
    plan->x_vecs = std::max<int64_t>(plan->x_vecs, (k / 8 + kChunkVecs - 1) / kChunkVecs * kChunkVecs);
    plan->sums = std::max<int64_t>(plan->sums, (units + ctas - 1) / ctas * 2);
  }
  for (int ring : {6, 4, 2}) {
    if (ring <= max_ring_depth() && smem_bytes(*plan, ring) <= static_cast<size_t>(kMaxSmem)) {
      plan->ring = ring;
      plan->smem = smem_bytes(*plan, ring);
      return true;
    }
  }
  return false;
}

template <int kRing, int M, bool kEvictFirst, bool kNoDots = false>
Status launch(const Chain& ch, size_t smem, cudaStream_t stream) {
  auto kernel = decode_chain_kernel<kRing, M, kEvictFirst, kNoDots>;
  static const cudaError_t attr = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kMaxSmem);
  if (attr != cudaSuccess) return cuda_status(attr, "decode chain: shared memory attribute");
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(num_sms());
  cfg.blockDim = dim3(kThreads);
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attrs[2]{};
  int n = 0;
  attrs[n].id = cudaLaunchAttributeCooperative;  // every CTA resident: they wait on each other
  attrs[n++].val.cooperative = 1;
  if (pdl_enabled() || decode_pdl_enabled()) {
    // The cooperative launch may start beside its predecessor: its CTAs take SMs as the
    // predecessor's leave (as fast as a plain launch with PDL: docs/perf.md, session 10).
    attrs[n].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attrs[n++].val.programmaticStreamSerializationAllowed = 1;
  }
  cfg.attrs = attrs;
  cfg.numAttrs = n;
  return cuda_status(cudaLaunchKernelEx(&cfg, kernel, ch), "decode chain");
}

// The instantiation for M rows.
template <int kRing>
Status launch_rows(const Chain& ch, size_t smem, cudaStream_t stream, int rows) {
  static_assert(kChainMaxRows == 2);
  if (kRing == 6 && rows == 1 && (ch.unsynced & kSkipDots) != 0) return launch<kRing, 1, true, true>(ch, smem, stream);
  if (decode_chain_evict_first()) {
    return rows == 1 ? launch<kRing, 1, true>(ch, smem, stream) : launch<kRing, 2, true>(ch, smem, stream);
  }
  return rows == 1 ? launch<kRing, 1, false>(ch, smem, stream) : launch<kRing, 2, false>(ch, smem, stream);
}

}  // namespace

bool decode_chain_enabled() { return g_chain_on.load(std::memory_order_relaxed); }
void set_decode_chain_trace(unsigned long long* buffer, int launches) {
  g_trace_buf.store(launches > 0 ? buffer : nullptr, std::memory_order_relaxed);
  g_trace_launches.store(launches, std::memory_order_relaxed);
  g_trace_next.store(0u, std::memory_order_relaxed);
}
void set_decode_chain_unsynced(int mode) { g_unsynced.store(mode, std::memory_order_relaxed); }
int decode_chain_max_rows() { return g_chain_max_rows.load(std::memory_order_relaxed); }
void set_decode_chain_max_rows(int rows) {
  g_chain_max_rows.store(std::clamp(rows, 1, kChainMaxRows), std::memory_order_relaxed);
}
void set_decode_chain_enabled(bool on) { g_chain_on.store(on, std::memory_order_relaxed); }
bool decode_chain_evict_first() { return evict_first_switch().get(); }
void set_decode_chain_evict_first(bool on) { evict_first_switch().set(on); }

bool decode_chain_applies(const ChainPhase* phases, int n) {
  Plan plan;
  return make_plan(phases, n, &plan);
}

Status decode_chain(const ChainPhase* phases, int n, float eps, float norm_offset, void* stream,
                    unsigned long long* counters, bool* launched) {
  Plan plan;
  const bool ok = counters != nullptr && make_plan(phases, n, &plan);
  if (launched != nullptr) *launched = ok;
  if (!ok) return launched != nullptr ? Status::ok() : invalid_argument("decode chain: phases not supported");
  Chain ch{};
  ch.num = n;
  ch.eps = eps;
  ch.norm_offset = norm_offset;
  for (int i = 0; i < n; ++i) {
    const ChainPhase& c = phases[i];
    Phase& p = ch.ph[i];
    p.kind = c.kind;
    p.n = static_cast<int>(plan.units[i]);
    p.k = static_cast<int>(c.a->size(1));
    p.w = c.w->data_as<const bf16>();
    p.a = c.a->data_as<const bf16>();
    p.norm_w = c.norm_weight != nullptr ? c.norm_weight->data_as<const bf16>() : nullptr;
    p.out = c.out != nullptr ? c.out->data_as<bf16>() : nullptr;
    p.bias = c.bias != nullptr ? c.bias->data_as<const bf16>() : nullptr;
    if (c.rope != nullptr) p.rope = rope_epilogue(*c.rope);
  }
  ch.x_vecs = static_cast<int>(plan.x_vecs);
  ch.counters = counters;
  ch.unsynced = g_unsynced.load(std::memory_order_relaxed);
  if (unsigned long long* buf = g_trace_buf.load(std::memory_order_relaxed); buf != nullptr) {
    const int launch = static_cast<int>(g_trace_next.fetch_add(1, std::memory_order_relaxed) %
                                        static_cast<unsigned>(std::max(1, g_trace_launches.load(std::memory_order_relaxed))));
    ch.trace = buf + static_cast<int64_t>(launch) * num_sms() * kChainTraceSlots;
  }
  const int rows = static_cast<int>(plan.rows);
  auto st = static_cast<cudaStream_t>(stream);
  switch (plan.ring) {
    case 2: return launch_rows<2>(ch, plan.smem, st, rows);
    case 4: return launch_rows<4>(ch, plan.smem, st, rows);
    default: return launch_rows<6>(ch, plan.smem, st, rows);
  }
}

}  // namespace radix::cuda
