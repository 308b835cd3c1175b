// cuda::gemm and the fused projections of kernels/ops.h. Decode-sized GEMVs (M <= 4) go
// to our own kernel (gemv.cu), with the RMSNorm prologue, residual accumulate or
// SiLU-and-mul epilogue fused in; GEMMs of gemv_mma_min_rows()..gemv_mma_max_rows() rows
// (default 3..4) go to the tensor-core one (gemv_mma.cu), fused ones included (after an
// rms_norm kernel: it fuses no norm); everything else runs the unfused sequence, its GEMM
// through CudaBackend::matmul (plan cache, cuBLASLt call; beta = 1 for gemm_add), which
// owns the handle and workspace.
#include "kernels/cuda/backend.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/fused_ops.h"
#include "kernels/cuda/gemm/decode_chain.h"
#include "kernels/cuda/gemm/gemv.h"
#include "kernels/cuda/gemm/gemv_mma.h"

namespace radix::cuda {
namespace {

GemvFusion norm_fusion(const Tensor& norm_weight, float eps, float weight_offset) {
  GemvFusion f;
  f.norm_weight = &norm_weight;
  f.eps = eps;
  f.norm_offset = weight_offset;
  return f;
}

Status need_backend(const OpContext& ctx, const char* op) {
  if (ctx.cuda == nullptr) return invalid_argument(std::string(op) + ": OpContext has no CudaBackend");
  return Status::ok();
}

}  // namespace

Status gemm(const OpContext& ctx, const Tensor& out, const Tensor& a, const Tensor& w,
            const Tensor* bias) {
  RADIX_RETURN_IF_ERROR(need_backend(ctx, "gemm"));
  if (gemv_mma_applies(out, a, w, bias, false)) return gemv_mma(out, a, w, bias, ctx.stream, false);
  if (gemv_applies(out, a, w, bias)) return gemv(out, a, w, bias, ctx.stream);
  return ctx.cuda->matmul(out, a, w, bias, ctx.stream);
}

Status gemm_add(const OpContext& ctx, const Tensor& residual, const Tensor& a, const Tensor& w) {
  RADIX_RETURN_IF_ERROR(need_backend(ctx, "gemm_add"));
  GemvFusion f;
  f.accumulate = true;
  if (gemv_mma_applies(residual, a, w, nullptr, true)) return gemv_mma(residual, a, w, nullptr, ctx.stream, true);
  if (gemv_applies(residual, a, w, nullptr, f)) return gemv(residual, a, w, nullptr, ctx.stream, f);
  return ctx.cuda->matmul(residual, a, w, nullptr, ctx.stream, /*accumulate=*/true);
}

Status rms_norm_gemm(const OpContext& ctx, const Tensor& out, const Tensor& normed, const Tensor& x,
                     const Tensor& norm_weight, float eps, const Tensor& w, const Tensor* bias,
                     float weight_offset) {
  RADIX_RETURN_IF_ERROR(need_backend(ctx, "rms_norm_gemm"));
  const GemvFusion f = norm_fusion(norm_weight, eps, weight_offset);
  if (gemv_applies(out, x, w, bias, f)) return gemv(out, x, w, bias, ctx.stream, f);
  RADIX_RETURN_IF_ERROR(rms_norm(ctx, normed, x, norm_weight, eps, weight_offset));
  return gemm(ctx, out, normed, w, bias);
}

Status rms_norm_gemm_silu(const OpContext& ctx, const Tensor& out, const Tensor& normed, const Tensor& gate_up,
                          const Tensor& x, const Tensor& norm_weight, float eps, const Tensor& w,
                          float weight_offset) {
  RADIX_RETURN_IF_ERROR(need_backend(ctx, "rms_norm_gemm_silu"));
  GemvFusion f = norm_fusion(norm_weight, eps, weight_offset);
  f.silu_mul = true;
  // The tensor-core kernel where it takes these rows (an rms_norm kernel first), else the
  // GEMV with the norm fused in.
  const bool mma = gemv_mma_applies(out, normed, w, nullptr, false, true);
  if (!mma && gemv_applies(out, x, w, nullptr, f)) return gemv(out, x, w, nullptr, ctx.stream, f);
  RADIX_RETURN_IF_ERROR(rms_norm(ctx, normed, x, norm_weight, eps, weight_offset));
  if (mma) return gemv_mma(out, normed, w, nullptr, ctx.stream, false, true);  // no gate_up round trip
  RADIX_RETURN_IF_ERROR(gemm(ctx, gate_up, normed, w, nullptr));
  return silu_and_mul(ctx, out, gate_up);
}

Status rms_norm_mlp(const OpContext& ctx, const Tensor& residual, const Tensor& act, const Tensor& normed,
                    const Tensor& gate_up, const Tensor& norm_weight, float eps, const Tensor& w_gate_up,
                    const Tensor& w_down, float weight_offset) {
  RADIX_RETURN_IF_ERROR(need_backend(ctx, "rms_norm_mlp"));
  RADIX_RETURN_IF_ERROR(
      rms_norm_gemm_silu(ctx, act, normed, gate_up, residual, norm_weight, eps, w_gate_up, weight_offset));
  return gemm_add(ctx, residual, act, w_down);
}

Status rms_norm_gemm_rope_store(const OpContext& ctx, const Tensor& q_out, const Tensor& normed, const Tensor& qkv,
                                const Tensor& x, const Tensor& norm_weight, float eps, const Tensor& w,
                                const Tensor* bias, const Tensor& positions, const Tensor& cos_sin, RopeStyle style,
                                const Tensor& k_cache, const Tensor& v_cache, const Tensor& slots,
                                float weight_offset) {
  RADIX_RETURN_IF_ERROR(need_backend(ctx, "rms_norm_gemm_rope_store"));
  GemvRope rope{&q_out, &positions, &cos_sin, &k_cache, &v_cache, &slots};
  GemvFusion f = norm_fusion(norm_weight, eps, weight_offset);
  f.rope = &rope;
  const bool mma = style == RopeStyle::kNeox && gemv_mma_rope_applies(normed, w, bias, rope);  // as above
  if (!mma && style == RopeStyle::kNeox && gemv_applies(qkv, x, w, bias, f)) return gemv(qkv, x, w, bias, ctx.stream, f);
  if (mma) {
    RADIX_RETURN_IF_ERROR(rms_norm(ctx, normed, x, norm_weight, eps, weight_offset));
    return gemv_mma_rope(normed, w, bias, rope, ctx.stream);  // no qkv round trip, no rope kernel
  }
  RADIX_RETURN_IF_ERROR(rms_norm_gemm(ctx, qkv, normed, x, norm_weight, eps, w, bias, weight_offset));
  return rope_qkv_store(ctx, q_out, qkv, positions, cos_sin, style, k_cache, v_cache, slots);
}

Status decode_layer_tail(const OpContext& ctx, const Tensor& residual, const ops::LayerTail& t, bool* taken) {
  *taken = false;
  // With the attention: not taken; the dispatcher runs the attention op, then the rest.
  if (t.attn != nullptr) return Status::ok();
  ChainPhase ph[kChainMaxPhases];
  int n = 0;
  if (t.o_proj != nullptr) {
    ph[n++] = ChainPhase{ChainPhase::kAccumulate, t.attn_out, t.o_proj, nullptr, &residual, nullptr, nullptr};
  }
  if (t.w_gate_up != nullptr) {
    ph[n++] = ChainPhase{ChainPhase::kSiluMul, &residual, t.w_gate_up, t.post_norm, t.act, nullptr, nullptr};
    ph[n++] = ChainPhase{ChainPhase::kAccumulate, t.act, t.w_down, nullptr, &residual, nullptr, nullptr};
  }
  GemvRope rope{t.q_out, t.positions, t.cos_sin, t.k_cache, t.v_cache, t.slots};
  if (t.w_qkv != nullptr) {
    ph[n++] = ChainPhase{ChainPhase::kRopeStore, &residual, t.w_qkv, t.input_norm, nullptr, t.qkv_bias, &rope};
  }
  if (n == 0 || ctx.cuda == nullptr) return Status::ok();
  static_assert(kChainCounters <= CudaBackend::kSyncCounters);
  unsigned long long* counters = ctx.cuda->sync_counters();
  return decode_chain(ph, n, t.eps, t.weight_offset, ctx.stream, counters, taken);
}

}  // namespace radix::cuda
