// Small-batch GEMV for decode: out[M, N] = a[M, K] @ w[N, K]^T (+ bias) for M <= 4,
// bf16 inputs, f32 accumulation, bf16 or f32 output. Decode GEMMs are weight-bandwidth
// bound; cuBLASLt leaves narrow shapes (N = 4096-6144 at K = 4096) at 60-70% of the
// streaming-read rate, because too few CTAs keep too few bytes in flight. Here one warp
// owns one output row n: its lanes stream w[n, :] with 16-byte loads that bypass L1 (read
// once) and dot them with the matching 16 bytes of each a row (tiny, L1/L2- or
// shared-memory-resident); a warp reduction finishes the row. 8 warps per CTA, four
// loads in flight per lane; CTAs stride over rows when the grid is capped.
//
// The decode layer's neighbours are fused in (GemvFusion):
//   norm:       a is RMSNorm-ed first (each CTA stages the normalized rows, rounded to
//               bf16 as the rms_norm op stores them, in shared memory) — no rms_norm kernel;
//   accumulate: out (the residual stream) += a @ w^T, one rounding — no add kernel;
//   silu_mul:   w = [gate; up] ([2N, K]); a warp computes gate row n and up row n, rounds
//               both to bf16 (as the gate_up buffer would) and writes silu(g) * u — no
//               silu_and_mul kernel and no gate_up round trip.
// Launched with programmatic dependent launch: each warp's first batch of weights is
// prefetched into L2 before waiting for the previous kernel, which overlaps its tail.
// The grid is one wave (occupancy query); CTAs stride over the rows beyond it.
#include <algorithm>
#include <atomic>

#include "kernels/cuda/common/cuda_utils.cuh"
#include "kernels/cuda/common/env_switch.h"
#include "kernels/cuda/common/mma.cuh"  // load_stream
#include "kernels/cuda/gemm/gemv.h"
#include "kernels/cuda/gemm/gemv_math.cuh"
#include "kernels/cuda/gemm/rope_epilogue.cuh"

