// CUDA fused ops written alongside the model code (the attention prologue). Same
// contract as kernels/ops.h; the dispatcher has validated the arguments.
#pragma once

#include "kernels/ops.h"

namespace radix::cuda {

Status rope_qkv_store(const OpContext& ctx, const Tensor& q_out, const Tensor& qkv,
                      const Tensor& positions, const Tensor& cos_sin, RopeStyle style,
                      const Tensor& k_cache, const Tensor& v_cache, const Tensor& slots);

}  // namespace radix::cuda
