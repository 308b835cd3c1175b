// Dispatcher for kernels/ops.h: validates shapes, dtypes and devices once (so both
// backends see only well-formed calls) and forwards to the backend of ctx.device.
#include "kernels/ops.h"

#include <string>
#include <vector>

#include "kernels/cpu/cpu_ops.h"
#ifdef RADIX_HAS_CUDA_KERNELS
#include "kernels/cuda/fused_ops.h"
#if __has_include("kernels/cuda/cuda_ops.h")
#include "kernels/cuda/cuda_ops.h"
#endif
#endif

namespace radix::ops {
namespace {

Status fail(const char* op, const std::string& what) {
  return invalid_argument(std::string(op) + ": " + what);
}

// Every tensor must live on ctx.device and be contiguous.
Status check_tensors(const char* op, const OpContext& ctx, std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts) {
    if (!(t->device() == ctx.device)) {
      return fail(op, "tensor " + t->to_string() + " is not on " + ctx.device.to_string());
    }
    if (!t->is_contiguous()) return fail(op, "tensor " + t->to_string() + " is not contiguous");
  }
  return Status::ok();
}

Status check_dtype(const char* op, const Tensor& t, DType want) {
  if (t.dtype() != want) {
    return fail(op, "expected " + std::string(dtype_name(want)) + ", got " + t.to_string());
  }
  return Status::ok();
}

Status check_same_shape(const char* op, const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return fail(op, "shape mismatch " + a.to_string() + " vs " + b.to_string());
  return Status::ok();
}

Status check_ndim(const char* op, const Tensor& t, int n) {
  if (t.ndim() != n) return fail(op, "expected " + std::to_string(n) + "-D tensor, got " + t.to_string());
  return Status::ok();
}

// Activations: f32 on CPU; f32/bf16/f16 on CUDA.
Status check_activation(const char* op, const OpContext& ctx, const Tensor& t) {
  if (ctx.device.is_cpu()) return check_dtype(op, t, DType::kF32);
  if (t.dtype() != DType::kF32 && t.dtype() != DType::kBF16 && t.dtype() != DType::kF16) {
    return fail(op, "unsupported activation dtype " + t.to_string());
  }
  return Status::ok();
}

[[maybe_unused]] Status no_cuda(const char* op) {
  return unimplemented(std::string(op) + ": this radix build has no CUDA kernels");
}

}  // namespace

#ifdef RADIX_HAS_CUDA_KERNELS
#define RADIX_DISPATCH(op, ...)                                                   \
  return ctx.device.is_cpu() ? cpu::op(__VA_ARGS__) : cuda::op(ctx, __VA_ARGS__)
