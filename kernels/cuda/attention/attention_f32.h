// The f32 attention kernel (attention_f32.cu) behind ops::attention and
// ops::attention_shared_prefix on CUDA when q, out and the KV cache are all f32 (the
// float32 model mode). Shapes are checked by the ops layer.
#pragma once

#include "core/status.h"
#include "core/tensor.h"
#include "kernels/ops.h"

namespace radix::cuda {

bool attention_is_f32(const Tensor& out, const Tensor& q, const Tensor& k_cache, const Tensor& v_cache);
// prefix: nullptr (ops::attention) or the step's shared-prefix groups.
Status attention_f32(const OpContext& ctx, const Tensor& out, const Tensor& q, const Tensor& k_cache,
                     const Tensor& v_cache, const AttentionParams& params, const SharedPrefix* prefix);

}  // namespace radix::cuda
