// cuda::attention: picks the kernel for a step (split-KV decode when every sequence
// has at most one new token, FlashAttention-style prefill otherwise), the variant
// policy (window, soft-cap), and the head-dim instantiation from inst/registry.h.
#include <algorithm>
#include <string>

#include "kernels/cuda/attention/args.h"
#include "kernels/cuda/attention/attention_common.cuh"
#include "kernels/cuda/attention/attention_f32.h"
#include "kernels/cuda/attention/decode_mma.cuh"
#include "kernels/cuda/attention/inst/registry.h"
#include "kernels/cuda/attention/plan.h"
#include "kernels/cuda/backend.h"
#include "kernels/cuda/common/env_switch.h"
#include "kernels/cuda/cuda_ops.h"

namespace radix::cuda {

namespace {
EnvSwitch& decode_simt_switch() {
  static EnvSwitch s("RADIX_DECODE_ATTN", "simt");
  return s;
}
}  // namespace

bool decode_mma_enabled() { return !decode_simt_switch().get(); }
void set_decode_mma_enabled(bool on) { decode_simt_switch().set(!on); }

namespace {
EnvSwitch& merge_narrow_switch() {
  static EnvSwitch s("RADIX_DECODE_MERGE_BATCH", "4");
  return s;
}
}  // namespace
int decode_merge_batch() { return merge_narrow_switch().get() ? 4 : 16; }
void set_decode_merge_batch(int splits) { merge_narrow_switch().set(splits == 4); }

int decode_cta_heads(int num_q_heads, int num_kv_heads, int head_dim) {
  const int group = num_q_heads / std::max(1, num_kv_heads);
  if (attn::decode_mma_applies(head_dim, group) && decode_mma_enabled()) return num_kv_heads;
  const int head_block = group == 1 ? 1 : (group <= 4 ? 4 : 8);  // decode_kernel's query heads per CTA
  return num_kv_heads * ((group + head_block - 1) / head_block);
}

int decode_split_min_positions() {
  static const int n = static_cast<int>(env_int("RADIX_DECODE_SPLIT_MIN_POSITIONS", kMinPositionsPerSplit, 1 << 20,
                                                kMinPositionsPerSplit));
  return n;
}

int decode_num_splits(const DecodeSplitInputs& in) {
  const int64_t ctas = std::max<int64_t>(1, static_cast<int64_t>(in.batch) * in.cta_heads);
  // Whole waves: floor, not ceil, so B x heads x splits never spills a small second
  // wave onto the machine (e.g. 8 x 8 CTAs: 4 splits = 256 of 264 slots, not 5 = 320).
  int64_t splits = 2LL * std::max(1, in.num_sms) / ctas;
  const int64_t per_split = std::max(kMinPositionsPerSplit, in.min_positions);
  splits = std::min<int64_t>(splits, (in.max_kv_len + per_split - 1) / per_split);
  splits = std::min<int64_t>(splits, kMaxSplits);
  const size_t split_bytes = static_cast<size_t>(std::max(1, in.tokens)) * in.num_q_heads *
                             (in.head_dim + 1) * sizeof(float);
  splits = std::min<int64_t>(
      splits, static_cast<int64_t>(in.workspace_bytes / std::max<size_t>(1, split_bytes)));
  return static_cast<int>(std::max<int64_t>(1, splits));
}

namespace attn {

AttnArgs make_args(const OpContext& ctx, bf16* out, const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                   const AttentionParams& params) {
  AttnArgs a;
  a.q = q.data_as<const bf16>();
  a.out = out;
  a.k_cache = k_cache.data_as<const bf16>();
  a.v_cache = v_cache.data_as<const bf16>();
  a.qo_indptr = params.qo_indptr.data_as<const int32_t>();
  a.kv_indptr = params.kv_indptr.data_as<const int32_t>();
  a.kv_indices = params.kv_indices.data_as<const int32_t>();
  a.batch = static_cast<int>(params.qo_indptr.numel() - 1);
  a.tokens = static_cast<int>(q.size(0));
  a.hq = static_cast<int>(q.size(1));
  a.hk = static_cast<int>(k_cache.size(1));
  a.num_slots = k_cache.size(0);
  a.scale = params.scale;
  a.softcap = params.logit_softcap;
  a.window = params.sliding_window;
  a.max_q_len = params.max_q_len;
  a.stream = static_cast<cudaStream_t>(ctx.stream);
  if (params.max_q_len == 1 && ctx.cuda != nullptr) {
    const int d = static_cast<int>(q.size(2));
    DecodeSplitInputs in;
    in.batch = a.batch;
    in.tokens = a.tokens;
    in.num_q_heads = a.hq;
    in.cta_heads = decode_cta_heads(a.hq, a.hk, d);
    in.head_dim = d;
    in.max_kv_len = std::max(0, params.max_kv_len);
    in.num_sms = ctx.cuda->num_sms();
    in.workspace_bytes = ctx.cuda->attention_workspace_bytes();
    in.min_positions = decode_split_min_positions();
    a.num_splits = decode_num_splits(in);
    a.partial_o = static_cast<float*>(ctx.cuda->attention_workspace());
    a.partial_lse = a.partial_o + static_cast<size_t>(a.num_splits) * a.tokens * a.hq * d;
  }
  return a;
}

}  // namespace attn

Status attention(const OpContext& ctx, const Tensor& out, const Tensor& q, const Tensor& k_cache,
                 const Tensor& v_cache, const AttentionParams& params) {
  const bool f32 = attention_is_f32(out, q, k_cache, v_cache);
  if (!f32 && (q.dtype() != DType::kBF16 || out.dtype() != DType::kBF16 || k_cache.dtype() != DType::kBF16 ||
      v_cache.dtype() != DType::kBF16)) {
    return unimplemented("attention: CUDA kernels take bf16 (or all-f32) q/out and KV cache; got q " +
                         q.to_string() + ", cache " + k_cache.to_string());
  }
  const int tokens = static_cast<int>(q.size(0));
  const int batch = static_cast<int>(params.qo_indptr.numel() - 1);
  if (tokens == 0 || batch == 0) return Status::ok();
  if (params.max_q_len <= 0 || params.max_q_len > tokens) {
    return invalid_argument("attention: params.max_q_len (" + std::to_string(params.max_q_len) +
                            ") must be the step's longest q_len, in [1, T]");
  }
  if (params.logit_softcap < 0.0f) return invalid_argument("attention: negative logit_softcap");
  if (f32) return attention_f32(ctx, out, q, k_cache, v_cache, params, nullptr);
  const bool window = params.sliding_window > 0;
  const bool softcap = params.logit_softcap > 0.0f;
  const auto variant = static_cast<attn::VariantId>((window ? 1 : 0) + (softcap ? 2 : 0));
  const bool decode = params.max_q_len == 1;
  const int d = static_cast<int>(q.size(2));

  const attn::KernelEntry* entry = nullptr;
  for (const auto& e : attn::kKernels) {
    if (e.decode == decode && e.head_dim == d) entry = &e;
  }
  if (entry == nullptr) {
    return unimplemented("attention: no CUDA kernel for head dim " + std::to_string(d) +
                         " (instantiated: 64, 128, 256)");
  }

  const attn::AttnArgs a = attn::make_args(ctx, out.data_as<bf16>(), q, k_cache, v_cache, params);
  return entry->launch(a, variant);
}

}  // namespace radix::cuda
