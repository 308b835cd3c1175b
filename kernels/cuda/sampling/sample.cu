// ops::sample on the GPU: one CTA of 1024 threads per row of f32 logits, no sort of the
// vocabulary. Semantics in kernels/ops.h; the CPU twin is cpu::sample.
//
//   1. greedy rows: argmax (ties: lowest id);
//   2. one pass: max y, min finite y and Z = sum exp(y - max) (online rescaling);
//   3. top_k / top_p thresholds by value: each level splits the current value range
//      into 256 equal bins (count, and mass for top_p, in shared memory), keeps the
//      bin where the running count reaches k (or the lowest bin whose mass above is
//      <= top_p * Z) and refines it, until the bin is one value or one element; the
//      threshold is the smallest y left (ties at it all stay). Bins by value rather
//      than by float bits spread logits over many bins, so the atomics rarely collide;
//   4. the sample, in id order: the row is cut into 32 warp chunks, then the chosen
//      chunk into 32 sub-chunks, then one warp scans the chosen sub-chunk, each level
//      by the running sum of kept w against uniform * (total kept w).
// Every pass re-reads the row with 16-byte loads (it sits in L2: 0.5 MB for 128K vocab)
// and recomputes w. top_p's bin masses are f32 shared-memory atomics, so a draw within
// rounding of a boundary may pick the neighbour the CPU twin would not; everything else
// is summed in a fixed order (reproducible).
//
// Few rows leave most SMs idle and one CTA reads only ~30-45 GB/s, so by default
// (RADIX_SAMPLE_CLUSTER=0 turns it off) each row is spread over a thread block cluster:
// 8 CTAs up to 16 rows, 4 up to 33 and 2 up to 66 on 132 SMs (RADIX_SAMPLE_CLUSTER_WIDE=0
// keeps the 4s and 2s to one CTA). Each CTA runs every pass over its slice of the row,
// and each reduction (max, sums, the 256 bins) is combined across the cluster through
// distributed shared memory, in rank order, so all its CTAs see the same values and make
// the same choices. The draw picks the CTA by the running sum of their kept mass, then
// that CTA alone runs steps 4's levels over its slice.
#include <cooperative_groups.h>

#include <atomic>
#include <cfloat>

#include "kernels/cuda/common/cuda_utils.cuh"
#include "kernels/cuda/common/env_switch.h"
#include "kernels/cuda/cuda_ops.h"

