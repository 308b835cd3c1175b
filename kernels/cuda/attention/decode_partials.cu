// attention_decode_partials (decode_partials.h): the decode kernels of decode.cuh with
// kPartialsOnly, for head dims 32/64/128 and the causal and window variants.
#include "kernels/cuda/attention/decode_partials.h"

#include "kernels/cuda/attention/args.h"
#include "kernels/cuda/attention/decode.cuh"
#include "kernels/cuda/backend.h"

namespace radix::cuda {
namespace {

template <int kD>
Status launch_partials(const attn::AttnArgs& a, bool window) {
  return window ? attn::launch_decode<kD, attn::WindowVariant, true>(a)
                : attn::launch_decode<kD, attn::CausalVariant, true>(a);
}

}  // namespace

bool attention_decode_partials_applies(const OpContext& ctx, const Tensor& q, const Tensor& k_cache,
                                       const Tensor& v_cache, const AttentionParams& params) {
  if (ctx.cuda == nullptr || params.max_q_len != 1 || params.logit_softcap != 0.0f) return false;
  if (q.ndim() != 3 || k_cache.ndim() != 3 || q.dtype() != DType::kBF16 || k_cache.dtype() != DType::kBF16 ||
      v_cache.dtype() != DType::kBF16 || v_cache.shape() != k_cache.shape() || k_cache.size(2) != q.size(2)) {
    return false;
  }
  const int64_t d = q.size(2), hq = q.size(1), hk = k_cache.size(1);
  if ((d != 32 && d != 64 && d != 128) || hk < 1 || hq % hk != 0) return false;
  if (q.size(0) < 1 || params.qo_indptr.numel() < 2 || params.kv_indptr.numel() != params.qo_indptr.numel() ||
      params.qo_indptr.dtype() != DType::kI32 || params.kv_indptr.dtype() != DType::kI32 ||
      params.kv_indices.dtype() != DType::kI32) {
    return false;
  }
  // At least one split's partials fit the workspace (the plan may pick more).
  return ctx.cuda->attention_workspace() != nullptr &&
         ctx.cuda->attention_workspace_bytes() >= static_cast<size_t>(q.size(0) * hq * (d + 1)) * sizeof(float);
}

Status attention_decode_partials(const OpContext& ctx, const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                                 const AttentionParams& params, DecodePartials* out, bool* launched) {
  *launched = false;
  if (!attention_decode_partials_applies(ctx, q, k_cache, v_cache, params)) return Status::ok();
  const attn::AttnArgs a = attn::make_args(ctx, nullptr, q, k_cache, v_cache, params);
  const int d = static_cast<int>(q.size(2));
  // Every split writes partials here (decode_num_splits keeps at least one split even
  // when the workspace is smaller than that).
  const size_t need = static_cast<size_t>(a.num_splits) * a.tokens * a.hq * (d + 1) * sizeof(float);
  if (need > ctx.cuda->attention_workspace_bytes()) return Status::ok();
  const bool window = params.sliding_window > 0;
  switch (d) {
    case 128: RADIX_RETURN_IF_ERROR(launch_partials<128>(a, window)); break;
    case 64: RADIX_RETURN_IF_ERROR(launch_partials<64>(a, window)); break;
    default: RADIX_RETURN_IF_ERROR(launch_partials<32>(a, window)); break;
  }
  *launched = true;
  *out = DecodePartials{a.partial_o, a.partial_lse, a.num_splits, a.tokens, a.hq, d};
  return Status::ok();
}

}  // namespace radix::cuda
