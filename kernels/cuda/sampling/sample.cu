// ops::sample on the GPU: one CTA of 1024 threads per row of f32 logits, no sort of the
// vocabulary. Semantics in kernels/ops.h; the CPU twin is cpu::sample.
//
//   1. greedy rows: argmax (ties: lowest id);
//   2. m = max(y), y = x / T; Z = sum exp(y - m);
//   3. top_k: radix select of the k-th largest key(y) — 4 passes of 8 bits, each a
//      256-bin count histogram in shared memory over the keys that match the prefix
//      found so far;
//   4. top_p: the same radix walk over a mass histogram finds the smallest key whose
//      strictly-larger mass is <= top_p * Z (the token crossing top_p stays);
//   5. the sample, in id order: the row is cut into 32 warp chunks, then the chosen
//      chunk into 32 sub-chunks, then one warp scans the chosen sub-chunk, each level
//      by the running sum of kept w against uniform * (total kept w).
// Every pass re-reads the row (it sits in L2: 0.5 MB for 128K vocab) and recomputes w.
// Masses are summed in f32 (shared-memory atomics for the histograms), so a draw that
// lands within rounding of a boundary may pick the neighbour the CPU twin would not.
#include <cfloat>

#include "kernels/cuda/common/cuda_utils.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace radix::cuda {
namespace {

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;

__device__ __forceinline__ float clean(float x) { return isnan(x) ? -INFINITY : x; }

// Order-preserving map of a float to an unsigned key (larger float -> larger key).
__device__ __forceinline__ uint32_t key_of(float y) {
  const uint32_t b = __float_as_uint(y);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

__device__ __forceinline__ float block_max(float v, float* red) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  v = red[lane];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Inclusive prefix sum over the 32 lanes of a warp.
template <typename T>
__device__ __forceinline__ T warp_inclusive_scan(T v) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const T n = __shfl_up_sync(0xffffffffu, v, o);
    if (lane >= o) v += n;
  }
  return v;
}

struct RowCtx {
  const float* x;
  int v;
  float inv_t, m, min_p;
  bool inf_max;  // m is +inf: w = (y == m)
  __device__ float y(int i) const {
    const float r = clean(x[i]) * inv_t;
    return isnan(r) ? -INFINITY : r;
  }
  __device__ float w_of(float yi) const { return inf_max ? (yi == m ? 1.0f : 0.0f) : expf(yi - m); }
};

struct Shared {
  int count[256];
  float mass[256];
  float red[32];
  float chunk[kWarps];
  uint32_t sel_prefix;
  int sel_remaining;
  float sel_above;
  int pick;
  float pick_target;
};

// The k-th largest key(y) of the row (radix select, 8 bits per pass).
__device__ uint32_t select_top_k(const RowCtx& r, int k, Shared& s) {
  uint32_t prefix = 0, mask = 0;
  int remaining = k;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int i = threadIdx.x; i < 256; i += kThreads) s.count[i] = 0;
    __syncthreads();
    for (int i = threadIdx.x; i < r.v; i += kThreads) {
      const uint32_t key = key_of(r.y(i));
      if ((key & mask) == prefix) atomicAdd(&s.count[(key >> shift) & 255], 1);
    }
    __syncthreads();
    if (threadIdx.x < 32) {
      // Lane l owns digits 255 - 8l ... 248 - 8l (descending).
      const int lane = threadIdx.x;
      int local = 0;
#pragma unroll
      for (int j = 0; j < 8; ++j) local += s.count[255 - 8 * lane - j];
      const int incl = warp_inclusive_scan(local);
      const int before = incl - local;
      if (before < remaining && remaining <= incl) {
        int cum = before;
        for (int j = 0; j < 8; ++j) {
          const int d = 255 - 8 * lane - j;
          if (cum + s.count[d] >= remaining) {
            s.sel_prefix = prefix | (static_cast<uint32_t>(d) << shift);
            s.sel_remaining = remaining - cum;
            break;
          }
          cum += s.count[d];
        }
      }
    }
    __syncthreads();
    prefix = s.sel_prefix;
    remaining = s.sel_remaining;
    mask |= 255u << shift;
    __syncthreads();
  }
  return prefix;
}