namespace radix::cuda {
namespace {

namespace cg = cooperative_groups;

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;
constexpr int kClusterCtas = 8;      // CTAs per row when spread over a cluster
constexpr int kClusterMaxRows = 16;  // at most this many rows are spread (8 x 16 = 128 SMs)

__device__ __forceinline__ float clean(float x) { return isnan(x) ? -INFINITY : x; }

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
  bool vec4;  // 16-byte loads: V % 4 == 0 and the row is aligned
  int lo, hi;  // this CTA's slice [lo, hi) of the row (multiples of 4 but hi = v)
  float inv_t, m, min_p;
  bool inf_max;  // m is +inf: w = (y == m)
  __device__ float y_of(float xi) const {
    const float r = clean(xi) * inv_t;
    return isnan(r) ? -INFINITY : r;
  }
  __device__ float w_of(float yi) const { return inf_max ? (yi == m ? 1.0f : 0.0f) : __expf(yi - m); }
  // fn(i, y) for every element of the CTA's slice, spread over the CTA (order unspecified).
  template <typename F>
  __device__ void for_each(F&& fn) const {
    if (vec4) {
      const float4* x4 = reinterpret_cast<const float4*>(x);
      const int n4 = hi / 4;
#pragma unroll 4
      for (int j = lo / 4 + threadIdx.x; j < n4; j += kThreads) {
        const float4 q = x4[j];
        fn(4 * j, y_of(q.x));
        fn(4 * j + 1, y_of(q.y));
        fn(4 * j + 2, y_of(q.z));
        fn(4 * j + 3, y_of(q.w));
      }
    } else {
#pragma unroll 4
      for (int i = lo + threadIdx.x; i < hi; i += kThreads) fn(i, y_of(x[i]));
    }
  }
};

// Selection by value: each level splits the current value range [lo, lo + 256 / scale)
// into 256 equal bins (a monotone map, so every bin is an interval of y) and keeps one.
// A y belongs to the region when every level so far maps it to the kept bin.
constexpr int kMaxLevels = 8;

struct Shared {
  int count[256];
  float mass[256];
  float red[32];
  float chunk[kWarps];
  float lvl_lo[kMaxLevels], lvl_scale[kMaxLevels];
  int lvl_bin[kMaxLevels];
  int levels;
  int sel_bin, sel_remaining, sel_done;
  float sel_above;
  int pick;
  float pick_target;
  float xf;  // this CTA's value in a cluster-wide reduction
  int xi;
};

// Cluster-wide reductions of a value every thread of the CTA holds (the CTA's own
// reduction): each CTA publishes it in `slot`, then every thread combines all kC in rank
// order (identical results in every CTA). The second sync keeps a slot from being reused
// while another CTA may still read it. kC == 1: the value itself.
template <int kC, typename T, typename Op>
__device__ __forceinline__ T cluster_combine(T v, T* slot, Op op) {
  if constexpr (kC == 1) {
    return v;
  } else {
    cg::cluster_group cl = cg::this_cluster();
    if (threadIdx.x == 0) *slot = v;
    cl.sync();
    T r = *cl.map_shared_rank(slot, 0);
#pragma unroll
    for (int k = 1; k < kC; ++k) r = op(r, *cl.map_shared_rank(slot, k));
    cl.sync();
    return r;
  }
}
template <int kC>
__device__ __forceinline__ float cluster_max(float v, Shared& s) {
  return cluster_combine<kC>(block_max(v, s.red), &s.xf, [](float a, float b) { return fmaxf(a, b); });
}
template <int kC>
__device__ __forceinline__ float cluster_sum(float v, Shared& s) {
  return cluster_combine<kC>(block_sum(v), &s.xf, [](float a, float b) { return a + b; });
}
template <int kC>
__device__ __forceinline__ int cluster_min_int(int v, Shared& s) {
  return cluster_combine<kC>(v, &s.xi, [](int a, int b) { return min(a, b); });
}

__device__ __forceinline__ int bin_of(float y, float lo, float scale) {
  const float f = (y - lo) * scale;
  return f <= 0.0f ? 0 : (f >= 255.0f ? 255 : static_cast<int>(f));
}

__device__ __forceinline__ bool in_region(float y, const Shared& s, int levels) {
  if (y == -INFINITY) return false;
  for (int l = 0; l < levels; ++l) {
    if (bin_of(y, s.lvl_lo[l], s.lvl_scale[l]) != s.lvl_bin[l]) return false;
  }
  return true;
}

// Block minimum over the elements of the region after `levels` levels (the threshold:
// everything at or above it is kept).
template <int kC>
__device__ float region_min(const RowCtx& r, Shared& s, int levels) {
  float mn = INFINITY;
  r.for_each([&](int, float y) {
    if (in_region(y, s, levels)) mn = fminf(mn, y);
  });
  return -cluster_max<kC>(-mn, s);
}

// Top-k: the smallest y of the k largest (ties at it all kept); -inf keeps everything.
// Top-p (mass_mode): the smallest y whose strictly-larger mass is <= limit.
template <int kC>
__device__ float select_threshold(const RowCtx& r, float lo, float hi, bool mass_mode, int k, float limit,
                                  Shared& s) {
  int remaining = k;
  float above = 0.0f;
  int levels = 0;
  while (true) {
    const float scale = hi > lo ? 256.0f / (hi - lo) : 0.0f;
    for (int i = threadIdx.x; i < 256; i += kThreads) {
      s.count[i] = 0;
      s.mass[i] = 0.0f;
    }
    if (threadIdx.x == 0) {
      s.lvl_lo[levels] = lo;
      s.lvl_scale[levels] = scale;
    }
    __syncthreads();
    r.for_each([&](int, float y) {
      if (!in_region(y, s, levels)) return;
      const int b = bin_of(y, lo, scale);
      atomicAdd(&s.count[b], 1);
      if (mass_mode) atomicAdd(&s.mass[b], r.w_of(y));
    });
    __syncthreads();
    if constexpr (kC > 1) {  // every CTA's bins summed, in rank order, into its own
      cg::cluster_group cl = cg::this_cluster();
      cl.sync();
      int cnt = 0;
      float mass = 0.0f;
      if (threadIdx.x < 256) {
        for (int q = 0; q < kC; ++q) {
          cnt += cl.map_shared_rank(s.count, q)[threadIdx.x];
          mass += cl.map_shared_rank(s.mass, q)[threadIdx.x];
        }
      }
      cl.sync();
      if (threadIdx.x < 256) {
        s.count[threadIdx.x] = cnt;
        s.mass[threadIdx.x] = mass;
      }
      __syncthreads();
    }
    if (threadIdx.x < 32) {
      // Lane l owns bins 255 - 8l ... 248 - 8l (descending values).
      const int lane = threadIdx.x;
      int cnt = 0;
      float mass = 0.0f;
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        cnt += s.count[255 - 8 * lane - j];
        mass += s.mass[255 - 8 * lane - j];
      }
      int bin = -1, rem = 0;
      float bin_above = 0.0f;
      if (!mass_mode) {
        // The bin where the running count from the top reaches `remaining`.
        const int incl = warp_inclusive_scan(cnt);
        int run = incl - cnt;
        if (run < remaining && remaining <= incl) {
          for (int j = 0; j < 8; ++j) {
            const int d = 255 - 8 * lane - j;
            if (run + s.count[d] >= remaining) {
              bin = d;
              rem = remaining - run;
              break;
            }
            run += s.count[d];
          }
        }
      } else {
        // The lowest non-empty bin whose mass above (incl. above the region) <= limit.
        const float incl = warp_inclusive_scan(mass);
        float run = above + incl - mass;
        for (int j = 0; j < 8; ++j) {
          const int d = 255 - 8 * lane - j;
          if (s.count[d] > 0 && run <= limit) {
            bin = d;
            bin_above = run;
          }
          run += s.mass[d];
        }
      }
      const unsigned has = __ballot_sync(0xffffffffu, bin >= 0);
      // top_k: at most one lane has it; top_p: the lowest bin is in the highest lane.
      const int src = has ? 31 - __clz(has) : 0;
      const int b = __shfl_sync(0xffffffffu, bin, src);
      const int rm = __shfl_sync(0xffffffffu, rem, src);
      const float ab = __shfl_sync(0xffffffffu, bin_above, src);
      if (lane == 0) {
        s.sel_bin = has ? b : -1;
        s.sel_remaining = rm;
        s.sel_above = ab;
        // Done when the bin is one element, holds exactly what top_k still needs, or
        // its values can no longer be told apart (ties at one value stay together).
        const int c = has ? s.count[b] : 0;
        const float blo = lo + b / scale, bhi = lo + (b + 1) / scale;
        s.sel_done = !has || c <= 1 || (!mass_mode && c == rm) || scale == 0.0f ||
                     nextafterf(blo, INFINITY) >= bhi || levels + 1 >= kMaxLevels;
      }
    }
    __syncthreads();
    const int b = s.sel_bin;
    if (b < 0) return -INFINITY;  // top_k >= the finite tokens: keep them all
    if (threadIdx.x == 0) s.lvl_bin[levels] = b;
    remaining = s.sel_remaining;
    above = s.sel_above;
    const bool done = s.sel_done;
    __syncthreads();
    ++levels;
    if (done) return region_min<kC>(r, s, levels);
    const float new_lo = lo + b / scale, new_hi = lo + (b + 1) / scale;
    lo = new_lo;
    hi = new_hi;
  }
}