namespace radix::cuda {
namespace {

constexpr int kWarpsPerCta = 8;
constexpr int kThreads = kWarpsPerCta * 32;
constexpr int kLoadsInFlight = 4;  // 16-byte weight loads per lane per batch (8 measured slower)
constexpr int kMaxStagedBytes = 48 * 1024;  // normalized a rows in shared memory

enum class Epi { kStore, kAccumulate, kSiluMul, kRopeStore };

struct Args {
  void* out;            // [M, n]
  const bf16* a;        // [M, k]
  const bf16* w;        // [n, k]; kSiluMul: [2n, k] (gate rows, then up rows)
  const bf16* bias;     // [n] or nullptr (kStore only)
  const bf16* norm_w;   // [k] (kNorm only)
  float eps;
  float norm_offset;
  int n;                // output rows; kRopeStore: row pairs, (Hq + 2 Hk) D / 2
  int k;
  int prefetch_vecs;    // 16-byte vectors of each warp's first row(s) pulled into L2 before pdl_wait
  // kRopeStore: w is the fused qkv weight [(Hq + 2 Hk) D, k]; pair n = (head h, i < D/2)
  // covers rows h D + i and h D + i + D/2 (NeoX rotation partners).
  RopeEpilogue rope;
};

// One batch: L loads from each of the R weight rows at vectors j, j + 32, ... (zero past k8).
template <int R, int L>
__device__ __forceinline__ void load_batch(uint4 (&wv)[R][L], const uint4* const (&rows)[R], int j, int k8) {
#pragma unroll
  for (int r = 0; r < R; ++r) {
#pragma unroll
    for (int u = 0; u < L; ++u) {
      const int idx = j + 32 * u;
      wv[r][u] = idx < k8 ? load_stream(rows[r] + idx) : make_uint4(0, 0, 0, 0);
    }
  }
}

// Stages the M rows of a, RMSNorm-ed and rounded to bf16, in shared memory.
template <int M, int kNumThreads>
__device__ void stage_normalized(uint4* staged, const Args& p, int k8) {
  const uint4* src = reinterpret_cast<const uint4*>(p.a);
  const uint4* nw = reinterpret_cast<const uint4*>(p.norm_w);
  float inv[M];
#pragma unroll
  for (int m = 0; m < M; ++m) {
    float ss = 0.0f;
    for (int i = threadIdx.x; i < k8; i += kNumThreads) {
      const uint4 v = src[m * k8 + i];
      staged[m * k8 + i] = v;
      ss += sum_squares8(v);
    }
    ss = block_sum(ss);
    inv[m] = rsqrtf(ss / static_cast<float>(p.k) + p.eps);
  }
  // Each thread normalizes the vectors it staged itself (no barrier needed before).
#pragma unroll
  for (int m = 0; m < M; ++m) {
    for (int i = threadIdx.x; i < k8; i += kNumThreads) {
      uint4 v = staged[m * k8 + i];
      const uint4 g = nw[i];
      v = normalize8(v, g, inv[m], p.norm_offset);
      staged[m * k8 + i] = v;
    }
  }
  __syncthreads();
}

// Weight row q (< 2) of output unit `unit`: row unit (+ n for the up half of kSiluMul);
// kRopeStore's unit (head h, i < D/2) reads rows h D + i and h D + i + D/2.
template <Epi kEpi>
__device__ __forceinline__ const uint4* weight_row(const Args& p, const uint4* w4, int unit, int q, int k8) {
  int64_t r = unit;
  if constexpr (kEpi == Epi::kRopeStore) {
    const int half = p.rope.half;
    r = rope_pair_row(unit, q, half);
  } else if constexpr (kEpi == Epi::kSiluMul) {
    r += static_cast<int64_t>(q) * p.n;
  }
  return w4 + r * k8;
}

// Lane 0's epilogue for output row `row` (a row pair for kSiluMul / kRopeStore) of
// batch row m, given the warp-summed dot products.
template <int M, typename Out, Epi kEpi, int R>
__device__ __forceinline__ void store_row(const Args& p, int row, int m, const float (&acc)[R][M]) {
  const int64_t o = static_cast<int64_t>(m) * p.n + row;
  Out* out = static_cast<Out*>(p.out);
  if constexpr (kEpi == Epi::kStore) {
    float v = acc[0][m];
    if (p.bias != nullptr) v += __bfloat162float(p.bias[row]);
    out[o] = from_f32<Out>(v);
  } else if constexpr (kEpi == Epi::kAccumulate) {
    out[o] = from_f32<Out>(acc[0][m] + to_f32(out[o]));
  } else if constexpr (kEpi == Epi::kSiluMul) {
    out[o] = from_f32<Out>(silu_mul_rounded(acc[0][m], acc[1][m]));
  } else {
    rope_store_pair(p.rope, p.bias, m, row / p.rope.half, row % p.rope.half, acc[0][m], acc[R - 1][m]);
  }
}

template <int M, typename Out, bool kNorm, Epi kEpi>
__global__ void __launch_bounds__(kThreads) gemv_kernel(const Args p) {
  constexpr int R = kEpi == Epi::kSiluMul || kEpi == Epi::kRopeStore ? 2 : 1;  // weight rows per warp
  constexpr int L = kLoadsInFlight / R;             // loads per row per batch
  constexpr int kStep = 32 * L;                     // vectors per row per batch
  extern __shared__ uint4 staged[];
  const int lane = threadIdx.x & 31;
  const int k8 = p.k / 8;
  const int stride = gridDim.x * kWarpsPerCta;
  int row = blockIdx.x * kWarpsPerCta + (threadIdx.x >> 5);
  const uint4* w4 = reinterpret_cast<const uint4*>(p.w);
  auto row_ptrs = [&](int r, const uint4* (&rows)[R]) {
#pragma unroll
    for (int q = 0; q < R; ++q) rows[q] = weight_row<kEpi>(p, w4, r, q, k8);
  };

  // Weights do not depend on the previous kernel: start pulling this warp's first batch
  // (p.prefetch_vecs) into L2 before waiting for it (a prefetch holds no registers;
  // holding the loaded batch did: 58 instead of 38 per thread at M = 1, 4 instead of 6
  // CTAs per SM). One prefetch per 128-byte line.
  if (row < p.n) {
    const uint4* rows[R];
    row_ptrs(row, rows);
#pragma unroll
    for (int r = 0; r < R; ++r) {
      for (int v = 8 * lane; v < p.prefetch_vecs; v += 8 * 32) {
        asm volatile("prefetch.global.L2 [%0];" ::"l"(rows[r] + v));
      }
    }
  }
  pdl_wait();
  pdl_launch_dependents();

  const uint4* a4 = reinterpret_cast<const uint4*>(p.a);
  if constexpr (kNorm) {
    stage_normalized<M, kThreads>(staged, p, k8);
    a4 = staged;
  }

  for (; row < p.n; row += stride) {
    const uint4* rows[R];
    row_ptrs(row, rows);
    float acc[R][M] = {};
    for (int j = lane; j < k8; j += kStep) {
      uint4 wv[R][L];
      load_batch<R, L>(wv, rows, j, k8);
#pragma unroll
      for (int u = 0; u < L; ++u) {
        const int idx = j + 32 * u;
        if (idx >= k8) break;
#pragma unroll
        for (int m = 0; m < M; ++m) {
          uint4 av;
          if constexpr (kNorm) {
            av = a4[m * k8 + idx];
          } else {
            av = __ldg(a4 + m * k8 + idx);
          }
#pragma unroll
          for (int r = 0; r < R; ++r) acc[r][m] += dot8(wv[r][u], av);
        }
      }
    }
#pragma unroll
    for (int m = 0; m < M; ++m) {
#pragma unroll
      for (int r = 0; r < R; ++r) acc[r][m] = warp_sum(acc[r][m]);
      if (lane != 0) continue;
      store_row<M, Out, kEpi, R>(p, row, m, acc);
    }
  }
}

// ---- Bulk-copy variant (RADIX_GEMV=bulk) ----
// Register-held loads cap the bytes a warp keeps in flight; at N = 4096-6144 the grid is
// only a few warps per SM and the weights arrive too slowly. Here one producer warp per
// CTA streams the CTA's weight rows into shared memory with cp.async.bulk (the TMA's
// 1-D copy: no registers, completion counted on an mbarrier), kBulkStageBytes per stage,
// several stages ahead; the first stages are issued before the PDL wait, so the copy
// engine runs while the previous kernel finishes. Eight consumer warps each own one
// output unit (row, or row pair) of a group of eight and dot their staged slice of it
// with a. The CTA's units are a contiguous 1/grid share of N; a stage holds kChunk
// columns of each of the group's weight rows.
constexpr int kBulkConsumerWarps = 8;
constexpr int kBulkThreads = (kBulkConsumerWarps + 1) * 32;
constexpr int kBulkStageBytes = 32 * 1024;
constexpr int kBulkMaxStages = 4;
// Dynamic shared memory per CTA, chosen so that the next kernel's CTA (the next GEMV,
// launched early by PDL) fits on the SM beside this one.
constexpr int kBulkSmemBudget = 104 * 1024;

__device__ __forceinline__ uint32_t smem_u32(const void* ptr) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(ptr));
}
__device__ __forceinline__ void mbar_init(uint64_t* bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_u32(bar)), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_expect_tx(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_u32(bar)), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(smem_u32(bar)) : "memory");
}
// Waits until the barrier's phase of this parity has completed.
__device__ __forceinline__ void mbar_wait(uint64_t* bar, uint32_t parity) {
  asm volatile(
      "{\n"
      ".reg .pred done;\n"
      "WAIT_%=:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT_%=;\n"
      "}\n" ::"r"(smem_u32(bar)),
      "r"(parity)
      : "memory");
}
__device__ __forceinline__ uint64_t evict_first_policy() {
  uint64_t policy;
  asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(policy));
  return policy;
}
// bytes (a multiple of 16, both addresses 16-byte aligned) from global to shared memory;
// completion is counted on bar.
__device__ __forceinline__ void bulk_load(void* dst, const void* src, uint32_t bytes, uint64_t* bar, uint64_t policy) {
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes.L2::cache_hint [%0], [%1], %2, [%3], %4;" ::"r"(
          smem_u32(dst)),
      "l"(src), "r"(bytes), "r"(smem_u32(bar)), "l"(policy)
      : "memory");
}