#else
#define RADIX_DISPATCH(op, ...) \
  return ctx.device.is_cpu() ? cpu::op(__VA_ARGS__) : no_cuda(#op)
#endif

Status embedding(const OpContext& ctx, const Tensor& out, const Tensor& ids, const Tensor& table) {
  RADIX_RETURN_IF_ERROR(check_tensors("embedding", ctx, {&out, &ids, &table}));
  RADIX_RETURN_IF_ERROR(check_dtype("embedding", ids, DType::kI32));
  RADIX_RETURN_IF_ERROR(check_ndim("embedding", table, 2));
  RADIX_RETURN_IF_ERROR(check_activation("embedding", ctx, out));
  if (out.ndim() != 2 || out.size(0) != ids.numel() || out.size(1) != table.size(1)) {
    return fail("embedding", "out " + out.to_string() + " for ids " + ids.to_string() +
                                 " and table " + table.to_string());
  }
  if (ctx.device.is_cpu()) {
    for (int64_t i = 0; i < ids.numel(); ++i) {
      const int32_t id = ids.data_as<const int32_t>()[i];
      if (id < 0 || id >= table.size(0)) {
        return out_of_range("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                            std::to_string(table.size(0)) + ")");
      }
    }
  }
  RADIX_DISPATCH(embedding, out, ids, table);
}

Status rms_norm(const OpContext& ctx, const Tensor& out, const Tensor& x, const Tensor& weight,
                float eps, float weight_offset) {
  RADIX_RETURN_IF_ERROR(check_tensors("rms_norm", ctx, {&out, &x, &weight}));
  RADIX_RETURN_IF_ERROR(check_activation("rms_norm", ctx, x));
  RADIX_RETURN_IF_ERROR(check_same_shape("rms_norm", out, x));
  if (weight.numel() != x.size(-1)) return fail("rms_norm", "weight " + weight.to_string());
  RADIX_DISPATCH(rms_norm, out, x, weight, eps, weight_offset);
}

Status add_rms_norm(const OpContext& ctx, const Tensor& out, const Tensor& residual,
                    const Tensor& x, const Tensor& weight, float eps, float weight_offset) {
  RADIX_RETURN_IF_ERROR(check_tensors("add_rms_norm", ctx, {&out, &residual, &x, &weight}));
  RADIX_RETURN_IF_ERROR(check_activation("add_rms_norm", ctx, x));
  RADIX_RETURN_IF_ERROR(check_same_shape("add_rms_norm", out, x));
  RADIX_RETURN_IF_ERROR(check_same_shape("add_rms_norm", residual, x));
  if (weight.numel() != x.size(-1)) return fail("add_rms_norm", "weight " + weight.to_string());
  RADIX_DISPATCH(add_rms_norm, out, residual, x, weight, eps, weight_offset);
}

namespace {
Status gemm_shape(const char* op, const OpContext& ctx, const Tensor& out, const Tensor& a, const Tensor& w,
                  const Tensor* bias) {
  RADIX_RETURN_IF_ERROR(check_tensors(op, ctx, {&out, &a, &w}));
  if (bias) RADIX_RETURN_IF_ERROR(check_tensors(op, ctx, {bias}));
  RADIX_RETURN_IF_ERROR(check_activation(op, ctx, a));
  if (a.ndim() != 2 || w.ndim() != 2 || out.ndim() != 2 || a.size(1) != w.size(1) ||
      out.size(0) != a.size(0) || out.size(1) != w.size(0)) {
    return fail(op, "out " + out.to_string() + " = a " + a.to_string() + " @ w^T " + w.to_string());
  }
  if (bias && bias->numel() != w.size(0)) return fail(op, "bias " + bias->to_string());
  return Status::ok();
}
}  // namespace

Status gemm(const OpContext& ctx, const Tensor& out, const Tensor& a, const Tensor& w,
            const Tensor* bias) {
  RADIX_RETURN_IF_ERROR(gemm_shape("gemm", ctx, out, a, w, bias));
  RADIX_DISPATCH(gemm, out, a, w, bias);
}

Status gemm_add(const OpContext& ctx, const Tensor& residual, const Tensor& a, const Tensor& w) {
  RADIX_RETURN_IF_ERROR(gemm_shape("gemm_add", ctx, residual, a, w, nullptr));
  RADIX_DISPATCH(gemm_add, residual, a, w);
}

Status rms_norm_gemm(const OpContext& ctx, const Tensor& out, const Tensor& normed, const Tensor& x,
                     const Tensor& norm_weight, float eps, const Tensor& w, const Tensor* bias,
                     float weight_offset) {
  RADIX_RETURN_IF_ERROR(check_tensors("rms_norm_gemm", ctx, {&normed, &norm_weight}));
  RADIX_RETURN_IF_ERROR(check_same_shape("rms_norm_gemm", normed, x));
  if (norm_weight.numel() != x.size(-1)) return fail("rms_norm_gemm", "norm weight " + norm_weight.to_string());
  RADIX_RETURN_IF_ERROR(gemm_shape("rms_norm_gemm", ctx, out, x, w, bias));
  RADIX_DISPATCH(rms_norm_gemm, out, normed, x, norm_weight, eps, w, bias, weight_offset);
}

Status rms_norm_mlp(const OpContext& ctx, const Tensor& residual, const Tensor& act, const Tensor& normed,
                    const Tensor& gate_up, const Tensor& norm_weight, float eps, const Tensor& w_gate_up,
                    const Tensor& w_down, float weight_offset) {
  // The shapes of the two ops it stands for.
  RADIX_RETURN_IF_ERROR(check_tensors("rms_norm_mlp", ctx, {&residual, &act, &normed, &gate_up, &norm_weight}));
  RADIX_RETURN_IF_ERROR(check_same_shape("rms_norm_mlp", normed, residual));
  if (norm_weight.numel() != residual.size(-1)) return fail("rms_norm_mlp", "norm weight " + norm_weight.to_string());
  RADIX_RETURN_IF_ERROR(gemm_shape("rms_norm_mlp", ctx, gate_up, residual, w_gate_up, nullptr));
  if (act.ndim() != 2 || act.size(0) != residual.size(0) || act.size(1) * 2 != w_gate_up.size(0)) {
    return fail("rms_norm_mlp", "act " + act.to_string() + " for w_gate_up " + w_gate_up.to_string());
  }
  RADIX_RETURN_IF_ERROR(gemm_shape("rms_norm_mlp", ctx, residual, act, w_down, nullptr));
  RADIX_DISPATCH(rms_norm_mlp, residual, act, normed, gate_up, norm_weight, eps, w_gate_up, w_down, weight_offset);
}

Status rms_norm_gemm_silu(const OpContext& ctx, const Tensor& out, const Tensor& normed,
                          const Tensor& gate_up, const Tensor& x, const Tensor& norm_weight, float eps,
                          const Tensor& w, float weight_offset) {
  RADIX_RETURN_IF_ERROR(check_tensors("rms_norm_gemm_silu", ctx, {&out, &normed, &gate_up, &norm_weight}));
  RADIX_RETURN_IF_ERROR(check_same_shape("rms_norm_gemm_silu", normed, x));
  if (norm_weight.numel() != x.size(-1)) {
    return fail("rms_norm_gemm_silu", "norm weight " + norm_weight.to_string());
  }
  RADIX_RETURN_IF_ERROR(gemm_shape("rms_norm_gemm_silu", ctx, gate_up, x, w, nullptr));
  if (out.ndim() != 2 || out.size(0) != x.size(0) || out.size(1) * 2 != w.size(0)) {
    return fail("rms_norm_gemm_silu", "out " + out.to_string() + " for w " + w.to_string());
  }
  RADIX_DISPATCH(rms_norm_gemm_silu, out, normed, gate_up, x, norm_weight, eps, w, weight_offset);
}

Status rope(const OpContext& ctx, const Tensor& q, const Tensor& k, const Tensor& positions,
            const Tensor& cos_sin, RopeStyle style) {
  RADIX_RETURN_IF_ERROR(check_tensors("rope", ctx, {&q, &k, &positions, &cos_sin}));
  RADIX_RETURN_IF_ERROR(check_activation("rope", ctx, q));
  RADIX_RETURN_IF_ERROR(check_dtype("rope", positions, DType::kI32));
  RADIX_RETURN_IF_ERROR(check_dtype("rope", cos_sin, DType::kF32));
  if (q.ndim() != 3 || k.ndim() != 3 || q.size(0) != k.size(0) || q.size(2) != k.size(2) ||
      positions.numel() != q.size(0) || cos_sin.ndim() != 2 || cos_sin.size(1) > q.size(2) ||
      cos_sin.size(1) % 2 != 0) {
    return fail("rope", "q " + q.to_string() + " k " + k.to_string() + " positions " +
                            positions.to_string() + " cos_sin " + cos_sin.to_string());
  }
  if (ctx.device.is_cpu()) {
    for (int64_t i = 0; i < positions.numel(); ++i) {
      const int32_t p = positions.data_as<const int32_t>()[i];
      if (p < 0 || p >= cos_sin.size(0)) {
        return out_of_range("position " + std::to_string(p) + " beyond the rope table (" +
                            std::to_string(cos_sin.size(0)) + ")");
      }
    }
  }
  RADIX_DISPATCH(rope, q, k, positions, cos_sin, style);
}

namespace {
Status check_rope_qkv_store(const char* op, const OpContext& ctx, const Tensor& q_out, const Tensor& qkv,
                            const Tensor& positions, const Tensor& cos_sin, const Tensor& k_cache,
                            const Tensor& v_cache, const Tensor& slots) {
  RADIX_RETURN_IF_ERROR(check_tensors(op, ctx, {&q_out, &qkv, &positions, &cos_sin, &k_cache, &v_cache, &slots}));
  RADIX_RETURN_IF_ERROR(check_activation(op, ctx, qkv));
  RADIX_RETURN_IF_ERROR(check_dtype(op, positions, DType::kI32));
  RADIX_RETURN_IF_ERROR(check_dtype(op, slots, DType::kI32));
  RADIX_RETURN_IF_ERROR(check_dtype(op, cos_sin, DType::kF32));
  RADIX_RETURN_IF_ERROR(check_same_shape(op, k_cache, v_cache));
  if (q_out.ndim() != 3 || qkv.ndim() != 2 || k_cache.ndim() != 3 || q_out.dtype() != qkv.dtype() ||
      qkv.size(0) != q_out.size(0) || k_cache.size(2) != q_out.size(2) ||
      qkv.size(1) != (q_out.size(1) + 2 * k_cache.size(1)) * q_out.size(2) ||
      positions.numel() != q_out.size(0) || slots.numel() != q_out.size(0) ||
      cos_sin.ndim() != 2 || cos_sin.size(1) > q_out.size(2) || cos_sin.size(1) % 2 != 0) {
    return fail(op, "q_out " + q_out.to_string() + " qkv " + qkv.to_string() + " k_cache " + k_cache.to_string() +
                        " cos_sin " + cos_sin.to_string());
  }
  if (ctx.device.is_cpu()) {
    for (int64_t i = 0; i < positions.numel(); ++i) {
      const int32_t p = positions.data_as<const int32_t>()[i];
      const int32_t s = slots.data_as<const int32_t>()[i];
      if (p < 0 || p >= cos_sin.size(0)) return out_of_range("position " + std::to_string(p) + " beyond the rope table");
      if (s < 0 || s >= k_cache.size(0)) return fail(op, "slot out of range");
    }
  }
  return Status::ok();
}
}  // namespace

Status rope_qkv_store(const OpContext& ctx, const Tensor& q_out, const Tensor& qkv,
                      const Tensor& positions, const Tensor& cos_sin, RopeStyle style,
                      const Tensor& k_cache, const Tensor& v_cache, const Tensor& slots) {
  RADIX_RETURN_IF_ERROR(
      check_rope_qkv_store("rope_qkv_store", ctx, q_out, qkv, positions, cos_sin, k_cache, v_cache, slots));
  RADIX_DISPATCH(rope_qkv_store, q_out, qkv, positions, cos_sin, style, k_cache, v_cache, slots);
}

Status rms_norm_gemm_rope_store(const OpContext& ctx, const Tensor& q_out, const Tensor& normed, const Tensor& qkv,
                                const Tensor& x, const Tensor& norm_weight, float eps, const Tensor& w,
                                const Tensor* bias, const Tensor& positions, const Tensor& cos_sin, RopeStyle style,
                                const Tensor& k_cache, const Tensor& v_cache, const Tensor& slots,
                                float weight_offset) {
  const char* op = "rms_norm_gemm_rope_store";
  RADIX_RETURN_IF_ERROR(check_tensors(op, ctx, {&normed, &norm_weight}));
  RADIX_RETURN_IF_ERROR(check_same_shape(op, normed, x));
  if (norm_weight.numel() != x.size(-1)) return fail(op, "norm weight " + norm_weight.to_string());
  RADIX_RETURN_IF_ERROR(gemm_shape(op, ctx, qkv, x, w, bias));
  RADIX_RETURN_IF_ERROR(check_rope_qkv_store(op, ctx, q_out, qkv, positions, cos_sin, k_cache, v_cache, slots));
  RADIX_DISPATCH(rms_norm_gemm_rope_store, q_out, normed, qkv, x, norm_weight, eps, w, bias, positions, cos_sin, style,
                 k_cache, v_cache, slots, weight_offset);
}

Status decode_layer_tail(const OpContext& ctx, const Tensor& residual, const LayerTail& t) {
  const char* op = "decode_layer_tail";
  if (t.o_proj != nullptr && t.attn_out == nullptr) return fail(op, "o_proj without attn_out");
  if (t.attn != nullptr && (t.q == nullptr || t.attn_k_cache == nullptr || t.attn_v_cache == nullptr ||
                            t.attn_out == nullptr)) {
    return fail(op, "attention without q, the layer's KV cache or attn_out");
  }
  if (t.w_gate_up != nullptr && (t.post_norm == nullptr || t.w_down == nullptr || t.act == nullptr ||
                                 t.normed == nullptr || t.gate_up == nullptr)) {
    return fail(op, "w_gate_up without post_norm, w_down or the act/normed/gate_up buffers");
  }
  if (t.w_qkv != nullptr &&
      (t.input_norm == nullptr || t.q_out == nullptr || t.normed == nullptr || t.qkv == nullptr ||
       t.positions == nullptr || t.cos_sin == nullptr || t.k_cache == nullptr || t.v_cache == nullptr ||
       t.slots == nullptr)) {
    return fail(op, "w_qkv without input_norm, q_out, positions, cos_sin, the KV cache, slots or scratch");
  }
  if (t.lm_head != nullptr && (t.final_norm == nullptr || t.logits == nullptr || t.normed == nullptr ||
                               t.w_qkv != nullptr)) {
    return fail(op, "lm_head without final_norm, logits or normed, or with a next layer's w_qkv");
  }
  // The head after the rest (the chain has no phase for it: docs/kernels.md).
  auto head = [&]() -> Status {
    if (t.lm_head == nullptr) return Status::ok();
    return rms_norm_gemm(ctx, *t.logits, *t.normed, residual, *t.final_norm, t.eps, *t.lm_head, nullptr,
                         t.weight_offset);
  };
  // On CUDA the persistent chain may take all of it when there is no attention; with one,
  // the attention runs first as its own op and the chain may take the rest (the chain
  // merging the attention's split partials lost, so it was removed: docs/kernels.md).
  [[maybe_unused]] const bool cuda = !ctx.device.is_cpu();
#ifdef RADIX_HAS_CUDA_KERNELS
  if (cuda) {
    for (const Tensor* x : {t.q, t.attn_k_cache, t.attn_v_cache, t.attn_out, t.o_proj, t.post_norm, t.w_gate_up,
                            t.w_down, t.act, t.normed, t.gate_up, t.input_norm, t.w_qkv, t.qkv_bias, t.q_out, t.qkv,
                            t.positions, t.cos_sin, t.k_cache, t.v_cache, t.slots, t.final_norm, t.lm_head,
                            t.logits}) {
      if (x != nullptr) RADIX_RETURN_IF_ERROR(check_tensors(op, ctx, {x}));
    }
    RADIX_RETURN_IF_ERROR(check_tensors(op, ctx, {&residual}));
    if (t.attn != nullptr) {
      RADIX_RETURN_IF_ERROR(check_tensors(op, ctx, {&t.attn->qo_indptr, &t.attn->kv_indptr, &t.attn->kv_indices}));
    }
    bool taken = false;
    RADIX_RETURN_IF_ERROR(cuda::decode_layer_tail(ctx, residual, t, &taken));
    if (taken) return head();
  }
#endif
  if (t.attn != nullptr) {
    if (t.q->ndim() != 3 || t.attn_out->numel() != t.q->numel()) {
      return fail(op, "attn_out " + t.attn_out->to_string() + " for q " + t.q->to_string());
    }
    RADIX_RETURN_IF_ERROR(attention(ctx, t.attn_out->reshape(t.q->shape()), *t.q, *t.attn_k_cache, *t.attn_v_cache,
                                    *t.attn));
#ifdef RADIX_HAS_CUDA_KERNELS
    if (cuda) {
      LayerTail rest = t;
      rest.attn = nullptr;
      bool taken = false;
      RADIX_RETURN_IF_ERROR(cuda::decode_layer_tail(ctx, residual, rest, &taken));
      if (taken) return head();
    }
#endif
  }
  if (t.o_proj != nullptr) RADIX_RETURN_IF_ERROR(gemm_add(ctx, residual, *t.attn_out, *t.o_proj));
  if (t.w_gate_up != nullptr) {
    RADIX_RETURN_IF_ERROR(rms_norm_mlp(ctx, residual, *t.act, *t.normed, *t.gate_up, *t.post_norm, t.eps,
                                       *t.w_gate_up, *t.w_down, t.weight_offset));
  }
  if (t.w_qkv != nullptr) {
    RADIX_RETURN_IF_ERROR(rms_norm_gemm_rope_store(ctx, *t.q_out, *t.normed, *t.qkv, residual, *t.input_norm, t.eps,
                                                   *t.w_qkv, t.qkv_bias, *t.positions, *t.cos_sin, RopeStyle::kNeox,
                                                   *t.k_cache, *t.v_cache, *t.slots, t.weight_offset));
  }
  return head();
}

Status store_kv(const OpContext& ctx, const Tensor& k_cache, const Tensor& v_cache,
                const Tensor& k, const Tensor& v, const Tensor& slots) {
  RADIX_RETURN_IF_ERROR(check_tensors("store_kv", ctx, {&k_cache, &v_cache, &k, &v, &slots}));
  RADIX_RETURN_IF_ERROR(check_dtype("store_kv", slots, DType::kI32));
  RADIX_RETURN_IF_ERROR(check_same_shape("store_kv", k, v));
  RADIX_RETURN_IF_ERROR(check_same_shape("store_kv", k_cache, v_cache));
  if (k.ndim() != 3 || k_cache.ndim() != 3 || k.size(1) != k_cache.size(1) ||
      k.size(2) != k_cache.size(2) || slots.numel() != k.size(0)) {
    return fail("store_kv", "k " + k.to_string() + " cache " + k_cache.to_string() + " slots " +
                                slots.to_string());
  }
  RADIX_DISPATCH(store_kv, k_cache, v_cache, k, v, slots);
}

Status attention(const OpContext& ctx, const Tensor& out, const Tensor& q, const Tensor& k_cache,
                 const Tensor& v_cache, const AttentionParams& params) {
  RADIX_RETURN_IF_ERROR(check_tensors("attention", ctx, {&out, &q, &k_cache, &v_cache,
                                                         &params.qo_indptr, &params.kv_indptr,
                                                         &params.kv_indices}));
  RADIX_RETURN_IF_ERROR(check_activation("attention", ctx, q));
  RADIX_RETURN_IF_ERROR(check_same_shape("attention", out, q));
  RADIX_RETURN_IF_ERROR(check_same_shape("attention", k_cache, v_cache));
  for (const Tensor* t : {&params.qo_indptr, &params.kv_indptr, &params.kv_indices}) {
    RADIX_RETURN_IF_ERROR(check_dtype("attention", *t, DType::kI32));
  }
  if (q.ndim() != 3 || k_cache.ndim() != 3 || q.size(2) != k_cache.size(2) ||
      k_cache.size(1) == 0 || q.size(1) % k_cache.size(1) != 0 ||
      params.qo_indptr.numel() != params.kv_indptr.numel() || params.qo_indptr.numel() < 1) {
    return fail("attention", "q " + q.to_string() + " k_cache " + k_cache.to_string() +
                                 " qo_indptr " + params.qo_indptr.to_string() + " kv_indptr " +
                                 params.kv_indptr.to_string());
  }
  if (ctx.device.is_cpu()) {
    const int32_t* qo = params.qo_indptr.data_as<const int32_t>();
    const int32_t* kv = params.kv_indptr.data_as<const int32_t>();
    const int64_t b = params.qo_indptr.numel() - 1;
    if (qo[0] != 0 || kv[0] != 0 || qo[b] != q.size(0) || kv[b] != params.kv_indices.numel()) {
      return fail("attention", "indptr bounds do not match q and kv_indices");
    }
    for (int64_t s = 0; s < b; ++s) {
      const int32_t q_len = qo[s + 1] - qo[s], kv_len = kv[s + 1] - kv[s];
      if (q_len < 0 || kv_len < q_len) return fail("attention", "sequence with kv_len < q_len");
    }
    for (int64_t i = 0; i < params.kv_indices.numel(); ++i) {
      const int32_t slot = params.kv_indices.data_as<const int32_t>()[i];
      if (slot < 0 || slot >= k_cache.size(0)) return fail("attention", "kv slot out of range");
    }
  }
  RADIX_DISPATCH(attention, out, q, k_cache, v_cache, params);
}

Status silu_and_mul(const OpContext& ctx, const Tensor& out, const Tensor& x) {
  RADIX_RETURN_IF_ERROR(check_tensors("silu_and_mul", ctx, {&out, &x}));
  RADIX_RETURN_IF_ERROR(check_activation("silu_and_mul", ctx, x));
  if (x.ndim() != 2 || out.ndim() != 2 || x.size(0) != out.size(0) || x.size(1) != 2 * out.size(1)) {
    return fail("silu_and_mul", "out " + out.to_string() + " x " + x.to_string());
  }
  RADIX_DISPATCH(silu_and_mul, out, x);
}

Status gelu_tanh_and_mul(const OpContext& ctx, const Tensor& out, const Tensor& x) {
  RADIX_RETURN_IF_ERROR(check_tensors("gelu_tanh_and_mul", ctx, {&out, &x}));
  RADIX_RETURN_IF_ERROR(check_activation("gelu_tanh_and_mul", ctx, x));
  if (x.ndim() != 2 || out.ndim() != 2 || x.size(0) != out.size(0) || x.size(1) != 2 * out.size(1)) {
    return fail("gelu_tanh_and_mul", "out " + out.to_string() + " x " + x.to_string());
  }
  RADIX_DISPATCH(gelu_tanh_and_mul, out, x);
}

Status gather_rows(const OpContext& ctx, const Tensor& out, const Tensor& x, const Tensor& index) {
  RADIX_RETURN_IF_ERROR(check_tensors("gather_rows", ctx, {&out, &x, &index}));
  RADIX_RETURN_IF_ERROR(check_dtype("gather_rows", index, DType::kI32));
  if (x.ndim() < 1 || out.ndim() != x.ndim() || out.dtype() != x.dtype() ||
      out.size(0) != index.numel() || (x.size(0) > 0 && out.numel() / std::max<int64_t>(1, out.size(0)) != x.numel() / x.size(0))) {
    return fail("gather_rows", "out " + out.to_string() + " x " + x.to_string());
  }
  if (ctx.device.is_cpu()) {
    for (int64_t i = 0; i < index.numel(); ++i) {
      const int32_t r = index.data_as<const int32_t>()[i];
      if (r < 0 || r >= x.size(0)) return fail("gather_rows", "row index out of range");
    }
  }
  RADIX_DISPATCH(gather_rows, out, x, index);
}

Status apply_token_mask(const OpContext& ctx, const Tensor& logits, const Tensor& masks, const Tensor& index) {
  RADIX_RETURN_IF_ERROR(check_tensors("apply_token_mask", ctx, {&logits, &masks, &index}));
  RADIX_RETURN_IF_ERROR(check_dtype("apply_token_mask", logits, DType::kF32));
  RADIX_RETURN_IF_ERROR(check_dtype("apply_token_mask", masks, DType::kI32));
  RADIX_RETURN_IF_ERROR(check_dtype("apply_token_mask", index, DType::kI32));
  if (logits.ndim() != 2 || masks.ndim() != 2 || index.numel() != logits.size(0) ||
      masks.size(1) * 32 < logits.size(1)) {
    return fail("apply_token_mask", "logits " + logits.to_string() + " masks " + masks.to_string() + " index " +
                                        index.to_string());
  }
  if (ctx.device.is_cpu()) {
    for (int64_t i = 0; i < index.numel(); ++i) {
      if (index.data_as<const int32_t>()[i] >= masks.size(0)) return fail("apply_token_mask", "mask index out of range");
    }
  }
  RADIX_DISPATCH(apply_token_mask, logits, masks, index);
}

Status take_pending_tokens(const OpContext& ctx, const Tensor& ids, const Tensor& src, const Tensor& prev) {
  RADIX_RETURN_IF_ERROR(check_tensors("take_pending_tokens", ctx, {&ids, &src, &prev}));
  for (const Tensor* t : {&ids, &src, &prev}) RADIX_RETURN_IF_ERROR(check_dtype("take_pending_tokens", *t, DType::kI32));
  if (ids.ndim() != 1 || src.ndim() != 1 || prev.ndim() != 1 || src.numel() != ids.numel()) {
    return fail("take_pending_tokens", "ids " + ids.to_string() + " src " + src.to_string() + " prev " + prev.to_string());
  }
  if (ctx.device.is_cpu()) {
    for (int64_t i = 0; i < src.numel(); ++i) {
      if (src.data_as<const int32_t>()[i] >= prev.numel()) return fail("take_pending_tokens", "src index out of range");
    }
  }
  RADIX_DISPATCH(take_pending_tokens, ids, src, prev);
}

Status add(const OpContext& ctx, const Tensor& out, const Tensor& a, const Tensor& b) {
  RADIX_RETURN_IF_ERROR(check_tensors("add", ctx, {&out, &a, &b}));
  RADIX_RETURN_IF_ERROR(check_activation("add", ctx, a));
  RADIX_RETURN_IF_ERROR(check_same_shape("add", out, a));
  RADIX_RETURN_IF_ERROR(check_same_shape("add", a, b));
  RADIX_DISPATCH(add, out, a, b);
}

Status argmax(const OpContext& ctx, const Tensor& out, const Tensor& logits) {
  RADIX_RETURN_IF_ERROR(check_tensors("argmax", ctx, {&out, &logits}));
  RADIX_RETURN_IF_ERROR(check_dtype("argmax", out, DType::kI32));
  RADIX_RETURN_IF_ERROR(check_activation("argmax", ctx, logits));
  if (logits.ndim() != 2 || out.numel() != logits.size(0) || logits.size(1) == 0) {
    return fail("argmax", "out " + out.to_string() + " logits " + logits.to_string());
  }
  RADIX_DISPATCH(argmax, out, logits);
}

Status sample(const OpContext& ctx, const Tensor& out, const Tensor& logits,
              const SamplingTensors& params) {
  const SamplingTensors& p = params;
  RADIX_RETURN_IF_ERROR(check_tensors("sample", ctx, {&out, &logits, &p.temperature, &p.top_k, &p.top_p,
                                                      &p.min_p, &p.uniform}));
  RADIX_RETURN_IF_ERROR(check_dtype("sample", out, DType::kI32));
  RADIX_RETURN_IF_ERROR(check_dtype("sample", logits, DType::kF32));
  RADIX_RETURN_IF_ERROR(check_dtype("sample", p.top_k, DType::kI32));
  for (const Tensor* t : {&p.temperature, &p.top_p, &p.min_p, &p.uniform}) {
    RADIX_RETURN_IF_ERROR(check_dtype("sample", *t, DType::kF32));
  }
  if (logits.ndim() != 2 || logits.size(1) == 0 || logits.size(1) > (int64_t{1} << 30)) {
    return fail("sample", "logits must be [N, V] with 0 < V <= 2^30, got " + logits.to_string());
  }
  const int64_t n = logits.size(0);
  for (const Tensor* t : {&out, &p.temperature, &p.top_k, &p.top_p, &p.min_p, &p.uniform}) {
    if (t->numel() != n) return fail("sample", "expected " + std::to_string(n) + " values, got " + t->to_string());
  }
  RADIX_DISPATCH(sample, out, logits, params);
}

Status apply_penalties(const OpContext& ctx, const Tensor& logits, const PenaltyTensors& params) {
  const PenaltyTensors& p = params;
  RADIX_RETURN_IF_ERROR(check_tensors("apply_penalties", ctx,
                                      {&logits, &p.row_indptr, &p.token_ids, &p.counts, &p.flags,
                                       &p.repetition, &p.frequency, &p.presence}));
  RADIX_RETURN_IF_ERROR(check_dtype("apply_penalties", logits, DType::kF32));
  for (const Tensor* t : {&p.row_indptr, &p.token_ids, &p.counts, &p.flags}) {
    RADIX_RETURN_IF_ERROR(check_dtype("apply_penalties", *t, DType::kI32));
  }
  for (const Tensor* t : {&p.repetition, &p.frequency, &p.presence}) {
    RADIX_RETURN_IF_ERROR(check_dtype("apply_penalties", *t, DType::kF32));
  }
  if (logits.ndim() != 2 || logits.size(1) == 0 || logits.size(1) > (int64_t{1} << 30)) {
    return fail("apply_penalties",
                "logits must be [N, V] with 0 < V <= 2^30, got " + logits.to_string());
  }
  const int64_t n = logits.size(0), e = p.token_ids.numel();
  if (p.row_indptr.numel() != n + 1)
    return fail("apply_penalties", "row_indptr " + p.row_indptr.to_string());
  if (p.counts.numel() != e || p.flags.numel() != e || e > INT32_MAX) {
    return fail("apply_penalties", "token_ids " + p.token_ids.to_string() + " counts " +
                                       p.counts.to_string() + " flags " + p.flags.to_string());
  }
  for (const Tensor* t : {&p.repetition, &p.frequency, &p.presence}) {
    if (t->numel() != n)
      return fail("apply_penalties",
                  "expected " + std::to_string(n) + " values, got " + t->to_string());
  }
  if (ctx.device.is_cpu()) {
    const int32_t* ptr = p.row_indptr.data_as<const int32_t>();
    if (ptr[0] != 0 || ptr[n] != e)
      return fail("apply_penalties", "row_indptr must run from 0 to E");
    for (int64_t r = 0; r < n; ++r) {
      if (ptr[r + 1] < ptr[r]) return fail("apply_penalties", "row_indptr must not decrease");
    }
  }
  RADIX_DISPATCH(apply_penalties, logits, params);
}

Status logprobs(const OpContext& ctx, const Tensor& logprob, const Tensor& top_ids,
                const Tensor& top_logprobs, const Tensor& logits, const Tensor& tokens) {
  RADIX_RETURN_IF_ERROR(
      check_tensors("logprobs", ctx, {&logprob, &top_ids, &top_logprobs, &logits, &tokens}));
  RADIX_RETURN_IF_ERROR(check_dtype("logprobs", logprob, DType::kF32));
  RADIX_RETURN_IF_ERROR(check_dtype("logprobs", top_ids, DType::kI32));
  RADIX_RETURN_IF_ERROR(check_dtype("logprobs", top_logprobs, DType::kF32));
  RADIX_RETURN_IF_ERROR(check_dtype("logprobs", logits, DType::kF32));
  RADIX_RETURN_IF_ERROR(check_dtype("logprobs", tokens, DType::kI32));
  if (logits.ndim() != 2 || logits.size(1) == 0 || logits.size(1) > (int64_t{1} << 30)) {
    return fail("logprobs", "logits must be [N, V] with 0 < V <= 2^30, got " + logits.to_string());
  }
  const int64_t n = logits.size(0);
  if (logprob.numel() != n || tokens.numel() != n) {
    return fail("logprobs", "logprob " + logprob.to_string() + " and tokens " + tokens.to_string() +
                                " for logits " + logits.to_string());
  }
  RADIX_RETURN_IF_ERROR(check_ndim("logprobs", top_ids, 2));
  RADIX_RETURN_IF_ERROR(check_same_shape("logprobs", top_ids, top_logprobs));
  const int64_t k = top_ids.size(1);
  if (top_ids.size(0) != n || k > kMaxTopLogprobs || k > logits.size(1)) {
    return fail("logprobs", "top_ids must be [N, K] with K <= min(V, " +
                                std::to_string(kMaxTopLogprobs) + "), got " + top_ids.to_string() +
                                " for logits " + logits.to_string());
  }
  RADIX_DISPATCH(logprobs, logprob, top_ids, top_logprobs, logits, tokens);
}

namespace {
// Host-side (CPU) checks of attention_shared_prefix's index tensors: the CUDA path
// cannot read them without a sync, so there its kernels only keep reads in bounds.
Status check_shared_prefix_indices(const Tensor& q, const Tensor& k_cache,
                                   const AttentionParams& sfx, const SharedPrefix& pre) {
  const char* op = "attention_shared_prefix";
  const int32_t* qo = sfx.qo_indptr.data_as<const int32_t>();
  const int32_t* kv = sfx.kv_indptr.data_as<const int32_t>();
  const int32_t* group = pre.group_of_seq.data_as<const int32_t>();
  const int32_t* pp = pre.prefix_indptr.data_as<const int32_t>();
  const int64_t b = sfx.qo_indptr.numel() - 1, g = pre.num_groups;
  if (qo[0] != 0 || kv[0] != 0 || qo[b] != q.size(0) || kv[b] != sfx.kv_indices.numel()) {
    return fail(op, "suffix indptr bounds do not match q and kv_indices");
  }
  if (pp[0] != 0 || pp[g] != pre.prefix_indices.numel()) {
    return fail(op, "prefix_indptr must run from 0 to prefix_indices.numel()");
  }
  std::vector<int64_t> members(static_cast<size_t>(g), 0);
  for (int64_t i = 0; i < g; ++i) {
    const int64_t len = pp[i + 1] - pp[i];
    if (len < 0) return fail(op, "prefix_indptr must not decrease");
    if (len > pre.max_prefix_len) {
      return fail(op, "group " + std::to_string(i) + " has a prefix of " + std::to_string(len) +
                          " positions > max_prefix_len " + std::to_string(pre.max_prefix_len));
    }
  }
  for (int64_t s = 0; s < b; ++s) {
    const int64_t q_len = qo[s + 1] - qo[s], kv_len = kv[s + 1] - kv[s];
    if (q_len < 0 || q_len > 1) return fail(op, "decode only: every q_len must be 0 or 1");
    if (kv_len < 0) return fail(op, "kv_indptr must not decrease");
    if (group[s] < -1 || group[s] >= g) {
      return fail(op, "sequence " + std::to_string(s) + " names group " + std::to_string(group[s]) +
                          " (groups: " + std::to_string(g) + ", -1 for none)");
    }
    const int64_t prefix_len = group[s] >= 0 ? pp[group[s] + 1] - pp[group[s]] : 0;
    if (prefix_len + kv_len < q_len) return fail(op, "sequence with an empty context");
    if (group[s] >= 0 && ++members[static_cast<size_t>(group[s])] > pre.max_group_size) {
      return fail(op, "group " + std::to_string(group[s]) + " has more than max_group_size " +
                          std::to_string(pre.max_group_size) + " sequences");
    }
  }
  for (const Tensor* t : {&sfx.kv_indices, &pre.prefix_indices}) {
    for (int64_t i = 0; i < t->numel(); ++i) {
      const int32_t slot = t->data_as<const int32_t>()[i];
      if (slot < 0 || slot >= k_cache.size(0)) return fail(op, "kv slot out of range");
    }
  }
  return Status::ok();
}
}  // namespace

Status attention_shared_prefix(const OpContext& ctx, const Tensor& out, const Tensor& q,
                               const Tensor& k_cache, const Tensor& v_cache,
                               const AttentionParams& suffix, const SharedPrefix& prefix) {
  const char* op = "attention_shared_prefix";
  RADIX_RETURN_IF_ERROR(check_tensors(
      op, ctx,
      {&out, &q, &k_cache, &v_cache, &suffix.qo_indptr, &suffix.kv_indptr, &suffix.kv_indices,
       &prefix.group_of_seq, &prefix.prefix_indptr, &prefix.prefix_indices}));
  RADIX_RETURN_IF_ERROR(check_activation(op, ctx, q));
  RADIX_RETURN_IF_ERROR(check_same_shape(op, out, q));
  RADIX_RETURN_IF_ERROR(check_same_shape(op, k_cache, v_cache));
  for (const Tensor* t : {&suffix.qo_indptr, &suffix.kv_indptr, &suffix.kv_indices,
                          &prefix.group_of_seq, &prefix.prefix_indptr, &prefix.prefix_indices}) {
    RADIX_RETURN_IF_ERROR(check_dtype(op, *t, DType::kI32));
  }
  if (q.ndim() != 3 || k_cache.ndim() != 3 || q.size(2) != k_cache.size(2) ||
      k_cache.size(1) == 0 || q.size(1) % k_cache.size(1) != 0 || suffix.qo_indptr.numel() < 1 ||
      suffix.kv_indptr.numel() != suffix.qo_indptr.numel() ||
      prefix.group_of_seq.numel() != suffix.qo_indptr.numel() - 1) {
    return fail(op, "q " + q.to_string() + " k_cache " + k_cache.to_string() + " qo_indptr " +
                        suffix.qo_indptr.to_string() + " kv_indptr " +
                        suffix.kv_indptr.to_string() + " group_of_seq " +
                        prefix.group_of_seq.to_string());
  }
  if (prefix.num_groups < 0 || prefix.prefix_indptr.numel() != int64_t{prefix.num_groups} + 1 ||
      prefix.max_prefix_len < 0 || prefix.max_group_size < 0) {
    return fail(op, "num_groups " + std::to_string(prefix.num_groups) + " with prefix_indptr " +
                        prefix.prefix_indptr.to_string() + ", max_prefix_len " +
                        std::to_string(prefix.max_prefix_len) + ", max_group_size " +
                        std::to_string(prefix.max_group_size));
  }
  if (suffix.max_q_len > 1 || (q.size(0) > 0 && suffix.max_q_len != 1)) {
    return fail(op, "decode only: suffix.max_q_len must be 1 (got " +
                        std::to_string(suffix.max_q_len) + ")");
  }
  if (suffix.max_kv_len < 0 || suffix.logit_softcap < 0.0f) {
    return fail(op, "negative max_kv_len or logit_softcap");
  }
  if (ctx.device.is_cpu())
    RADIX_RETURN_IF_ERROR(check_shared_prefix_indices(q, k_cache, suffix, prefix));
  RADIX_DISPATCH(attention_shared_prefix, out, q, k_cache, v_cache, suffix, prefix);
}

}  // namespace radix::ops
