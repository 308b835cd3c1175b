// ops::logprobs on the GPU: raw log-probabilities of the sampled tokens and the top-K
// alternatives of f32 logits [N, V] (semantics in kernels/ops.h; CPU twin cpu::logprobs).
// One CTA of 512 threads per row, one pass over the row (16-byte loads when aligned):
//   - each thread keeps the max, and for the log-sum-exp an online sum of exp(x - its
//     running finite max) in f64 (exp in f32; rescaled in f64 when its max grows);
//   - each thread keeps its K best (x, id) in registers, sorted (larger x first, then
//     lower id): an unrolled compare-and-shift insert, taken only by the few elements
//     that beat the thread's current K-th;
//   - the 32 lists of a warp merge into the warp's K best (K rounds of a shuffle argmax,
//     the winning lane pops its head), then warp 0 merges the 16 warp lists the same way.
// K is a template parameter (0, 5 or 20 instantiated) so the lists stay in registers;
// the launcher picks the smallest that covers the requested columns.
#include <climits>

#include "kernels/cuda/common/cuda_utils.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace radix::cuda {
namespace {

constexpr int kThreads = 512;
constexpr int kWarps = kThreads / 32;
constexpr int kNoId = INT_MAX;  // an empty list slot: (-inf, kNoId) loses to every real id

__device__ __forceinline__ float clean(float x) {
  return isnan(x) ? -INFINITY : x;
}

// The order of the top list: larger x first; equal x by lower id.
__device__ __forceinline__ bool better(float xa, int ia, float xb, int ib) {
  return xa > xb || (xa == xb && ia < ib);
}

template <int K>
struct TopList {
  float x[K];
  int id[K];

  __device__ __forceinline__ void clear() {
#pragma unroll
    for (int j = 0; j < K; ++j) {
      x[j] = -INFINITY;
      id[j] = kNoId;
    }
  }
  __device__ __forceinline__ void insert(float v, int i) {
    if (!better(v, i, x[K - 1], id[K - 1])) return;
      // Slot j takes slot j-1 when the new entry goes above j-1, or the new entry when
      // it lands exactly at j; slot j is still unmodified when it is compared.
#pragma unroll
    for (int j = K - 1; j > 0; --j) {
      if (better(v, i, x[j - 1], id[j - 1])) {
        x[j] = x[j - 1];
        id[j] = id[j - 1];
      } else if (better(v, i, x[j], id[j])) {
        x[j] = v;
        id[j] = i;
      }
    }
    if (better(v, i, x[0], id[0])) {
      x[0] = v;
      id[0] = i;
    }
  }
  __device__ __forceinline__ void pop() {
#pragma unroll
    for (int j = 0; j + 1 < K; ++j) {
      x[j] = x[j + 1];
      id[j] = id[j + 1];
    }
    x[K - 1] = -INFINITY;
    id[K - 1] = kNoId;
  }
  // The warp's best head, by the list order (every lane gets it); the lane that held it
  // pops it. Heads are distinct ids except empty slots, and popping an empty slot is a
  // no-op.
  __device__ __forceinline__ void take_warp_best(float* bx, int* bi) {
    float vx = x[0];
    int vi = id[0];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float ox = __shfl_xor_sync(0xffffffffu, vx, o);
      const int oi = __shfl_xor_sync(0xffffffffu, vi, o);
      if (better(ox, oi, vx, vi)) {
        vx = ox;
        vi = oi;
      }
    }
    if (id[0] == vi) pop();
    *bx = vx;
    *bi = vi;
  }
};

template <>
struct TopList<0> {  // logprob of the token only
  __device__ __forceinline__ void clear() {}
  __device__ __forceinline__ void insert(float, int) {}
};

struct RowStats {
  float max = -INFINITY;   // of every x (NaN as -inf), +inf included
  float fmax = -INFINITY;  // of the finite x
  double sum = 0.0;        // sum exp(x - fmax) over the finite x
  __device__ __forceinline__ void add(float v) {
    max = fmaxf(max, v);
    if (!isfinite(v)) return;
    if (v > fmax) {
      sum = fmax == -INFINITY ? 0.0 : sum * exp(static_cast<double>(fmax) - static_cast<double>(v));
      fmax = v;
    }
    sum += static_cast<double>(expf(v - fmax));
  }
};