// ---- Pieces of the bulk-copy kernel (gemv_bulk_kernel) ----
// A CTA's units are a contiguous share [u0, u1) of the op's; load i of the CTA is its
// group g of kBulkConsumerWarps units and column chunk c (i = g * chunks + c), staged in
// ring stage i % stages: R weight rows per unit, kChunk8<R> 16-byte vectors per row.
template <int R>
constexpr int kBulkChunk8 = kBulkStageBytes / (kBulkConsumerWarps * R * 16);
constexpr int kBulkStageVecs = kBulkStageBytes / 16;

__device__ __forceinline__ void init_ring(uint64_t* full, uint64_t* empty, int stages) {
  if (threadIdx.x == 0) {
    for (int s = 0; s < stages; ++s) {
      mbar_init(&full[s], 1);
      mbar_init(&empty[s], kBulkConsumerWarps);
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();
}

// Producer warp: copies chunk c of units [first, min(first + kBulkConsumerWarps, end)) into
// `stage`, completion counted on `bar`; lane l < units * R copies row l % R of unit l / R.
template <int R, Epi kEpi>
__device__ __forceinline__ void issue_stage(const Args& p, uint4* stage, uint64_t* bar, int first, int end, int c,
                                            int k8, int lane, uint64_t policy) {
  constexpr int kChunk8 = kBulkChunk8<R>;
  const int units = min(kBulkConsumerWarps, end - first);
  const int len8 = min(kChunk8, k8 - c * kChunk8);
  const uint32_t bytes = static_cast<uint32_t>(len8) * 16;
  if (lane == 0) mbar_expect_tx(bar, bytes * units * R);
  __syncwarp();
  if (lane < units * R) {
    const int w = lane / R, q = lane % R;
    const uint4* src = weight_row<kEpi>(p, reinterpret_cast<const uint4*>(p.w), first + w, q, k8) + c * kChunk8;
    bulk_load(stage + (w * R + q) * kChunk8, src, bytes, bar, policy);
  }
}

// Producer warp, after the first `next` loads: each further load once the consumers have
// released its stage.
template <typename Issue>
__device__ __forceinline__ void produce(int next, int loads, int stages, uint64_t* empty, Issue issue) {
  for (; next < loads; ++next) {
    const int s = next % stages;
    mbar_wait(&empty[s], (next / stages - 1) & 1);  // the consumers are done with its last use
    issue(next);
  }
}

// Consumer warp `warp`: the CTA's `count` loads of one GEMV starting at ring load `first`,
// units [u0, u1) of R rows with kEpi's epilogue (store_row) on p; a_at(m, v) is 16-byte
// vector v of row m of the activations.
template <int M, int R, typename Out, Epi kEpi, typename AAt>
__device__ __forceinline__ void consume(const Args& p, const uint4* stage_base, uint64_t* full, uint64_t* empty,
                                        int stages, int first, int count, int chunks, int k8, int u0, int u1, int warp,
                                        int lane, AAt a_at) {
  constexpr int kChunk8 = kBulkChunk8<R>;
  float acc[R][M] = {};
  for (int i = 0; i < count; ++i) {
    const int li = first + i;
    const int s = li % stages, g = i / chunks, c = i - g * chunks;
    const int unit = u0 + g * kBulkConsumerWarps + warp;
    const int len8 = min(kChunk8, k8 - c * kChunk8);
    mbar_wait(&full[s], (li / stages) & 1);
    if (unit < u1) {
      const uint4* ws = stage_base + s * kBulkStageVecs + warp * R * kChunk8;
#pragma unroll 4
      for (int j = lane; j < len8; j += 32) {
        uint4 wv[R];
#pragma unroll
        for (int r = 0; r < R; ++r) wv[r] = ws[r * kChunk8 + j];
#pragma unroll
        for (int m = 0; m < M; ++m) {
          const uint4 x = a_at(m, c * kChunk8 + j);
#pragma unroll
          for (int r = 0; r < R; ++r) acc[r][m] += dot8(wv[r], x);
        }
      }
    }
    __syncwarp();
    if (lane == 0) mbar_arrive(&empty[s]);
    if (c == chunks - 1) {
      if (unit < u1) {
#pragma unroll
        for (int m = 0; m < M; ++m) {
#pragma unroll
          for (int r = 0; r < R; ++r) acc[r][m] = warp_sum(acc[r][m]);
          if (lane == 0) store_row<M, Out, kEpi, R>(p, unit, m, acc);
        }
      }
#pragma unroll
      for (int r = 0; r < R; ++r) {
#pragma unroll
        for (int m = 0; m < M; ++m) acc[r][m] = 0.0f;
      }
    }
  }
}

template <int M, typename Out, bool kNorm, Epi kEpi>
__global__ void __launch_bounds__(kBulkThreads) gemv_bulk_kernel(const Args p, const int stages) {
  constexpr int R = kEpi == Epi::kSiluMul || kEpi == Epi::kRopeStore ? 2 : 1;  // weight rows per unit
  __shared__ __align__(8) uint64_t full[kBulkMaxStages];
  __shared__ __align__(8) uint64_t empty[kBulkMaxStages];
  extern __shared__ __align__(128) uint4 smem[];
  const int k8 = p.k / 8;
  uint4* staged = smem;                             // kNorm: the M normalized rows of a
  uint4* stage_base = smem + (kNorm ? M * k8 : 0);  // stages x kBulkStageVecs
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int u0 = static_cast<int>(static_cast<int64_t>(p.n) * blockIdx.x / gridDim.x);
  const int u1 = static_cast<int>(static_cast<int64_t>(p.n) * (blockIdx.x + 1) / gridDim.x);
  const int chunks = (k8 + kBulkChunk8<R> - 1) / kBulkChunk8<R>;
  const int loads = (u1 - u0 + kBulkConsumerWarps - 1) / kBulkConsumerWarps * chunks;
  const bool producer = warp == kBulkConsumerWarps;
  init_ring(full, empty, stages);

  const uint64_t policy = producer ? evict_first_policy() : 0;  // weights are read once
  auto issue = [=](int i) {
    const int s = i % stages, g = i / chunks;
    issue_stage<R, kEpi>(p, stage_base + s * kBulkStageVecs, &full[s], u0 + g * kBulkConsumerWarps, u1,
                         i - g * chunks, k8, lane, policy);
  };
  int next = 0;
  if (producer) {
    // Weights do not depend on the previous kernel: fill the pipeline before waiting.
    for (const int prologue = min(stages, loads); next < prologue; ++next) issue(next);
  }
  pdl_wait();
  pdl_launch_dependents();

  if constexpr (kNorm) stage_normalized<M, kBulkThreads>(staged, p, k8);
  if (producer) {
    produce(next, loads, stages, empty, issue);
    return;
  }
  const uint4* a4 = reinterpret_cast<const uint4*>(p.a);
  consume<M, R, Out, kEpi>(p, stage_base, full, empty, stages, 0, loads, chunks, k8, u0, u1, warp, lane,
                           [=](int m, int v) {
                             if constexpr (kNorm) {
                               return staged[m * k8 + v];
                             } else {
                               return __ldg(a4 + m * k8 + v);
                             }
                           });
}

template <int M, typename Out, bool kNorm, Epi kEpi>
Status launch_one(const Args& p, cudaStream_t stream) {
  const size_t staged = kNorm ? static_cast<size_t>(M) * static_cast<size_t>(p.k) * sizeof(bf16) : 0;
  if (gemv_bulk_enabled()) {
    auto kernel = gemv_bulk_kernel<M, Out, kNorm, kEpi>;
    static const cudaError_t attr = cudaFuncSetAttribute(
        kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kMaxStagedBytes + kBulkMaxStages * kBulkStageBytes);
    if (attr != cudaSuccess) return cuda_status(attr, "gemv: shared memory attribute");
    const int stages = std::clamp(static_cast<int>((kBulkSmemBudget - static_cast<int>(staged)) / kBulkStageBytes), 2,
                                  kBulkMaxStages);
    const int grid = std::min(ceil_div(p.n, kBulkConsumerWarps), num_sms());
    return cuda_status(launch_pdl(kernel, dim3(grid), dim3(kBulkThreads), staged + static_cast<size_t>(stages) * kBulkStageBytes,
                                  stream, p, stages),
                       "gemv");
  }
  auto kernel = gemv_kernel<M, Out, kNorm, kEpi>;
  static std::atomic<int64_t> occupancy{-1};  // this instantiation's
  // One wave: CTAs stride over the rows when there are more than fit.
  const int grid =
      std::min(ceil_div(p.n, kWarpsPerCta), resident_ctas(reinterpret_cast<const void*>(kernel), kThreads, staged, &occupancy));
  // Prefetch: the first batch of loads of each warp's first row(s).
  constexpr int kRowsPerUnit = kEpi == Epi::kSiluMul || kEpi == Epi::kRopeStore ? 2 : 1;
  const int64_t k8 = p.k / 8;
  const int64_t vecs = std::min<int64_t>(k8, 32 * (kLoadsInFlight / kRowsPerUnit));
  Args q = p;
  q.prefetch_vecs = static_cast<int>(vecs);
  return cuda_status(launch_pdl(kernel, dim3(grid), dim3(kThreads), staged, stream, q), "gemv");
}

template <typename Out, bool kNorm, Epi kEpi>
Status launch_m(int m, const Args& p, cudaStream_t stream) {
  switch (m) {
    case 1: return launch_one<1, Out, kNorm, kEpi>(p, stream);
    case 2: return launch_one<2, Out, kNorm, kEpi>(p, stream);
    case 3: return launch_one<3, Out, kNorm, kEpi>(p, stream);
    case 4: return launch_one<4, Out, kNorm, kEpi>(p, stream);
    default: return invalid_argument("gemv: M must be 1..4");
  }
}

template <bool kNorm>
Status launch_epi(int m, const Args& p, DType out_dtype, const GemvFusion& f, cudaStream_t stream) {
  if (f.accumulate) return launch_m<bf16, kNorm, Epi::kAccumulate>(m, p, stream);
  if (f.silu_mul) return launch_m<bf16, kNorm, Epi::kSiluMul>(m, p, stream);
  if (f.rope != nullptr) return launch_m<bf16, kNorm, Epi::kRopeStore>(m, p, stream);
  if (out_dtype == DType::kF32) return launch_m<float, kNorm, Epi::kStore>(m, p, stream);
  return launch_m<bf16, kNorm, Epi::kStore>(m, p, stream);
}

EnvSwitch& bulk_switch() {
  static EnvSwitch s("RADIX_GEMV", "bulk");
  return s;
}
}  // namespace

bool gemv_bulk_enabled() { return bulk_switch().get(); }
void set_gemv_bulk_enabled(bool on) { bulk_switch().set(on); }

bool gemv_applies(const Tensor& out, const Tensor& a, const Tensor& w, const Tensor* bias, const GemvFusion& f) {
  const int64_t m = a.size(0), k = a.size(1);
  const int64_t n = f.silu_mul || f.rope != nullptr ? w.size(0) / 2 : w.size(0);
  const bool fused_io = f.norm_weight != nullptr || f.silu_mul || f.rope != nullptr;
  if (m < 1 || m > kGemvMaxRows || a.dtype() != DType::kBF16 || w.dtype() != DType::kBF16 || k % 8 != 0 ||
      n > 0x7fffffff || k > 0x7fffffff || !aligned16(a.data()) || !aligned16(w.data())) {
    return false;
  }
  if (static_cast<int>(f.accumulate) + static_cast<int>(f.silu_mul) + static_cast<int>(f.rope != nullptr) > 1) {
    return false;
  }
  if (f.rope != nullptr) {
    const GemvRope& r = *f.rope;
    const Tensor& q = *r.q_out;
    if (q.ndim() != 3 || q.dtype() != DType::kBF16 || r.k_cache->dtype() != DType::kBF16 ||
        r.v_cache->dtype() != DType::kBF16 || r.k_cache->ndim() != 3 || q.size(0) != m ||
        q.size(2) % 2 != 0 || r.cos_sin->size(1) != q.size(2) || r.cos_sin->dtype() != DType::kF32 ||
        w.size(0) != (q.size(1) + 2 * r.k_cache->size(1)) * q.size(2) || r.k_cache->size(2) != q.size(2)) {
      return false;
    }
  }
  if (f.silu_mul && (w.size(0) % 2 != 0 || out.size(1) != n)) return false;
  if ((f.accumulate || f.silu_mul) && (out.dtype() != DType::kBF16 || bias != nullptr)) return false;
  if (out.dtype() != DType::kBF16 && out.dtype() != DType::kF32) return false;
  if (bias != nullptr && bias->dtype() != DType::kBF16) return false;
  if (f.norm_weight != nullptr &&
      (f.norm_weight->dtype() != DType::kBF16 || !aligned16(f.norm_weight->data()) ||
       m * k * static_cast<int64_t>(sizeof(uint16_t)) > kMaxStagedBytes)) {
    return false;
  }
  // A fused call saves whole kernels, so it pays at any size; a plain one must be in the
  // range where it beats cuBLASLt.
  if (fused_io) return true;
  return w.numel() >= kGemvMinWeights && w.numel() <= kGemvMaxWeights;
}

Status gemv(const Tensor& out, const Tensor& a, const Tensor& w, const Tensor* bias, void* stream,
            const GemvFusion& f) {
  Args p{};
  p.out = out.data();
  p.a = a.data_as<const bf16>();
  p.w = w.data_as<const bf16>();
  p.bias = bias ? bias->data_as<const bf16>() : nullptr;
  p.norm_w = f.norm_weight ? f.norm_weight->data_as<const bf16>() : nullptr;
  p.eps = f.eps;
  p.norm_offset = f.norm_offset;
  p.n = static_cast<int>(f.silu_mul || f.rope != nullptr ? w.size(0) / 2 : w.size(0));
  if (f.rope != nullptr) p.rope = rope_epilogue(*f.rope);
  p.k = static_cast<int>(a.size(1));
  const int m = static_cast<int>(a.size(0));
  auto st = static_cast<cudaStream_t>(stream);
  if (f.norm_weight != nullptr) return launch_epi<true>(m, p, out.dtype(), f, st);
  return launch_epi<false>(m, p, out.dtype(), f, st);
}

}  // namespace radix::cuda