// The smallest key(y) whose strictly-larger keys carry mass <= limit.
__device__ uint32_t select_top_p(const RowCtx& r, float limit, Shared& s) {
  uint32_t prefix = 0, mask = 0;
  float above = 0.0f;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int i = threadIdx.x; i < 256; i += kThreads) {
      s.count[i] = 0;
      s.mass[i] = 0.0f;
    }
    __syncthreads();
    for (int i = threadIdx.x; i < r.v; i += kThreads) {
      const float yi = r.y(i);
      const uint32_t key = key_of(yi);
      if ((key & mask) == prefix) {
        const int d = (key >> shift) & 255;
        atomicAdd(&s.count[d], 1);
        atomicAdd(&s.mass[d], r.w_of(yi));
      }
    }
    __syncthreads();
    if (threadIdx.x < 32) {
      const int lane = threadIdx.x;
      float local = 0.0f;
#pragma unroll
      for (int j = 0; j < 8; ++j) local += s.mass[255 - 8 * lane - j];
      const float incl = warp_inclusive_scan(local);
      float run = above + incl - local;
      int cand = -1;
      float cand_above = 0.0f;
      for (int j = 0; j < 8; ++j) {
        const int d = 255 - 8 * lane - j;
        if (s.count[d] > 0 && run <= limit) {
          cand = d;
          cand_above = run;
        }
        run += s.mass[d];
      }
      // The lowest candidate digit overall sits in the highest lane that has one.
      const unsigned has = __ballot_sync(0xffffffffu, cand >= 0);
      const int src = has ? 31 - __clz(has) : 0;
      const int d = __shfl_sync(0xffffffffu, cand, src);
      const float a = __shfl_sync(0xffffffffu, cand_above, src);
      if (lane == 0) {
        // No candidate cannot happen (the top bin always qualifies); keep the prefix.
        s.sel_prefix = has ? (prefix | (static_cast<uint32_t>(d) << shift)) : prefix;
        s.sel_above = has ? a : above;
      }
    }
    __syncthreads();
    prefix = s.sel_prefix;
    above = s.sel_above;
    mask |= 255u << shift;
    __syncthreads();
  }
  return prefix;
}

