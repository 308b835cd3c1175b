// cuda::attention_shared_prefix: plans the cascade decode (plan_shared_prefix, below)
// and runs the head dim's instantiation of launch_shared_prefix (shared_prefix.cuh,
// inst/shared_prefix_*.cu): three launches on ctx.stream, each with programmatic
// dependent launch:
//   1. prefix pass: per (group, KV head, prefix split, row block) -> planes [0, P);
//   2. suffix pass: the decode kernel (decode.cuh) over each sequence's own positions,
//      writing partials even for one split -> planes [P, P + S);
//   3. merge: per (sequence, query head), the planes that sequence has -> out.
// Workspace (CudaBackend's attention workspace): partial_o [P + S, T, Hq, D] f32, then
// partial_lse [P + S, T, Hq] f32.
#include <algorithm>
#include <string>

#include "kernels/cuda/attention/attention_f32.h"
#include "kernels/cuda/attention/attention_common.cuh"
#include "kernels/cuda/attention/inst/registry.h"
#include "kernels/cuda/attention/plan.h"
#include "kernels/cuda/backend.h"
#include "kernels/cuda/cuda_ops.h"

namespace radix::cuda {

Result<SharedPrefixPlan> plan_shared_prefix(const SharedPrefixPlanInputs& in) {
  SharedPrefixPlan plan;
  const int group = in.num_q_heads / std::max(1, in.num_kv_heads);
  const int64_t rows = static_cast<int64_t>(std::max(1, in.max_group_size)) * group;
  plan.row_blocks = static_cast<int>(
      std::clamp<int64_t>((rows + kPrefixRowsPerCta - 1) / kPrefixRowsPerCta, 1, 65535));
  if (in.num_groups > 0) {
    const int64_t ctas = static_cast<int64_t>(in.num_groups) * in.num_kv_heads * plan.row_blocks;
    int64_t splits = 2LL * std::max(1, in.num_sms) / std::max<int64_t>(1, ctas);
    splits = std::min<int64_t>(splits,
                               (in.max_prefix_len + kMinPrefixPerSplit - 1) / kMinPrefixPerSplit);
    plan.prefix_splits = static_cast<int>(std::clamp<int64_t>(splits, 1, kMaxSplits));
  }
  const size_t plane = static_cast<size_t>(std::max(1, in.tokens)) * in.num_q_heads *
                       (in.head_dim + 1) * sizeof(float);
  const size_t planes = in.workspace_bytes / plane;
  const size_t need = (plan.prefix_splits > 0 ? 1 : 0) + 1;
  if (planes < need) {
    return resource_exhausted(
        "attention_shared_prefix: the attention workspace (" +
        std::to_string(in.workspace_bytes >> 20) + " MiB) holds " + std::to_string(planes) +
        " partial planes of T x Hq x (D + 1) f32 (T = " + std::to_string(in.tokens) +
        "); this step needs " + std::to_string(need) +
        ": run fewer tokens per step or raise CudaBackendOptions::attention_workspace_bytes");
  }
  plan.prefix_splits = static_cast<int>(std::min<size_t>(plan.prefix_splits, planes - 1));
  DecodeSplitInputs d;
  d.batch = in.batch;
  d.tokens = in.tokens;
  d.num_q_heads = in.num_q_heads;
  d.cta_heads = decode_cta_heads(in.num_q_heads, in.num_kv_heads, in.head_dim);  // as the decode launcher forms them
  d.head_dim = in.head_dim;
  d.max_kv_len = std::max(0, in.max_suffix_len);
  d.num_sms = in.num_sms;
  d.workspace_bytes = (planes - plan.prefix_splits) * plane;
  plan.suffix_splits = decode_num_splits(d);
  return plan;
}

namespace {

const attn::SharedPrefixEntry* find_shared_prefix_kernel(int head_dim) {
  for (const auto& e : attn::kSharedPrefixKernels) {
    if (e.head_dim == head_dim) return &e;
  }
  return nullptr;
}

}  // namespace

Status attention_shared_prefix(const OpContext& ctx, const Tensor& out, const Tensor& q,
                               const Tensor& k_cache, const Tensor& v_cache,
                               const AttentionParams& suffix, const SharedPrefix& prefix) {
  if (attention_is_f32(out, q, k_cache, v_cache)) return attention_f32(ctx, out, q, k_cache, v_cache, suffix, &prefix);
  if (q.dtype() != DType::kBF16 || out.dtype() != DType::kBF16 || k_cache.dtype() != DType::kBF16 ||
      v_cache.dtype() != DType::kBF16) {
    return unimplemented(
        "attention_shared_prefix: CUDA kernels take bf16 (or all-f32) q/out and KV cache; got q " +
        q.to_string() + ", cache " + k_cache.to_string());
  }
  if (ctx.cuda == nullptr) {
    return invalid_argument(
        "attention_shared_prefix: needs ctx.cuda (its attention workspace holds the partials)");
  }
  const int tokens = static_cast<int>(q.size(0));
  const int batch = static_cast<int>(suffix.qo_indptr.numel() - 1);
  if (tokens == 0 || batch == 0 || q.size(1) == 0) return Status::ok();
  const int d = static_cast<int>(q.size(2));
  const attn::SharedPrefixEntry* kernel = find_shared_prefix_kernel(d);
  if (kernel == nullptr) {
    return unimplemented("attention_shared_prefix: no CUDA kernel for head dim " +
                         std::to_string(d));
  }
  const bool window = suffix.sliding_window > 0;
  const bool softcap = suffix.logit_softcap > 0.0f;
  const auto variant = static_cast<attn::VariantId>((window ? 1 : 0) + (softcap ? 2 : 0));

  SharedPrefixPlanInputs in;
  in.batch = batch;
  in.tokens = tokens;
  in.num_q_heads = static_cast<int>(q.size(1));
  in.num_kv_heads = static_cast<int>(k_cache.size(1));
  in.head_dim = d;
  in.num_groups = prefix.num_groups;
  in.max_prefix_len = prefix.max_prefix_len;
  in.max_group_size = prefix.max_group_size;
  in.max_suffix_len = suffix.max_kv_len;
  in.num_sms = ctx.cuda->num_sms();
  in.workspace_bytes = ctx.cuda->attention_workspace_bytes();
  RADIX_ASSIGN_OR_RETURN(const SharedPrefixPlan plan, plan_shared_prefix(in));

  attn::SharedPrefixArgs a;
  attn::AttnArgs& at = a.attn;
  at.q = q.data_as<const bf16>();
  at.out = out.data_as<bf16>();
  at.k_cache = k_cache.data_as<const bf16>();
  at.v_cache = v_cache.data_as<const bf16>();
  at.qo_indptr = suffix.qo_indptr.data_as<const int32_t>();
  at.kv_indptr = suffix.kv_indptr.data_as<const int32_t>();
  at.kv_indices = suffix.kv_indices.data_as<const int32_t>();
  at.batch = batch;
  at.tokens = tokens;
  at.hq = in.num_q_heads;
  at.hk = in.num_kv_heads;
  at.num_slots = k_cache.size(0);
  at.scale = suffix.scale;
  at.softcap = suffix.logit_softcap;
  at.window = suffix.sliding_window;
  at.max_q_len = 1;
  at.stream = static_cast<cudaStream_t>(ctx.stream);
  a.group_of_seq = prefix.group_of_seq.data_as<const int32_t>();
  a.prefix_indptr = prefix.prefix_indptr.data_as<const int32_t>();
  a.prefix_indices = prefix.prefix_indices.data_as<const int32_t>();
  a.num_groups = prefix.num_groups;
  a.row_blocks = plan.row_blocks;
  a.prefix_splits = plan.prefix_splits;
  a.suffix_splits = plan.suffix_splits;
  const size_t plane = static_cast<size_t>(tokens) * at.hq;
  a.partial_o = static_cast<float*>(ctx.cuda->attention_workspace());
  a.partial_lse = a.partial_o + (plan.prefix_splits + plan.suffix_splits) * plane * d;

  return kernel->launch(a, variant);
}

}  // namespace radix::cuda
