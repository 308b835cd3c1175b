// f32 attention for the float32 model mode (`--dtype float32`, the mode the golden
// tests compare greedy continuations in): ops::attention and ops::attention_shared_prefix
// when q, out and the KV cache are f32. Correctness, not speed: one warp per (token, q
// head) walks the token's visible context position by position with an online softmax
// in f32 (lanes hold D / 32 dims of q and of the accumulator; the score is a warp sum).
// Serving runs bf16 through the tensor-core kernels of attention.cu / shared_prefix.cu.
//
// The context of token t of sequence b: its group's shared prefix (attention_shared_prefix
// only; prefix_indices) followed by the sequence's own kv_indices; the query sits at
// position ctx_len - q_len + i and sees positions <= that one (> that one - window with a
// sliding window). A slot outside [0, num_slots) reads as a zero row, as in the bf16
// kernels.
#include <cmath>
#include <string>

#include "kernels/cuda/attention/attention_f32.h"
#include "kernels/cuda/common/cuda_utils.cuh"

namespace radix::cuda {
namespace {

constexpr int kWarpsPerCta = 4;
constexpr int kMaxHeadDim = 256;
constexpr int kDimsPerLane = kMaxHeadDim / 32;

struct F32Args {
  const float* q;
  float* out;
  const float* k_cache;
  const float* v_cache;
  const int32_t* qo_indptr;
  const int32_t* kv_indptr;
  const int32_t* kv_indices;
  const int32_t* group_of_seq;    // nullptr: no shared prefixes
  const int32_t* prefix_indptr;
  const int32_t* prefix_indices;
  int num_groups;
  int batch, tokens, hq, hk, d;
  int64_t num_slots;
  float scale, softcap;
  int window;
};

__global__ void __launch_bounds__(kWarpsPerCta * 32) attention_f32_kernel(const F32Args a) {
  const int64_t warp = static_cast<int64_t>(blockIdx.x) * kWarpsPerCta + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (warp >= static_cast<int64_t>(a.tokens) * a.hq) return;
  const int t = static_cast<int>(warp / a.hq), h = static_cast<int>(warp % a.hq);
  const int kvh = h / (a.hq / a.hk);
  // The sequence of token t: qo_indptr[b] <= t < qo_indptr[b + 1] (empty sequences skipped).
  int lo = 0, hi = a.batch;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (a.qo_indptr[mid] <= t) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  const int b = lo;
  const int q_len = a.qo_indptr[b + 1] - a.qo_indptr[b];
  const int i = t - a.qo_indptr[b];
  const int own = a.kv_indptr[b + 1] - a.kv_indptr[b];
  int g = a.group_of_seq != nullptr ? a.group_of_seq[b] : -1;
  if (g >= a.num_groups) g = -1;
  const int plen = g >= 0 ? a.prefix_indptr[g + 1] - a.prefix_indptr[g] : 0;
  const int pos = plen + own - q_len + i;
  const int first = a.window > 0 ? max(0, pos - a.window + 1) : 0;

  float qv[kDimsPerLane], acc[kDimsPerLane];
  const float* qrow = a.q + (static_cast<int64_t>(t) * a.hq + h) * a.d;
#pragma unroll
  for (int j = 0; j < kDimsPerLane; ++j) {
    const int dd = lane + 32 * j;
    qv[j] = dd < a.d ? qrow[dd] : 0.0f;
    acc[j] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (int p = first; p <= pos; ++p) {
    const int32_t slot =
        p < plen ? a.prefix_indices[a.prefix_indptr[g] + p] : a.kv_indices[a.kv_indptr[b] + p - plen];
    const bool valid = slot >= 0 && slot < a.num_slots;
    const int64_t row = (static_cast<int64_t>(valid ? slot : 0) * a.hk + kvh) * a.d;
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < kDimsPerLane; ++j) {
      const int dd = lane + 32 * j;
      if (dd < a.d && valid) s = fmaf(qv[j], a.k_cache[row + dd], s);
    }
    s = warp_sum(s) * a.scale;
    if (a.softcap > 0.0f) s = a.softcap * tanhf(s / a.softcap);
    const float m_new = fmaxf(m, s);
    const float corr = expf(m - m_new);  // 0 on the first position (m = -inf)
    const float w = expf(s - m_new);
    l = l * corr + w;
#pragma unroll
    for (int j = 0; j < kDimsPerLane; ++j) {
      const int dd = lane + 32 * j;
      const float v = dd < a.d && valid ? a.v_cache[row + dd] : 0.0f;
      acc[j] = fmaf(w, v, acc[j] * corr);
    }
    m = m_new;
  }
  float* orow = a.out + (static_cast<int64_t>(t) * a.hq + h) * a.d;
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
  for (int j = 0; j < kDimsPerLane; ++j) {
    const int dd = lane + 32 * j;
    if (dd < a.d) orow[dd] = acc[j] * inv;
  }
}

}  // namespace

bool attention_is_f32(const Tensor& out, const Tensor& q, const Tensor& k_cache, const Tensor& v_cache) {
  return q.dtype() == DType::kF32 && out.dtype() == DType::kF32 && k_cache.dtype() == DType::kF32 &&
         v_cache.dtype() == DType::kF32;
}

Status attention_f32(const OpContext& ctx, const Tensor& out, const Tensor& q, const Tensor& k_cache,
                     const Tensor& v_cache, const AttentionParams& params, const SharedPrefix* prefix) {
  const int tokens = static_cast<int>(q.size(0));
  const int batch = static_cast<int>(params.qo_indptr.numel() - 1);
  if (tokens == 0 || batch <= 0 || q.size(1) == 0) return Status::ok();
  const int d = static_cast<int>(q.size(2));
  if (d < 1 || d > kMaxHeadDim) {
    return unimplemented("attention: the f32 CUDA kernel takes head dims up to 256, got " + std::to_string(d));
  }
  F32Args a{};
  a.q = q.data_as<const float>();
  a.out = out.data_as<float>();
  a.k_cache = k_cache.data_as<const float>();
  a.v_cache = v_cache.data_as<const float>();
  a.qo_indptr = params.qo_indptr.data_as<const int32_t>();
  a.kv_indptr = params.kv_indptr.data_as<const int32_t>();
  a.kv_indices = params.kv_indices.data_as<const int32_t>();
  if (prefix != nullptr && prefix->num_groups > 0) {
    a.group_of_seq = prefix->group_of_seq.data_as<const int32_t>();
    a.prefix_indptr = prefix->prefix_indptr.data_as<const int32_t>();
    a.prefix_indices = prefix->prefix_indices.data_as<const int32_t>();
    a.num_groups = prefix->num_groups;
  }
  a.batch = batch;
  a.tokens = tokens;
  a.hq = static_cast<int>(q.size(1));
  a.hk = static_cast<int>(k_cache.size(1));
  a.d = d;
  a.num_slots = k_cache.size(0);
  a.scale = params.scale;
  a.softcap = params.logit_softcap;
  a.window = params.sliding_window;
  const int64_t warps = static_cast<int64_t>(tokens) * a.hq;
  const int64_t grid = (warps + kWarpsPerCta - 1) / kWarpsPerCta;
  if (grid > 0x7fffffff) return invalid_argument("attention: too many (token, head) pairs for the f32 kernel");
  attention_f32_kernel<<<static_cast<unsigned>(grid), kWarpsPerCta * 32, 0, static_cast<cudaStream_t>(ctx.stream)>>>(a);
  return cuda_status(cudaGetLastError(), "attention_f32");
}

}  // namespace radix::cuda