template <int kC>
__global__ void __launch_bounds__(kThreads)
    sample_kernel(int32_t* __restrict__ out, const float* __restrict__ logits, int v,
                  const float* __restrict__ temperature, const int32_t* __restrict__ top_k,
                  const float* __restrict__ top_p, const float* __restrict__ min_p,
                  const float* __restrict__ uniform) {
  __shared__ Shared s;
  const int row = blockIdx.x / kC;
  const int rank = kC == 1 ? 0 : static_cast<int>(blockIdx.x % kC);  // == the cluster rank
  const float* x = logits + static_cast<int64_t>(row) * v;
  const float t = temperature[row];
  const int k = top_k[row];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;

  RowCtx r;
  r.x = x;
  r.v = v;
  r.vec4 = (v % 4) == 0 && (reinterpret_cast<uintptr_t>(x) % 16) == 0;
  {
    const int per = ((v + kC - 1) / kC + 3) / 4 * 4;  // slices start on 16-byte boundaries
    r.lo = min(v, rank * per);
    r.hi = min(v, r.lo + per);
  }
  r.inv_t = 1.0f;
  r.m = 0.0f;
  r.min_p = min_p[row];
  r.inf_max = false;

  if (t <= 0.0f || k == 1) {  // greedy
    float best = -INFINITY;
    int best_i = 0x7fffffff;
    r.for_each([&](int i, float xi) {
      // Each thread visits its ids in ascending order: the first hit is its lowest id.
      if (xi > best) {
        best = xi;
        best_i = i;
      }
    });
    const float m = cluster_max<kC>(best, s);
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
      if (lane == 0) s.pick = lowest;
    }
    __syncthreads();
    lowest = cluster_min_int<kC>(s.pick, s);
    if (rank == 0 && threadIdx.x == 0) out[row] = lowest == 0x7fffffff ? -1 : lowest;
    return;
  }

  // One pass: max, smallest finite y, and the softmax sum (online, rescaled as the
  // running max grows).
  r.inv_t = 1.0f / t;
  float t_max = -INFINITY, t_min = INFINITY, t_z = 0.0f;
  r.for_each([&](int, float y) {
    if (y == -INFINITY) return;
    t_min = fminf(t_min, y);
    if (y > t_max) {
      t_z = (t_max == -INFINITY || isinf(y)) ? 0.0f : t_z * __expf(t_max - y);
      t_max = y;
    }
    t_z += isinf(t_max) ? (y == t_max ? 1.0f : 0.0f) : __expf(y - t_max);
  });
  r.m = cluster_max<kC>(t_max, s);
  if (r.m == -INFINITY) {
    if (rank == 0 && threadIdx.x == 0) out[row] = -1;
    return;
  }
  r.inf_max = isinf(r.m);
  const float y_min = -cluster_max<kC>(-t_min, s);
  float z;
  if (r.inf_max) {
    float cnt = 0.0f;
    r.for_each([&](int, float y) { cnt += y == r.m ? 1.0f : 0.0f; });
    z = cluster_sum<kC>(cnt, s);
  } else {
    z = cluster_sum<kC>(t_max == -INFINITY ? 0.0f : t_z * __expf(t_max - r.m), s);
  }

  float y_threshold = -INFINITY;
  if (k > 0 && k < v && !r.inf_max) {
    y_threshold = fmaxf(y_threshold, select_threshold<kC>(r, y_min, r.m, false, k, 0.0f, s));
  }
  const float p = top_p[row];
  if (p < 1.0f && !r.inf_max) {
    y_threshold = fmaxf(y_threshold, select_threshold<kC>(r, y_min, r.m, true, 0, p * z, s));
  }
  auto kept = [&](float yi) -> float {
    if (yi < y_threshold) return 0.0f;  // most of the row under top_k/top_p: no exp
    const float wi = r.w_of(yi);
    return (wi > 0.0f && wi >= r.min_p) ? wi : 0.0f;
  };
  // Kept mass of [lo, hi) summed by one warp (coalesced; 16-byte loads when aligned).
  auto warp_chunk_sum = [&](int lo, int hi) {
    float acc = 0.0f;
    if (r.vec4 && lo % 4 == 0 && hi % 4 == 0) {
      const float4* x4 = reinterpret_cast<const float4*>(x);
      for (int j = lo / 4 + lane; j < hi / 4; j += 32) {
        const float4 q = x4[j];
        acc += kept(r.y_of(q.x)) + kept(r.y_of(q.y)) + kept(r.y_of(q.z)) + kept(r.y_of(q.w));
      }
    } else {
      for (int i = lo + lane; i < hi; i += 32) acc += kept(r.y_of(x[i]));
    }
    return warp_sum(acc);
  };

  // Level 1: the CTA's slice in 32 warp chunks (multiples of 128 elements).
  const int c1 = ((r.hi - r.lo + kWarps - 1) / kWarps + 127) / 128 * 128;
  {
    const int lo = min(r.hi, r.lo + warp * c1), hi = min(r.hi, lo + c1);
    const float acc = warp_chunk_sum(lo, hi);
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
  float target1 = 0.0f;
  if constexpr (kC == 1) {
    pick_chunk(uniform[row], true);
    target1 = s.pick_target;
  } else {
    // Level 0: the CTA, by the running sum of the CTAs' kept mass in rank order (the
    // same in every CTA); the chosen one goes on alone, with the target left for it.
    cg::cluster_group cl = cg::this_cluster();
    if (warp == 0) {
      const float incl = warp_inclusive_scan(s.chunk[lane]);
      if (lane == 31) s.xf = incl;  // this CTA's kept mass
    }
    cl.sync();
    float total = 0.0f;
#pragma unroll
    for (int q = 0; q < kC; ++q) total += *cl.map_shared_rank(&s.xf, q);
    const float target = uniform[row] * total;
    float run = 0.0f, before_last = 0.0f;
    int chosen = -1, last = -1;
#pragma unroll
    for (int q = 0; q < kC; ++q) {
      const float c = *cl.map_shared_rank(&s.xf, q);
      if (c > 0.0f) {
        if (chosen < 0 && run + c > target) {
          chosen = q;
          target1 = target - run;
        }
        last = q;
        before_last = run;
      }
      run += c;
    }
    cl.sync();  // no CTA leaves while another may read its s.xf
    if (chosen < 0) {
      chosen = last;
      target1 = target - before_last;
    }
    if (chosen < 0) {  // nothing kept (min_p > 1)
      if (rank == 0 && threadIdx.x == 0) out[row] = -1;
      return;
    }
    if (rank != chosen) return;
    pick_chunk(target1, false);
    target1 = s.pick_target;
  }
  const int w1 = s.pick;
  if (w1 < 0) {  // nothing kept (min_p > 1)
    if (threadIdx.x == 0) out[row] = -1;
    return;
  }
  // Level 2: the chosen chunk in 32 sub-chunks.
  const int base1 = r.lo + w1 * c1, end1 = min(r.hi, base1 + c1);
  const int c2 = ((c1 + kWarps - 1) / kWarps + 3) / 4 * 4;
  {
    const int lo = min(end1, base1 + warp * c2), hi = min(end1, lo + c2);
    const float acc = warp_chunk_sum(lo, hi);
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
      const float wi = i < hi ? kept(r.y_of(x[i])) : 0.0f;
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

EnvSwitch& cluster_switch() {
  static EnvSwitch s("RADIX_SAMPLE_CLUSTER", "0", EnvSwitch::DefaultOn{});
  return s;
}
EnvSwitch& cluster_wide_switch() {
  static EnvSwitch s("RADIX_SAMPLE_CLUSTER_WIDE", "0", EnvSwitch::DefaultOn{});
  return s;
}

// A launch of `rows` rows over clusters of `width` CTAs; attr holds the cluster dimension
// the config points to.
struct ClusterLaunch {
  cudaLaunchConfig_t cfg{};
  cudaLaunchAttribute attr[1];
  ClusterLaunch(int64_t rows, int width, cudaStream_t stream) {
    cfg.gridDim = dim3(static_cast<unsigned>(rows * width));
    cfg.blockDim = dim3(kThreads);
    cfg.stream = stream;
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = static_cast<unsigned>(width);
    attr[0].val.clusterDim.y = 1;
    attr[0].val.clusterDim.z = 1;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
  }
  ClusterLaunch(const ClusterLaunch&) = delete;  // cfg points into attr
  ClusterLaunch& operator=(const ClusterLaunch&) = delete;
};

// Whether a cluster of kC sampling CTAs can be resident on this device at all (a MIG
// slice or a green context may have too few SMs in a GPC): asked once per device; a
// failed query keeps the answer "yes" (the launch itself then reports).
template <int kC>
bool clusters_fit() {
  static std::atomic<int> fits[64] = {};  // 0: not asked, 1: yes, 2: no; by device index
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) {
    cudaGetLastError();
    return true;
  }
  int known = fits[dev].load(std::memory_order_relaxed);
  if (known == 0) {
    const ClusterLaunch one(1, kC, nullptr);
    int clusters = 0;
    if (cudaOccupancyMaxActiveClusters(&clusters, sample_kernel<kC>, &one.cfg) != cudaSuccess) {
      cudaGetLastError();
      clusters = 1;
    }
    known = clusters > 0 ? 1 : 2;
    fits[dev].store(known, std::memory_order_relaxed);
  }
  return known == 1;
}

template <int kC>
cudaError_t launch_cluster(int64_t rows, cudaStream_t stream, int32_t* o, const float* x, int v, const float* t,
                           const int32_t* k, const float* tp, const float* mp, const float* u) {
  const ClusterLaunch launch(rows, kC, stream);
  return cudaLaunchKernelEx(&launch.cfg, sample_kernel<kC>, o, x, v, t, k, tp, mp, u);
}

// The cluster widths, widest first.
struct ClusterWidth {
  int ctas;
  bool (*fits)();
  cudaError_t (*launch)(int64_t, cudaStream_t, int32_t*, const float*, int, const float*, const int32_t*,
                        const float*, const float*, const float*);
};
constexpr ClusterWidth kWidths[] = {{8, clusters_fit<8>, launch_cluster<8>},
                                    {4, clusters_fit<4>, launch_cluster<4>},
                                    {2, clusters_fit<2>, launch_cluster<2>}};

// The width for n rows: 8 CTAs per row while the rows' clusters fill at most one CTA per
// SM (16 rows on 132 SMs); with the wide switch also 4 (up to 33 rows) and 2 (up to 66);
// nullptr: one CTA per row.
const ClusterWidth* cluster_width(int64_t n) {
  if (!cluster_switch().get()) return nullptr;
  const int64_t sms = std::max<int64_t>(num_sms(), kClusterCtas * kClusterMaxRows);
  for (const ClusterWidth& w : kWidths) {
    if (w.ctas < kClusterCtas && !cluster_wide_switch().get()) break;
    if (n * w.ctas <= sms && w.fits()) return &w;
  }
  return nullptr;
}

}  // namespace

