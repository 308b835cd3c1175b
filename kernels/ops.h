// The ops interface (DESIGN.md §6): every op is declared once here over Tensor views
// and an explicit OpContext, and dispatches on the output tensor's device to the CPU
// reference (kernels/cpu/cpu_ops.h) or the CUDA backend (kernels/cuda/cuda_ops.h).
// CPU ops are the oracle: simple loops, f32 activations. CUDA ops take bf16/f16
// activations (f32 where noted). All ops return Status; none aborts on bad shapes.
//
// Shape names used throughout:
//   T  tokens in the step (ragged over sequences)   B  sequences in the step
//   H  hidden size      I  intermediate size        V  vocabulary size
//   Hq query heads      Hk key/value heads          D  head dim
//   S  KV slots in the pool                         R  rotary dim (<= D)
#pragma once

#include <cstdint>

#include "core/status.h"
#include "core/tensor.h"

namespace radix {

class CudaBackend;  // kernels/cuda: cuBLASLt handle, workspace, plan caches

// Everything an op needs besides its tensors; passed explicitly into every forward.
struct OpContext {
  Device device = Device::cpu();
  void* stream = nullptr;            // cudaStream_t on CUDA
  CudaBackend* cuda = nullptr;       // required for CUDA ops that use cuBLASLt/workspace
};

enum class RopeStyle : uint8_t {
  kNeox,         // rotate halves: (x[i], x[i + R/2])  — Llama/Qwen/Mistral in HF layout
  kInterleaved,  // rotate pairs: (x[2i], x[2i+1])     — GPT-J style, DeepSeek MLA rope
};

// Attention over a ragged batch, reading K/V from the slot pool.
// Sequence b has q_len = qo_indptr[b+1]-qo_indptr[b] new tokens (rows of q) and
// kv_len = kv_indptr[b+1]-kv_indptr[b] total tokens (its whole context, new tokens
// included, already written to the pool). New token j sits at position
// kv_len - q_len + j and (causal) sees kv positions <= that one.
struct AttentionParams {
  Tensor qo_indptr;   // i32 [B+1]
  Tensor kv_indptr;   // i32 [B+1]
  Tensor kv_indices;  // i32 [kv_indptr[B]]: pool slot of each context position
  float scale = 1.0f;        // usually 1/sqrt(D)
  int sliding_window = -1;   // > 0: position p sees only kv positions > p - window
  float logit_softcap = 0.0f;  // > 0: scores = softcap * tanh(scores / softcap)
  int max_q_len = 0;         // host-known maxima, for launch shapes
  int max_kv_len = 0;
};

// Groups of decode sequences that share a context prefix (ops::attention_shared_prefix).
// Group g's prefix is prefix_len(g) = prefix_indptr[g+1] - prefix_indptr[g] positions
// with pool slots prefix_indices[prefix_indptr[g] ..]; a sequence of group g sees them
// before its own positions. Members need not be contiguous in the batch.
struct SharedPrefix {
  Tensor group_of_seq;     // i32 [B]: group of sequence b, or -1 (no shared prefix)
  Tensor prefix_indptr;    // i32 [G+1]
  Tensor prefix_indices;   // i32 [prefix_indptr[G]]: pool slot of each prefix position
  int num_groups = 0;      // G
  int max_prefix_len = 0;  // host-known maxima, for launch shapes: >= every prefix_len(g)
  int max_group_size = 0;  // >= the number of sequences naming any one group
};

// Per-row parameters of ops::sample, each a tensor of N values on the op's device.
struct SamplingTensors {
  Tensor temperature;  // f32 [N]: <= 0 means greedy (argmax)
  Tensor top_k;        // i32 [N]: <= 0 or >= V means off; 1 is greedy
  Tensor top_p;        // f32 [N]: >= 1 means off
  Tensor min_p;        // f32 [N]: <= 0 means off
  Tensor uniform;      // f32 [N]: the random number in [0, 1) each row samples with
};

namespace ops {

// out[T, H] = table[ids[t], :]; ids i32 [T], table [V, H]. Out-of-range ids are an error.
Status embedding(const OpContext& ctx, const Tensor& out, const Tensor& ids, const Tensor& table);

// out[T, H] = x / rms(x) * (weight_offset + weight); weight [H].
Status rms_norm(const OpContext& ctx, const Tensor& out, const Tensor& x, const Tensor& weight,
                float eps, float weight_offset = 0.0f);

// residual[T, H] += x; out = rms_norm(residual). (SGLang's fused_add_rmsnorm.)
Status add_rms_norm(const OpContext& ctx, const Tensor& out, const Tensor& residual,
                    const Tensor& x, const Tensor& weight, float eps, float weight_offset = 0.0f);

// out[M, N] = a[M, K] @ w[N, K]^T (+ bias[N]); w in nn.Linear layout.
Status gemm(const OpContext& ctx, const Tensor& out, const Tensor& a, const Tensor& w,
            const Tensor* bias = nullptr);

// Fused decode-layer projections. Each equals the unfused sequence named beside it
// (up to f32 summation order); a backend may run them as one kernel (CUDA, M <= 4).
// Scratch tensors are where the unfused sequence keeps its intermediates; their contents
// are unspecified afterwards.
//
// residual[M, N] += a[M, K] @ w[N, K]^T, accumulated in f32 and rounded once.
Status gemm_add(const OpContext& ctx, const Tensor& residual, const Tensor& a, const Tensor& w);
// out[M, N] = rms_norm(x[M, K]) @ w^T (+ bias)  =  rms_norm(normed, x); gemm(out, normed).
// normed [M, K] scratch.
Status rms_norm_gemm(const OpContext& ctx, const Tensor& out, const Tensor& normed, const Tensor& x,
                     const Tensor& norm_weight, float eps, const Tensor& w, const Tensor* bias = nullptr,
                     float weight_offset = 0.0f);
// out[M, I] = silu_and_mul(rms_norm(x) @ w^T), w [2I, K] = [gate; up]
//   =  rms_norm(normed, x); gemm(gate_up, normed, w); silu_and_mul(out, gate_up).
// normed [M, K] and gate_up [M, 2I] scratch.
Status rms_norm_gemm_silu(const OpContext& ctx, const Tensor& out, const Tensor& normed,
                          const Tensor& gate_up, const Tensor& x, const Tensor& norm_weight, float eps,
                          const Tensor& w, float weight_offset = 0.0f);
// The MLP of a layer on the residual stream: residual += rms_norm_gemm_silu(residual,
// norm_weight, w_gate_up) @ w_down^T  =  rms_norm_gemm_silu(act, normed, gate_up,
// residual, ...); gemm_add(residual, act, w_down). act [M, I], normed [M, K] and
// gate_up [M, 2I] are scratch (act holds silu(g) * u afterwards).
Status rms_norm_mlp(const OpContext& ctx, const Tensor& residual, const Tensor& act, const Tensor& normed,
                    const Tensor& gate_up, const Tensor& norm_weight, float eps, const Tensor& w_gate_up,
                    const Tensor& w_down, float weight_offset = 0.0f);
// The attention prologue of a layer, fused: qkv = rms_norm_gemm(x, w, bias), then
// rope_qkv_store(q_out, qkv, positions, cos_sin, style, k_cache, v_cache, slots).
// normed [M, K] and qkv [M, (Hq + 2 Hk) D] are scratch.
Status rms_norm_gemm_rope_store(const OpContext& ctx, const Tensor& q_out, const Tensor& normed, const Tensor& qkv,
                                const Tensor& x, const Tensor& norm_weight, float eps, const Tensor& w,
                                const Tensor* bias, const Tensor& positions, const Tensor& cos_sin, RopeStyle style,
                                const Tensor& k_cache, const Tensor& v_cache, const Tensor& slots,
                                float weight_offset = 0.0f);
// The decode sublayers from one layer's attention to the next layer's, on the
// residual stream [T, H]. Each part runs when its inputs are given, in this order, as
// the ops it stands for:
//   attention: attention(attn_out viewed [T, Hq, D], q, attn_k_cache, attn_v_cache, *attn)
//   o:        gemm_add(residual, attn_out, o_proj)
//   mlp:      rms_norm_mlp(residual, act, normed, gate_up, post_norm, eps, w_gate_up, w_down,
//             weight_offset)
//   prologue: rms_norm_gemm_rope_store(q_out, normed, qkv, residual, input_norm, eps, w_qkv,
//             qkv_bias, positions, cos_sin, RopeStyle::kNeox, k_cache, v_cache, slots,
//             weight_offset)
//   head:     rms_norm_gemm(logits, normed, residual, final_norm, eps, lm_head, nullptr,
//             weight_offset): the last layer's tail, instead of a prologue, when every row
//             wants logits (after the chain on CUDA)
// On CUDA at one or two tokens (bf16) all but the attention is one persistent kernel
// (kernels/cuda/gemm/decode_chain.h; RADIX_DECODE_CHAIN=0 turns it off); the attention
// runs first as its own op.
struct LayerTail {
  float eps = 0.0f;
  float weight_offset = 0.0f;
  const AttentionParams* attn = nullptr;    // the layer's attention (needs q, the cache, attn_out)
  const Tensor* q = nullptr;                // [T, Hq, D]
  const Tensor* attn_k_cache = nullptr;     // [S, Hk, D], the layer's
  const Tensor* attn_v_cache = nullptr;
  const Tensor* attn_out = nullptr;  // [T, Hq D]
  const Tensor* o_proj = nullptr;    // [H, Hq D]
  const Tensor* post_norm = nullptr;  // [H]
  const Tensor* w_gate_up = nullptr;  // [2I, H]
  const Tensor* w_down = nullptr;     // [H, I]
  const Tensor* act = nullptr;        // [T, I]: silu(g) * u afterwards
  const Tensor* normed = nullptr;     // [T, H] scratch
  const Tensor* gate_up = nullptr;    // [T, 2I] scratch
  const Tensor* input_norm = nullptr;  // [H], the next layer's
  const Tensor* w_qkv = nullptr;       // [(Hq + 2 Hk) D, H]
  const Tensor* qkv_bias = nullptr;    // or nullptr
  const Tensor* q_out = nullptr;       // [T, Hq, D]
  const Tensor* qkv = nullptr;         // [T, (Hq + 2 Hk) D] scratch
  const Tensor* positions = nullptr;
  const Tensor* cos_sin = nullptr;
  const Tensor* k_cache = nullptr;
  const Tensor* v_cache = nullptr;
  const Tensor* slots = nullptr;
  const Tensor* final_norm = nullptr;  // [H]
  const Tensor* lm_head = nullptr;     // [V, H] (no prologue with it)
  const Tensor* logits = nullptr;      // [T, V] f32
};
Status decode_layer_tail(const OpContext& ctx, const Tensor& residual, const LayerTail& t);
// In place on q [T, Hq, D] and k [T, Hk, D] (first R dims rotated).
// cos_sin [max_pos, R]: row p holds cos(p * f_i) for i < R/2 then sin(p * f_i), f32.
// Scaling variants (llama3, linear, ...) are baked into the table by the model.
Status rope(const OpContext& ctx, const Tensor& q, const Tensor& k, const Tensor& positions,
            const Tensor& cos_sin, RopeStyle style);

// The attention prologue, fused: qkv [T, (Hq + 2*Hk) * D] is one fused projection
// row per token (q heads, then k heads, then v heads). Writes RoPE(q) to q_out
// [T, Hq, D], and RoPE(k) and v into k_cache/v_cache [S, Hk, D] at slots[t].
Status rope_qkv_store(const OpContext& ctx, const Tensor& q_out, const Tensor& qkv,
                      const Tensor& positions, const Tensor& cos_sin, RopeStyle style,
                      const Tensor& k_cache, const Tensor& v_cache, const Tensor& slots);

// k_cache[slots[t]] = k[t]; v_cache[slots[t]] = v[t].
// k, v [T, Hk, D]; caches [S, Hk, D]; slots i32 [T].
Status store_kv(const OpContext& ctx, const Tensor& k_cache, const Tensor& v_cache,
                const Tensor& k, const Tensor& v, const Tensor& slots);

// out[T, Hq, D] = softmax(q k^T * scale) v over the pool (see AttentionParams).
// Hq must be a multiple of Hk (GQA).
Status attention(const OpContext& ctx, const Tensor& out, const Tensor& q,
                 const Tensor& k_cache, const Tensor& v_cache, const AttentionParams& params);

// out[T, I] = silu(x[:, :I]) * x[:, I:]; x [T, 2I].
Status silu_and_mul(const OpContext& ctx, const Tensor& out, const Tensor& x);
// out[T, I] = gelu_tanh(x[:, :I]) * x[:, I:]; x [T, 2I]. (Gemma)
Status gelu_tanh_and_mul(const OpContext& ctx, const Tensor& out, const Tensor& x);

// out[N, C] = x[index[n], :]; index i32 [N].
Status gather_rows(const OpContext& ctx, const Tensor& out, const Tensor& x, const Tensor& index);

// Structured output's mask: logits[r, v] = -inf wherever bit v of mask row index[r] is
// clear (bit v = bit v % 32 of word v / 32; masks i32 [M, W], W >= ceil(V / 32)); rows
// with index[r] < 0 are left alone. logits f32 [N, V], index i32 [N]. An index >= M is an
// error on the CPU; the CUDA kernel leaves that row alone.
Status apply_token_mask(const OpContext& ctx, const Tensor& logits, const Tensor& masks, const Tensor& index);

// Overlap scheduling's input ids: ids[i] = max(prev[src[i]], 0) where src[i] >= 0 (a
// token the previous step sampled; a failed sample, -1, becomes 0), ids[i] unchanged
// where src[i] < 0. ids, src i32 [N]; prev i32 [M]. A src value >= M is an error on the
// CPU; the CUDA kernel leaves that id unchanged.
Status take_pending_tokens(const OpContext& ctx, const Tensor& ids, const Tensor& src, const Tensor& prev);

// out = a + b (same shape).
Status add(const OpContext& ctx, const Tensor& out, const Tensor& a, const Tensor& b);

// out i32 [N] = argmax over the last dim of logits [N, V] (ties: lowest index).
Status argmax(const OpContext& ctx, const Tensor& out, const Tensor& logits);

// out i32 [N]: one token per row of logits f32 [N, V] (NaN counts as -inf), without
// sorting the vocabulary. Greedy rows take the argmax (ties: lowest id). Otherwise,
// with y = logits / temperature and w = exp(y - max y), token i is kept when w_i > 0,
// w_i >= min_p, fewer than top_k tokens have a larger y, and the mass of the tokens
// with a larger y is at most top_p * sum(w) (the token that crosses top_p stays, as
// in SGLang); then the first kept token, in id order, whose running sum of kept w
// exceeds uniform * (total kept w) is the sample. Ties in y are kept or dropped
// together. A row with no finite logit gets -1.
Status sample(const OpContext& ctx, const Tensor& out, const Tensor& logits,
              const SamplingTensors& params);

// ---- penalties and logprobs (the rest of runtime/sampler.h's per-row work) ----

// Sparse per-row penalties for apply_penalties: row n's entries are
// [row_indptr[n], row_indptr[n+1]) of token_ids/counts/flags, one entry per distinct
// token id of that row (the host builds them from SamplerState's sets; a row never
// names an id twice).
struct PenaltyTensors {
  Tensor row_indptr;  // i32 [N+1], row_indptr[0] = 0, row_indptr[N] = E
  Tensor token_ids;   // i32 [E]: ids outside [0, V) are skipped
  Tensor counts;      // i32 [E]: times the id was generated; > 0: frequency/presence apply
  Tensor flags;       // i32 [E]: kPenaltySeen | kPenaltyMasked
  Tensor repetition;  // f32 [N]: > 0, 1 = off
  Tensor frequency;   // f32 [N]
  Tensor presence;    // f32 [N]
};
inline constexpr int32_t kPenaltySeen = 1;    // in prompt + output: repetition applies
inline constexpr int32_t kPenaltyMasked = 2;  // eos/stop id while min_new_tokens is pending

// In place on logits f32 [N, V], per entry (id, count, flags) of row n, in this order
// (SamplerState::apply_penalties, f32 arithmetic, no fused multiply-add):
//   seen:      x = x > 0 ? x / repetition[n] : x * repetition[n]
//   count > 0: x = x - (frequency[n] * count + presence[n])
//   masked:    x = -inf
// NaN stays NaN (ops::sample and ops::logprobs read it as -inf).
Status apply_penalties(const OpContext& ctx, const Tensor& logits, const PenaltyTensors& params);

inline constexpr int kMaxTopLogprobs = 20;  // the server's limit for top_logprobs_num

// Raw log-probabilities of logits f32 [N, V] (NaN counts as -inf), with
// lse = log(sum_i exp(x_i)) (-inf when no x is finite, +inf when some x is +inf):
//   logprob f32 [N] = x[tokens[n]] - lse (-inf when tokens[n] is outside [0, V));
//   top_ids i32 [N, K], top_logprobs f32 [N, K] = the K best ids by x (ties: lower id
//   first) and their x - lse; 0 <= K <= min(V, kMaxTopLogprobs).
// As runtime/sampler.h's token_logprob (which sums in f64; the CUDA kernel exps in f32
// and sums in f64).
Status logprobs(const OpContext& ctx, const Tensor& logprob, const Tensor& top_ids,
                const Tensor& top_logprobs, const Tensor& logits, const Tensor& tokens);

// ---- shared-prefix (cascade) decode attention ----

// Decode attention where groups of sequences share a context prefix, which is read
// once per group instead of once per sequence. out, q [T, Hq, D]; caches [S, Hk, D].
// `suffix` is as for ops::attention except that kv_indptr/kv_indices list only each
// sequence's own positions, and every q_len is 0 (skipped) or 1 (suffix.max_q_len must
// be 1 when T > 0). Sequence b's context is its group's prefix (none for group -1)
// followed by its own positions, prefix_len + kv_len >= q_len; its query sits at the
// last position (prefix_len + kv_len - 1) and sees all of them, or with sliding_window
// w > 0 the positions > that one - w (absolute, prefix included). scale and
// logit_softcap as in AttentionParams. The result equals ops::attention over the
// concatenated contexts (up to f32 summation order). CUDA: bf16, the head dims and
// variants ops::attention's decode has; needs ctx.cuda, whose attention workspace holds
// the partial results, (prefix + suffix splits) x T x Hq x (D + 1) f32: a step that
// does not fit even one split of each is ResourceExhausted.
Status attention_shared_prefix(const OpContext& ctx, const Tensor& out, const Tensor& q,
                               const Tensor& k_cache, const Tensor& v_cache,
                               const AttentionParams& suffix, const SharedPrefix& prefix);

}  // namespace ops
}  // namespace radix
