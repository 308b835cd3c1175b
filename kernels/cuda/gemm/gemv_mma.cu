// Small-batch GEMM on tensor cores (gemv_mma.h). A row block = 16 weight rows (one
// m16n8k16 A tile) x the whole of K, a CTA's 8 warps splitting K (a CTA per block);
// each warp streams its 16 rows with 16-byte L1-bypassing loads, several 64-column
// chunks in flight, and multiplies them with the M (<= 16) batch rows as B tiles of 8
// columns. The partial 16 x M products of the 8 warps are summed in shared memory and
// one pass writes the epilogue: bias and bf16/f32 store, accumulate into out,
// SiLU-and-mul of gate/up rows, or RoPE + KV store of qkv rows.
//
// Fragment layout without shuffles: a lane (g, t) = (lane / 4, lane % 4) loads 32
// contiguous bytes of weight rows g and g + 8 at columns [64 c + 16 t, + 16) of chunk
// c, and the same 16 columns of batch rows g (tile 0) and 8 + g (tile 1). K-step s of
// the chunk takes 32-bit words 2s and 2s + 1 of those 16 columns as the fragments'
// "k = 2t, 2t + 1" and "k = 2t + 8, 2t + 9" elements. The MMA's k order is thus a
// permutation of the chunk's columns, the same for A and B, and a dot product does not
// depend on the order of its terms.
#include <algorithm>
#include <atomic>

#include "kernels/cuda/common/cuda_utils.cuh"
#include "kernels/cuda/common/env_switch.h"
#include "kernels/cuda/common/mma.cuh"
#include "kernels/cuda/gemm/gemv.h"
#include "kernels/cuda/gemm/gemv_math.cuh"
#include "kernels/cuda/gemm/gemv_mma.h"
#include "kernels/cuda/gemm/rope_epilogue.cuh"

namespace radix::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kRows = 16;   // weight rows per CTA
constexpr int kChunk = 64;  // columns per chunk (8 uint4 per row)

struct MmaArgs {
  void* out;         // [M, N]
  const bf16* a;     // [M, K]
  const bf16* w;     // [N, K]
  const bf16* bias;  // [N] or nullptr
  int m, n, k;
  int blocks;        // row blocks (16 rows, or 8 pairs); CTAs loop over them by gridDim.x
  // kRopeStore: w is the fused qkv weight [(Hq + 2 Hk) D, K]; out unused.
  RopeEpilogue rope;
};

// Word j (0..7) of a lane's 16 columns: lo holds words 0..3, hi words 4..7.
__device__ __forceinline__ uint32_t word(const uint4& lo, const uint4& hi, int j) {
  const uint4& v = j < 4 ? lo : hi;
  switch (j & 3) {
    case 0:
      return v.x;
    case 1:
      return v.y;
    case 2:
      return v.z;
    default:
      return v.w;
  }
}

enum class MmaEpi { kStore, kAccumulate, kSiluMul, kRopeStore };

// Paired epilogues: the CTA's A tile is 8 row pairs — rows rr < 8 the pairs' first rows,
// rr >= 8 their partners — so a lane holds both rows of its pairs.
template <MmaEpi kEpi>
constexpr bool kPaired = kEpi == MmaEpi::kSiluMul || kEpi == MmaEpi::kRopeStore;

// Weight row of A-tile row rr (0..15) of CTA `cta`: rows n0 + rr, except the paired
// epilogues: kRopeStore's CTA takes 8 rotation pairs (i, i + D/2) of one head, and
// kSiluMul's 8 outputs n (gate row n, up row N + n). Eight outputs per CTA rather than
// 16 gate and 16 up rows: twice the CTAs, so the last wave of the widest GEMM of the
// layer leaves fewer SMs idle.
template <MmaEpi kEpi>
__device__ __forceinline__ int64_t weight_row(const MmaArgs& p, int cta, int rr) {
  if constexpr (kEpi == MmaEpi::kRopeStore) {
    const int pair0 = cta * 8;  // first pair of the CTA, over all heads
    const int half = p.rope.half;
    const int head = pair0 / half, i0 = pair0 % half;
    return static_cast<int64_t>(head) * 2 * half + i0 + (rr & 7) + (rr >> 3) * half;
  } else if constexpr (kEpi == MmaEpi::kSiluMul) {
    return static_cast<int64_t>(rr >> 3) * p.n + cta * 8 + (rr & 7);
  }
  return static_cast<int64_t>(cta) * kRows + rr;
}