__device__ __forceinline__ double warp_sum_f64(double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

template <int K>
__global__ void __launch_bounds__(kThreads)
    logprobs_kernel(float* __restrict__ logprob,       // [N]
                    int32_t* __restrict__ top_ids,     // [N, k_out]
                    float* __restrict__ top_logprobs,  // [N, k_out]
                    int k_out,                         // <= K
                    const float* __restrict__ logits,  // [N, V]
                    int v,
                    const int32_t* __restrict__ tokens) {  // [N]
  constexpr int kSlots = K > 0 ? K : 1;
  __shared__ float s_x[kWarps][kSlots];
  __shared__ int s_id[kWarps][kSlots];
  __shared__ float s_max[kWarps], s_fmax[kWarps];
  __shared__ double s_sum[kWarps];
  const int row = blockIdx.x;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const float* x = logits + static_cast<int64_t>(row) * v;

  // One pass: each thread visits its ids in ascending order.
  RowStats st;
  TopList<K> top;
  top.clear();
  if (v % 4 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0) {
    const float4* x4 = reinterpret_cast<const float4*>(x);
    for (int j = threadIdx.x; j < v / 4; j += kThreads) {
      const float4 q = x4[j];
      const float e[4] = {clean(q.x), clean(q.y), clean(q.z), clean(q.w)};
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        st.add(e[c]);
        top.insert(e[c], 4 * j + c);
      }
    }
  } else {
    for (int i = threadIdx.x; i < v; i += kThreads) {
      const float e = clean(x[i]);
      st.add(e);
      top.insert(e, i);
    }
  }

  // Block max, finite max, then the sum rescaled to the block's finite max.
  {
    const float m = warp_max(st.max), fm = warp_max(st.fmax);
    if (lane == 0) {
      s_max[warp] = m;
      s_fmax[warp] = fm;
    }
  }
  __syncthreads();
  float block_max = -INFINITY, block_fmax = -INFINITY;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    block_max = fmaxf(block_max, s_max[w]);
    block_fmax = fmaxf(block_fmax, s_fmax[w]);
  }
  {
    const double mine =
        st.fmax == -INFINITY
            ? 0.0
            : st.sum * exp(static_cast<double>(st.fmax) - static_cast<double>(block_fmax));
    const double ws = warp_sum_f64(mine);
    if (lane == 0) s_sum[warp] = ws;
  }

  // Merge the thread lists into one list per warp.
  if constexpr (K > 0) {
    for (int r = 0; r < K; ++r) {
      float bx;
      int bi;
      top.take_warp_best(&bx, &bi);
      if (lane == 0) {
        s_x[warp][r] = bx;
        s_id[warp][r] = bi;
      }
    }
  }
  __syncthreads();
  if (warp != 0) return;

  double sum = 0.0;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) sum += s_sum[w];  // fixed order: reproducible
  double lse;
  if (block_max == -INFINITY) {
    lse = -static_cast<double>(INFINITY);
  } else if (isinf(block_max)) {
    lse = static_cast<double>(INFINITY);
  } else {
    lse = static_cast<double>(block_fmax) + log(sum);
  }
  if (lane == 0) {
    const int32_t t = tokens[row];
    logprob[row] =
        (t >= 0 && t < v) ? static_cast<float>(static_cast<double>(clean(x[t])) - lse) : -INFINITY;
  }
  if constexpr (K > 0) {
    // Warp 0: lane l holds warp l's list (already sorted), the other lanes empty lists.
    const int src = lane < kWarps ? lane : 0;  // no shared read out of bounds
#pragma unroll
    for (int j = 0; j < K; ++j) {
      top.x[j] = lane < kWarps ? s_x[src][j] : -INFINITY;
      top.id[j] = lane < kWarps ? s_id[src][j] : kNoId;
    }
    for (int r = 0; r < k_out; ++r) {
      float bx;
      int bi;
      top.take_warp_best(&bx, &bi);
      if (lane == 0) {
        top_ids[static_cast<int64_t>(row) * k_out + r] = bi;
        top_logprobs[static_cast<int64_t>(row) * k_out + r] =
            static_cast<float>(static_cast<double>(bx) - lse);
      }
    }
  }
}

template <int K>
Status launch(const OpContext& ctx, const Tensor& logprob, const Tensor& top_ids,
              const Tensor& top_logprobs, const Tensor& logits, const Tensor& tokens) {
  const int64_t n = logits.size(0);
  logprobs_kernel<K>
      <<<static_cast<unsigned>(n), kThreads, 0, static_cast<cudaStream_t>(ctx.stream)>>>(
          logprob.data_as<float>(), top_ids.data_as<int32_t>(), top_logprobs.data_as<float>(),
          static_cast<int>(top_ids.size(1)), logits.data_as<const float>(),
          static_cast<int>(logits.size(1)), tokens.data_as<const int32_t>());
  return check_launch("logprobs");
}

}  // namespace

Status logprobs(const OpContext& ctx, const Tensor& logprob, const Tensor& top_ids,
                const Tensor& top_logprobs, const Tensor& logits, const Tensor& tokens) {
  const int64_t n = logits.size(0), k = top_ids.size(1);
  if (n == 0) return Status::ok();
  if (n > 0x7fffffff) return invalid_argument("logprobs: too many rows");
  static_assert(ops::kMaxTopLogprobs == 20, "instantiate a TopList for the new limit");
  if (k == 0) return launch<0>(ctx, logprob, top_ids, top_logprobs, logits, tokens);
  if (k <= 5) return launch<5>(ctx, logprob, top_ids, top_logprobs, logits, tokens);
  return launch<20>(ctx, logprob, top_ids, top_logprobs, logits, tokens);
}

}  // namespace radix::cuda