__global__ void __launch_bounds__(kThreads)
    sample_kernel(int32_t* __restrict__ out, const float* __restrict__ logits, int v,
                  const float* __restrict__ temperature, const int32_t* __restrict__ top_k,
                  const float* __restrict__ top_p, const float* __restrict__ min_p,
                  const float* __restrict__ uniform) {
  __shared__ Shared s;
  const int row = blockIdx.x;
  const float* x = logits + static_cast<int64_t>(row) * v;
  const float t = temperature[row];
  const int k = top_k[row];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;

  if (t <= 0.0f || k == 1) {  // greedy
    float best = -INFINITY;
    int best_i = 0x7fffffff;
    for (int i = threadIdx.x; i < v; i += kThreads) {
      const float xi = clean(x[i]);
      if (xi > best) {  // strided ascending: the first hit per thread is its lowest id
        best = xi;
        best_i = i;
      }
    }
    const float m = block_max(best, s.red);
    const int mine = (best == m && m != -INFINITY) ? best_i : 0x7fffffff;
    int lowest = mine;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) lowest = min(lowest, __shfl_xor_sync(0xffffffffu, lowest, o));
    __syncthreads();
    if (lane == 0) s.count[warp] = lowest;
    __syncthreads();
    if (warp == 0) {
      lowest = s.count[lane];
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) lowest = min(lowest, __shfl_xor_sync(0xffffffffu, lowest, o));
      if (lane == 0) out[row] = lowest == 0x7fffffff ? -1 : lowest;
    }
    return;
  }

  RowCtx r;
  r.x = x;
  r.v = v;
  r.inv_t = 1.0f / t;
  r.min_p = min_p[row];
  r.inf_max = false;
  float local_max = -INFINITY;
  for (int i = threadIdx.x; i < v; i += kThreads) local_max = fmaxf(local_max, r.y(i));
  r.m = block_max(local_max, s.red);
  if (r.m == -INFINITY) {
    if (threadIdx.x == 0) out[row] = -1;
    return;
  }
  r.inf_max = isinf(r.m);
  float z_local = 0.0f;
  for (int i = threadIdx.x; i < v; i += kThreads) z_local += r.w_of(r.y(i));
  const float z = block_sum(z_local);

  uint32_t threshold = 0;
  if (k > 0 && k < v) threshold = max(threshold, select_top_k(r, k, s));
  const float p = top_p[row];
  if (p < 1.0f) threshold = max(threshold, select_top_p(r, p * z, s));
  auto kept_w = [&](int i) -> float {
    const float yi = r.y(i);
    const float wi = r.w_of(yi);
    return (wi > 0.0f && wi >= r.min_p && key_of(yi) >= threshold) ? wi : 0.0f;
  };

  // Level 1: 32 warp chunks of the row.
  const int c1 = ((v + kWarps - 1) / kWarps + 31) / 32 * 32;
  {
    float acc = 0.0f;
    const int lo = warp * c1, hi = min(v, lo + c1);
    for (int i = lo + lane; i < hi; i += 32) acc += kept_w(i);
    acc = warp_sum(acc);
    __syncthreads();
    if (lane == 0) s.chunk[warp] = acc;
    __syncthreads();
  }
  // Picks the first chunk whose running sum exceeds target (target given as a fraction
  // `u` of the total when `scale_by_total`); falls back to the last non-empty chunk.
  auto pick_chunk = [&](float target_or_u, bool scale_by_total) {
    if (warp == 0) {
      const float c = s.chunk[lane];
      const float incl = warp_inclusive_scan(c);
      const float total = __shfl_sync(0xffffffffu, incl, 31);
      const float target = scale_by_total ? target_or_u * total : target_or_u;
      const unsigned over = __ballot_sync(0xffffffffu, incl > target && c > 0.0f);
      const unsigned nonempty = __ballot_sync(0xffffffffu, c > 0.0f);
      const int chosen = over ? __ffs(over) - 1 : (nonempty ? 31 - __clz(nonempty) : -1);
      const float before = chosen >= 0 ? __shfl_sync(0xffffffffu, incl - c, chosen) : 0.0f;
      if (lane == 0) {
        s.pick = chosen;
        s.pick_target = target - before;
      }
    }
    __syncthreads();
  };
  pick_chunk(uniform[row], true);
  const int w1 = s.pick;
  if (w1 < 0) {  // nothing kept (min_p > 1)
    if (threadIdx.x == 0) out[row] = -1;
    return;
  }
  const float target1 = s.pick_target;
  // Level 2: the chosen chunk in 32 sub-chunks.
  const int base1 = w1 * c1, end1 = min(v, base1 + c1);
  const int c2 = ((c1 + kWarps - 1) / kWarps + 31) / 32 * 32;
  {
    float acc = 0.0f;
    const int lo = base1 + warp * c2, hi = min(end1, lo + c2);
    for (int i = lo + lane; i < hi; i += 32) acc += kept_w(i);
    acc = warp_sum(acc);
    __syncthreads();
    if (lane == 0) s.chunk[warp] = acc;
    __syncthreads();
  }
  pick_chunk(target1, false);
  const int w2 = s.pick;
  const float target2 = s.pick_target;
  // Level 3: one warp scans the chosen sub-chunk.
  if (warp == 0) {
    const int lo = base1 + max(w2, 0) * c2, hi = min(end1, lo + c2);
    float run = 0.0f;
    int found = -1, last = -1;
    for (int i0 = lo; i0 < hi && found < 0; i0 += 32) {
      const int i = i0 + lane;
      const float wi = i < hi ? kept_w(i) : 0.0f;
      const float incl = run + warp_inclusive_scan(wi);
      const unsigned over = __ballot_sync(0xffffffffu, wi > 0.0f && incl > target2);
      const unsigned any = __ballot_sync(0xffffffffu, wi > 0.0f);
      if (over) found = i0 + __ffs(over) - 1;
      if (any) last = i0 + 31 - __clz(any);
      run = __shfl_sync(0xffffffffu, incl, 31);
    }
    if (lane == 0) out[row] = found >= 0 ? found : last;
  }
}

}  // namespace

Status sample(const OpContext& ctx, const Tensor& out, const Tensor& logits, const SamplingTensors& p) {
  const int64_t n = logits.size(0);
  if (n == 0) return Status::ok();
  if (n > 0x7fffffff) return invalid_argument("sample: too many rows");
  sample_kernel<<<static_cast<unsigned>(n), kThreads, 0, static_cast<cudaStream_t>(ctx.stream)>>>(
      out.data_as<int32_t>(), logits.data_as<const float>(), static_cast<int>(logits.size(1)),
      p.temperature.data_as<const float>(), p.top_k.data_as<const int32_t>(), p.top_p.data_as<const float>(),
      p.min_p.data_as<const float>(), p.uniform.data_as<const float>());
  return check_launch("sample");
}

}  // namespace radix::cuda