// kTiles: B tiles of 8 batch rows (1: M <= 8, 2: M <= 16). kSiluMul: w is [gate; up]
// ([2N, K]); the epilogue writes silu(g) * u with g and u rounded to bf16 (as the
// gate_up buffer of the unfused sequence holds them). kUnroll: chunks in flight (~256
// bytes per lane).
template <int kTiles, typename Out, MmaEpi kEpi>
__global__ void __launch_bounds__(kThreads, 2) gemv_mma_kernel(const MmaArgs p) {
  constexpr int kUnroll = kTiles == 1 ? 4 : 2;
  __shared__ float red[kWarps][kRows][8 * kTiles];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int g = lane >> 2, t = lane & 3;
  const int64_t k8 = p.k / 8;  // uint4 per row
  const int chunks = p.k / kChunk;
  const int c_begin = warp * chunks / kWarps, c_end = (warp + 1) * chunks / kWarps;

  // This lane's batch rows g (+ 8 per B tile; zero past M).
  bool x_ok[kTiles];
  const uint4* x_row[kTiles];
#pragma unroll
  for (int b = 0; b < kTiles; ++b) {
    x_ok[b] = 8 * b + g < p.m;
    x_row[b] = reinterpret_cast<const uint4*>(p.a) + (x_ok[b] ? 8 * b + g : 0) * k8 + 2 * t;
  }

  pdl_wait();  // a (and out, when accumulating) come from the kernels before
  pdl_launch_dependents();

  // The grid is one CTA per row block, so this loop runs once (it would stride over the
  // blocks of any smaller grid).
  for (int blk = blockIdx.x; blk < p.blocks; blk += gridDim.x) {
    const int n0 = blk * kRows;
    // This lane's weight rows g and g + 8 of the A tile (zero past N).
    bool w_ok[2];
    const uint4* w_row[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      if constexpr (kEpi == MmaEpi::kRopeStore) {
        w_ok[r] = true;
      } else if constexpr (kEpi == MmaEpi::kSiluMul) {
        w_ok[r] = blk * 8 + g < p.n;
      } else {
        w_ok[r] = n0 + g + 8 * r < p.n;
      }
      const int64_t row = w_ok[r] ? weight_row<kEpi>(p, blk, g + 8 * r) : 0;
      w_row[r] = reinterpret_cast<const uint4*>(p.w) + row * k8 + 2 * t;
    }

    float acc[kTiles][4];
#pragma unroll
    for (int b = 0; b < kTiles; ++b) acc[b][0] = acc[b][1] = acc[b][2] = acc[b][3] = 0.0f;
    const uint4 zero = make_uint4(0, 0, 0, 0);
    for (int c = c_begin; c < c_end; c += kUnroll) {
      uint4 wv[kUnroll][2][2];       // [chunk][row g, g + 8][lo, hi]
      uint4 xv[kUnroll][kTiles][2];  // [chunk][B tile][lo, hi]
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const bool in = c + u < c_end;
        const int64_t off = static_cast<int64_t>(c + u) * (kChunk / 8);
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          wv[u][r][0] = in && w_ok[r] ? load_stream(w_row[r] + off) : zero;
          wv[u][r][1] = in && w_ok[r] ? load_stream(w_row[r] + off + 1) : zero;
        }
#pragma unroll
        for (int b = 0; b < kTiles; ++b) {
          xv[u][b][0] = in && x_ok[b] ? __ldg(x_row[b] + off) : zero;
          xv[u][b][1] = in && x_ok[b] ? __ldg(x_row[b] + off + 1) : zero;
        }
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
        for (int s = 0; s < kChunk / 16; ++s) {
          const auto& w0 = wv[u][0];
          const auto& w1 = wv[u][1];
          const uint32_t af[4] = {word(w0[0], w0[1], 2 * s), word(w1[0], w1[1], 2 * s), word(w0[0], w0[1], 2 * s + 1),
                                  word(w1[0], w1[1], 2 * s + 1)};
#pragma unroll
          for (int b = 0; b < kTiles; ++b) {
            const uint32_t bf[2] = {word(xv[u][b][0], xv[u][b][1], 2 * s), word(xv[u][b][0], xv[u][b][1], 2 * s + 1)};
            mma_bf16_16816(acc[b], af, bf);
          }
        }
      }
    }

    // acc[b]: rows g (0, 1) and g + 8 (2, 3), batch rows 8 b + 2 t (+1).
