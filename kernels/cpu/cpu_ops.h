// CPU reference implementations of kernels/ops.h. Inputs are already validated by
// the dispatcher (kernels/ops.cpp). Activations f32; cache and weight tensors may be
// any float dtype (read through load_as_f32), which lets these serve as the oracle.
#pragma once

#include "kernels/ops.h"

namespace radix::cpu {

Status embedding(const Tensor& out, const Tensor& ids, const Tensor& table);
Status rms_norm(const Tensor& out, const Tensor& x, const Tensor& weight, float eps,
                float weight_offset);
Status add_rms_norm(const Tensor& out, const Tensor& residual, const Tensor& x,
                    const Tensor& weight, float eps, float weight_offset);
Status gemm(const Tensor& out, const Tensor& a, const Tensor& w, const Tensor* bias);
Status gemm_add(const Tensor& residual, const Tensor& a, const Tensor& w);
Status rms_norm_gemm(const Tensor& out, const Tensor& normed, const Tensor& x, const Tensor& norm_weight,
                     float eps, const Tensor& w, const Tensor* bias, float weight_offset);
Status rms_norm_gemm_silu(const Tensor& out, const Tensor& normed, const Tensor& gate_up, const Tensor& x,
                          const Tensor& norm_weight, float eps, const Tensor& w, float weight_offset);
Status rms_norm_mlp(const Tensor& residual, const Tensor& act, const Tensor& normed, const Tensor& gate_up,
                    const Tensor& norm_weight, float eps, const Tensor& w_gate_up, const Tensor& w_down,
                    float weight_offset);
Status rms_norm_gemm_rope_store(const Tensor& q_out, const Tensor& normed, const Tensor& qkv, const Tensor& x,
                                const Tensor& norm_weight, float eps, const Tensor& w, const Tensor* bias,
                                const Tensor& positions, const Tensor& cos_sin, RopeStyle style, const Tensor& k_cache,
                                const Tensor& v_cache, const Tensor& slots, float weight_offset);
Status rope(const Tensor& q, const Tensor& k, const Tensor& positions, const Tensor& cos_sin,
            RopeStyle style);
Status rope_qkv_store(const Tensor& q_out, const Tensor& qkv, const Tensor& positions,
                      const Tensor& cos_sin, RopeStyle style, const Tensor& k_cache,
                      const Tensor& v_cache, const Tensor& slots);
Status store_kv(const Tensor& k_cache, const Tensor& v_cache, const Tensor& k, const Tensor& v,
                const Tensor& slots);
Status attention(const Tensor& out, const Tensor& q, const Tensor& k_cache,
                 const Tensor& v_cache, const AttentionParams& params);
Status silu_and_mul(const Tensor& out, const Tensor& x);
Status gelu_tanh_and_mul(const Tensor& out, const Tensor& x);
Status gather_rows(const Tensor& out, const Tensor& x, const Tensor& index);
Status apply_token_mask(const Tensor& logits, const Tensor& masks, const Tensor& index);
Status take_pending_tokens(const Tensor& ids, const Tensor& src, const Tensor& prev);
Status add(const Tensor& out, const Tensor& a, const Tensor& b);
Status argmax(const Tensor& out, const Tensor& logits);
Status sample(const Tensor& out, const Tensor& logits, const SamplingTensors& params);
Status apply_penalties(const Tensor& logits, const ops::PenaltyTensors& params);
Status logprobs(const Tensor& logprob, const Tensor& top_ids, const Tensor& top_logprobs,
                const Tensor& logits, const Tensor& tokens);
// shared_prefix_attention.cpp
Status attention_shared_prefix(const Tensor& out, const Tensor& q, const Tensor& k_cache,
                               const Tensor& v_cache, const AttentionParams& suffix,
                               const SharedPrefix& prefix);

}  // namespace radix::cpu