bool sample_cluster_enabled() { return cluster_switch().get(); }
void set_sample_cluster_enabled(bool on) { cluster_switch().set(on); }
bool sample_cluster_wide_enabled() { return cluster_wide_switch().get(); }
void set_sample_cluster_wide_enabled(bool on) { cluster_wide_switch().set(on); }
int sample_cluster_width(int64_t rows) {
  const ClusterWidth* w = cluster_width(rows);
  return w != nullptr ? w->ctas : 1;
}

Status sample(const OpContext& ctx, const Tensor& out, const Tensor& logits, const SamplingTensors& p) {
  const int64_t n = logits.size(0);
  if (n == 0) return Status::ok();
  if (n > 0x7fffffff / kClusterCtas) return invalid_argument("sample: too many rows");
  auto stream = static_cast<cudaStream_t>(ctx.stream);
  int32_t* o = out.data_as<int32_t>();
  const float* x = logits.data_as<const float>();
  const int v = static_cast<int>(logits.size(1));
  const float* t = p.temperature.data_as<const float>();
  const int32_t* k = p.top_k.data_as<const int32_t>();
  const float* tp = p.top_p.data_as<const float>();
  const float* mp = p.min_p.data_as<const float>();
  const float* u = p.uniform.data_as<const float>();
  if (const ClusterWidth* w = cluster_width(n); w != nullptr) {
    RADIX_RETURN_IF_ERROR(cuda_status(w->launch(n, stream, o, x, v, t, k, tp, mp, u), "sample (cluster)"));
    return check_launch("sample");
  }
  sample_kernel<1><<<static_cast<unsigned>(n), kThreads, 0, stream>>>(o, x, v, t, k, tp, mp, u);
  return check_launch("sample");
}

}  // namespace radix::cuda