#pragma unroll
    for (int b = 0; b < kTiles; ++b) {
      red[warp][g][8 * b + 2 * t] = acc[b][0];
      red[warp][g][8 * b + 2 * t + 1] = acc[b][1];
      red[warp][g + 8][8 * b + 2 * t] = acc[b][2];
      red[warp][g + 8][8 * b + 2 * t + 1] = acc[b][3];
    }
    __syncthreads();
    if constexpr (kPaired<kEpi>) {
      // Thread i: pair i % 8 of batch row i / 8.
      for (int i = threadIdx.x; i < 8 * p.m; i += kThreads) {
        const int pr = i % 8, m = i / 8;
        float a = 0.0f, b = 0.0f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) {
          a += red[w][pr][m];
          b += red[w][pr + 8][m];
        }
        if constexpr (kEpi == MmaEpi::kRopeStore) {
          // As rope_qkv_store over the bf16 qkv row the unfused projection would store.
          const int pair0 = blk * 8;
          rope_store_pair(p.rope, p.bias, m, pair0 / p.rope.half, pair0 % p.rope.half + pr, a, b);
        } else {
          // gate a, up b, each rounded to bf16 as the unfused gate_up buffer holds them.
          const int n = blk * 8 + pr;
          if (n >= p.n) continue;
          static_cast<Out*>(p.out)[static_cast<int64_t>(m) * p.n + n] = from_f32<Out>(silu_mul_rounded(a, b));
        }
      }
    } else {
      // Thread i: weight row i % 16 of batch row i / 16 (16 consecutive outputs per batch row).
      for (int i = threadIdx.x; i < kRows * p.m; i += kThreads) {
        const int r = i % kRows, m = i / kRows;
        const int n = n0 + r;
        if (n >= p.n) continue;
        float v = 0.0f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) v += red[w][r][m];
        Out* out = static_cast<Out*>(p.out) + static_cast<int64_t>(m) * p.n + n;
        if constexpr (kEpi == MmaEpi::kAccumulate) {
          *out = from_f32<Out>(v + to_f32(*out));
        } else {
          if (p.bias != nullptr) v += __bfloat162float(p.bias[n]);
          *out = from_f32<Out>(v);
        }
      }
    }
    __syncthreads();  // red is rewritten by the next block
  }
}

template <int kTiles, typename Out, MmaEpi kEpi>
Status launch(const MmaArgs& p, cudaStream_t stream) {
  auto kernel = gemv_mma_kernel<kTiles, Out, kEpi>;
  MmaArgs q = p;
  // kRopeStore: N = (Hq + 2 Hk) D rows = 8 pairs per block; kSiluMul: 8 outputs per block.
  q.blocks = kEpi == MmaEpi::kSiluMul ? (p.n + 7) / 8 : (p.n + kRows - 1) / kRows;
  return cuda_status(launch_pdl(kernel, dim3(q.blocks), dim3(kThreads), 0, stream, q), "gemv_mma");
}

template <typename Out, MmaEpi kEpi>
Status launch_tiles(const MmaArgs& p, cudaStream_t stream) {
  return p.m <= 8 ? launch<1, Out, kEpi>(p, stream) : launch<2, Out, kEpi>(p, stream);
}

EnvSwitch& mma_off_switch() {
  static EnvSwitch s("RADIX_GEMV_MMA", "0");
  return s;
}

// From the environment, normalized as set_gemv_mma_rows does (lo <= hi).
std::atomic<int64_t> g_min_rows{env_int("RADIX_GEMV_MMA_MIN_ROWS", 1, kGemvMmaMaxRows, kGemvMmaDefaultMinRows)};
std::atomic<int64_t> g_max_rows{std::max(g_min_rows.load(), env_int("RADIX_GEMV_MMA_MAX_ROWS", 1, kGemvMmaMaxRows,
                                                                    kGemvMmaDefaultMaxRows))};

}  // namespace

bool gemv_mma_enabled() {
  return !mma_off_switch().get();
}
void set_gemv_mma_enabled(bool on) {
  mma_off_switch().set(!on);
}
int64_t gemv_mma_min_rows() {
  return g_min_rows.load(std::memory_order_relaxed);
}
int64_t gemv_mma_max_rows() {
  return g_max_rows.load(std::memory_order_relaxed);
}
void set_gemv_mma_rows(int64_t lo, int64_t hi) {
  lo = std::clamp<int64_t>(lo, 1, kGemvMmaMaxRows);
  g_min_rows.store(lo, std::memory_order_relaxed);
  g_max_rows.store(std::clamp<int64_t>(hi, lo, kGemvMmaMaxRows), std::memory_order_relaxed);
}

