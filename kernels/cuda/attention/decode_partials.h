// Decode attention that stops before the split merge: every split's normalized partial
// output and log-sum-exp stay in the attention workspace for a consumer that merges them
// itself (the decode chain's merge step, kernels/cuda/gemm/decode_chain.h), so the step
// has no merge kernel.
#pragma once

#include "core/status.h"
#include "core/tensor.h"
#include "kernels/ops.h"

namespace radix::cuda {

// Where the partials went: o [num_splits, T, Hq, D] f32, lse [num_splits, T, Hq].
struct DecodePartials {
  const float* o = nullptr;
  const float* lse = nullptr;
  int num_splits = 0;
  int tokens = 0, hq = 0, d = 0;
};

// Whether attention_decode_partials takes this step: decode (max_q_len 1), bf16 q and
// cache, head dim 32, 64 or 128, no soft-cap (window or not), a CudaBackend in ctx whose
// attention workspace holds at least one split's partials.
bool attention_decode_partials_applies(const OpContext& ctx, const Tensor& q, const Tensor& k_cache,
                                       const Tensor& v_cache, const AttentionParams& params);
// Launches the decode kernel ops::attention would (same splits, tensor-core or SIMT)
// with partials only. Not applicable: *launched = false and OK, nothing launched.
Status attention_decode_partials(const OpContext& ctx, const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                                 const AttentionParams& params, DecodePartials* out, bool* launched);

}  // namespace radix::cuda
