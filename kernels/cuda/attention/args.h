// The kernel arguments of a bf16 attention step, for ops::attention's CUDA path
// (attention.cu, its only user).
#pragma once

#include "kernels/cuda/attention/attention_common.cuh"
#include "kernels/ops.h"

namespace radix::cuda::attn {

// Pointers, shapes and the variant's scalars of q / the cache / params; at decode
// (max_q_len 1) with a CudaBackend also the split plan (decode_num_splits) and the
// partials' places in its attention workspace.
AttnArgs make_args(const OpContext& ctx, bf16* out, const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                   const AttentionParams& params);

}  // namespace radix::cuda::attn