bool gemv_mma_applies(const Tensor& out, const Tensor& a, const Tensor& w, const Tensor* bias,
                      bool accumulate, bool silu_mul) {
  if (!gemv_mma_enabled()) return false;
  if (a.ndim() != 2 || w.ndim() != 2 || out.ndim() != 2) return false;
  const int64_t m = a.size(0), k = a.size(1);
  const int64_t n = silu_mul ? w.size(0) / 2 : w.size(0);
  if (m < gemv_mma_min_rows() || m > gemv_mma_max_rows() || w.size(1) != k || out.size(0) != m ||
      out.size(1) != n) {
    return false;
  }
  if (a.dtype() != DType::kBF16 || w.dtype() != DType::kBF16 || k % kChunk != 0 ||
      !aligned16(a.data()) || !aligned16(w.data()) || w.size(0) > 0x7fffffff - 2 * kRows ||
      k > 0x7fffffff) {
    return false;
  }
  if (w.numel() < kGemvMinWeights) return false;  // small weights: the launch dominates either way
  if (silu_mul)
    return !accumulate && w.size(0) % 2 == 0 && out.dtype() == DType::kBF16 && bias == nullptr;
  if (accumulate) return out.dtype() == DType::kBF16 && bias == nullptr;
  if (out.dtype() != DType::kBF16 && out.dtype() != DType::kF32) return false;
  return bias == nullptr || bias->dtype() == DType::kBF16;
}

Status gemv_mma(const Tensor& out, const Tensor& a, const Tensor& w, const Tensor* bias,
                void* stream, bool accumulate, bool silu_mul) {
  MmaArgs p{};
  p.out = out.data();
  p.a = a.data_as<const bf16>();
  p.w = w.data_as<const bf16>();
  p.bias = bias != nullptr ? bias->data_as<const bf16>() : nullptr;
  p.m = static_cast<int>(a.size(0));
  p.n = static_cast<int>(silu_mul ? w.size(0) / 2 : w.size(0));
  p.k = static_cast<int>(a.size(1));
  auto st = static_cast<cudaStream_t>(stream);
  if (silu_mul) return launch_tiles<bf16, MmaEpi::kSiluMul>(p, st);
  if (accumulate) return launch_tiles<bf16, MmaEpi::kAccumulate>(p, st);
  if (out.dtype() == DType::kF32) return launch_tiles<float, MmaEpi::kStore>(p, st);
  return launch_tiles<bf16, MmaEpi::kStore>(p, st);
}

bool gemv_mma_rope_applies(const Tensor& a, const Tensor& w, const Tensor* bias,
                           const GemvRope& r) {
  if (!gemv_mma_enabled()) return false;  // (every qkv projection asks)
  if (r.q_out == nullptr || r.positions == nullptr || r.cos_sin == nullptr ||
      r.k_cache == nullptr || r.v_cache == nullptr || r.slots == nullptr) {
    return false;
  }
  const Tensor& q = *r.q_out;
  if (q.ndim() != 3 || r.k_cache->ndim() != 3 || r.cos_sin->ndim() != 2) return false;
  const int64_t d = q.size(2), hq = q.size(1), hk = r.k_cache->size(1);
  if (q.dtype() != DType::kBF16 || r.k_cache->dtype() != DType::kBF16 ||
      r.v_cache->dtype() != DType::kBF16 || r.cos_sin->dtype() != DType::kF32 ||
      r.cos_sin->size(1) != d || r.k_cache->size(2) != d || q.size(0) != a.size(0) ||
      (d / 2) % 8 != 0 || d % 2 != 0 || w.ndim() != 2 || w.size(0) != (hq + 2 * hk) * d) {
    return false;
  }
  // The GEMM conditions, on an out of [M, (Hq + 2 Hk) D] (the view is never written).
  const Tensor out(nullptr, DType::kBF16, {a.size(0), w.size(0)});
  return gemv_mma_applies(out, a, w, bias, false);
}

Status gemv_mma_rope(const Tensor& a, const Tensor& w, const Tensor* bias, const GemvRope& r,
                     void* stream) {
  MmaArgs p{};
  p.a = a.data_as<const bf16>();
  p.w = w.data_as<const bf16>();
  p.bias = bias != nullptr ? bias->data_as<const bf16>() : nullptr;
  p.m = static_cast<int>(a.size(0));
  p.n = static_cast<int>(w.size(0));
  p.k = static_cast<int>(a.size(1));
  p.rope = rope_epilogue(r);
  return launch_tiles<bf16, MmaEpi::kRopeStore>(p, static_cast<cudaStream_t>(stream));
}

}  // namespace radix::cuda
