// Llama-family decoder (Llama 2/3/3.1, Mistral, Qwen2): embeddings -> N x (RMSNorm,
// fused qkv projection + RoPE + KV store, attention over the pool, o_proj, RMSNorm,
// fused gate/up, SiLU-and-mul, down) -> final norm -> lm_head on the selected rows.
// Parameter names mirror the Hugging Face checkpoint (model.layers.{i}.self_attn.q_proj...).
#include <string>
#include <vector>

#include "models/llama.h"
#include "models/rope_table.h"
#include "models/weights.h"

namespace radix {
namespace {

struct LlamaLayer {
  OwnedTensor input_layernorm;           // [H]
  OwnedTensor qkv_proj;                  // [(Hq + 2 Hk) D, H]  (q_proj; k_proj; v_proj)
  OwnedTensor qkv_bias;                  // [(Hq + 2 Hk) D] or empty
  OwnedTensor o_proj;                    // [H, Hq D]
  OwnedTensor post_attention_layernorm;  // [H]
  OwnedTensor gate_up_proj;              // [2 I, H]  (gate_proj; up_proj)
  OwnedTensor down_proj;                 // [H, I]
};

// Activation buffers for up to `tokens` new tokens and `rows` logits rows.
struct Workspace {
  int64_t tokens = 0;
  OwnedTensor residual, hidden, qkv, q, attn_out, gate_up, mlp_act, final_rows;
};

class LlamaModel final : public CausalLM {
 public:
  LlamaModel(ModelConfig config, LoadOptions options)
      : config_(std::move(config)), options_(options) {}

  Status load(const Checkpoint* checkpoint) {
    const int64_t h = config_.hidden_size, inter = config_.intermediate_size;
    const int64_t hq = config_.num_attention_heads, hk = config_.num_key_value_heads;
    const int64_t d = config_.head_dim, v = config_.vocab_size;
    WeightLoader w(checkpoint, options_);
    RADIX_ASSIGN_OR_RETURN(embed_tokens_, w.load("model.embed_tokens.weight", {v, h}, DummyInit::kEmbedding));
    layers_.resize(static_cast<size_t>(config_.num_hidden_layers));
    for (int i = 0; i < config_.num_hidden_layers; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      LlamaLayer& l = layers_[static_cast<size_t>(i)];
      RADIX_ASSIGN_OR_RETURN(l.input_layernorm, w.load(p + "input_layernorm.weight", {h}, DummyInit::kOnes));
      RADIX_ASSIGN_OR_RETURN(
          l.qkv_proj, w.load_fused({p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight",
                                    p + "self_attn.v_proj.weight"},
                                   {{hq * d, h}, {hk * d, h}, {hk * d, h}}));
      if (config_.attention_bias) {
        RADIX_ASSIGN_OR_RETURN(
            l.qkv_bias, w.load_fused({p + "self_attn.q_proj.bias", p + "self_attn.k_proj.bias",
                                      p + "self_attn.v_proj.bias"},
                                     {{hq * d}, {hk * d}, {hk * d}}));
      }
      RADIX_ASSIGN_OR_RETURN(l.o_proj, w.load(p + "self_attn.o_proj.weight", {h, hq * d}));
      RADIX_ASSIGN_OR_RETURN(l.post_attention_layernorm,
                             w.load(p + "post_attention_layernorm.weight", {h}, DummyInit::kOnes));
      RADIX_ASSIGN_OR_RETURN(
          l.gate_up_proj, w.load_fused({p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"},
                                       {{inter, h}, {inter, h}}));
      RADIX_ASSIGN_OR_RETURN(l.down_proj, w.load(p + "mlp.down_proj.weight", {h, inter}));
    }
    RADIX_ASSIGN_OR_RETURN(norm_, w.load("model.norm.weight", {h}, DummyInit::kOnes));
    if (!config_.tie_word_embeddings) {
      RADIX_ASSIGN_OR_RETURN(lm_head_, w.load("lm_head.weight", {v, h}));
    }
    weight_bytes_ = w.bytes_loaded();

    const int max_pos = options_.max_position > 0 ? options_.max_position : config_.max_position_embeddings;
    std::vector<float> table = build_rope_table(max_pos, static_cast<int>(d), config_.rope_theta, config_.rope_scaling);
    RADIX_ASSIGN_OR_RETURN(cos_sin_, OwnedTensor::empty({max_pos, d}, DType::kF32, options_.device));
    return copy_tensor(cos_sin_.view(), Tensor(table.data(), DType::kF32, {max_pos, d}));
  }

  const ModelConfig& config() const override { return config_; }
  KvLayout kv_layout() const override {
    return {config_.num_hidden_layers, config_.num_key_value_heads, config_.head_dim, options_.dtype};
  }
  size_t weight_bytes() const override { return weight_bytes_; }
  Status reserve(int64_t tokens) override { return ensure_workspace(tokens); }
  int64_t workspace_tokens() const override { return ws_.tokens; }

  Status forward(const OpContext& ctx, const ModelBatch& batch, const KvCache& kv,
                 const Tensor& logits) override {
    const int64_t t = batch.input_ids.numel();
    if (t == 0) return Status::ok();
    RADIX_RETURN_IF_ERROR(ensure_workspace(t));
    const int64_t hq = config_.num_attention_heads;
    const int64_t d = config_.head_dim;
    const float eps = config_.rms_norm_eps;
    Workspace& ws = ws_;
    const Tensor residual = ws.residual.view().slice_rows(0, t);
    const Tensor hidden = ws.hidden.view().slice_rows(0, t);
    const Tensor qkv = ws.qkv.view().slice_rows(0, t);
    const Tensor q = ws.q.view().slice_rows(0, t).reshape({t, hq, d});
    const Tensor attn_out = ws.attn_out.view().slice_rows(0, t);
    const Tensor gate_up = ws.gate_up.view().slice_rows(0, t);
    const Tensor mlp_act = ws.mlp_act.view().slice_rows(0, t);

    RADIX_RETURN_IF_ERROR(ops::embedding(ctx, residual, batch.input_ids, embed_tokens_));
    // The residual stream takes each sublayer's output in place (gemm_add); each
    // projection normalizes its input itself. Layer 0's attention prologue (norm, qkv
    // projection, RoPE and the K/V slot store: one kernel at decode) runs here; each
    // later one runs with the previous layer's o projection and MLP (decode_layer_tail:
    // one persistent kernel at one or two tokens on CUDA, after the attention's kernels).
    auto prologue = [&](size_t i, ops::LayerTail& tail) {
      const LlamaLayer& l = layers_[i];
      tail.input_norm = &l.input_layernorm.view();
      tail.w_qkv = &l.qkv_proj.view();
      tail.qkv_bias = config_.attention_bias ? &l.qkv_bias.view() : nullptr;
      tail.q_out = &q;
      tail.normed = &hidden;
      tail.qkv = &qkv;
      tail.positions = &batch.positions;
      tail.cos_sin = &cos_sin_.view();
      tail.k_cache = &kv.k[i];
      tail.v_cache = &kv.v[i];
      tail.slots = &batch.out_cache_loc;
    };
    // Every row wants logits (a decode step): the last layer's tail computes them from the
    // residual itself, no gather (on CUDA: the rms_norm_gemm op after the chain).
    const Tensor& head = config_.tie_word_embeddings ? embed_tokens_.view() : lm_head_.view();
    const bool all_rows = batch.logits_all_rows && batch.logits_rows.numel() == t && logits.size(0) == t;
    ops::LayerTail first;
    first.eps = eps;
    prologue(0, first);
    RADIX_RETURN_IF_ERROR(ops::decode_layer_tail(ctx, residual, first));
    for (size_t i = 0; i < layers_.size(); ++i) {
      const LlamaLayer& l = layers_[i];
      ops::LayerTail tail;
      tail.eps = eps;
      if (batch.prefix.num_groups > 0) {
        const Tensor attn3 = attn_out.reshape({t, hq, d});
        RADIX_RETURN_IF_ERROR(ops::attention_shared_prefix(ctx, attn3, q, kv.k[i], kv.v[i], batch.attn, batch.prefix));
      } else {
        tail.attn = &batch.attn;
        tail.q = &q;
        tail.attn_k_cache = &kv.k[i];
        tail.attn_v_cache = &kv.v[i];
      }
      tail.attn_out = &attn_out;
      tail.o_proj = &l.o_proj.view();
      tail.post_norm = &l.post_attention_layernorm.view();
      tail.w_gate_up = &l.gate_up_proj.view();
      tail.w_down = &l.down_proj.view();
      tail.act = &mlp_act;
      tail.normed = &hidden;
      tail.gate_up = &gate_up;
      if (i + 1 < layers_.size()) {
        prologue(i + 1, tail);
      } else if (all_rows) {  // the last layer ends with the final norm and the lm_head
        tail.final_norm = &norm_.view();
        tail.lm_head = &head;
        tail.logits = &logits;
      }
      RADIX_RETURN_IF_ERROR(ops::decode_layer_tail(ctx, residual, tail));
    }
    if (all_rows) return Status::ok();
    // "final_norm": only the requested rows are normalized and go through lm_head.
    const int64_t n = batch.logits_rows.numel();
    if (n == 0) return Status::ok();
    const Tensor rows = ws.final_rows.view().slice_rows(0, n);
    RADIX_RETURN_IF_ERROR(ops::gather_rows(ctx, rows, residual, batch.logits_rows));
    return ops::rms_norm_gemm(ctx, logits, hidden.slice_rows(0, n), rows, norm_, eps, head);
  }

 private:
  Status ensure_workspace(int64_t t) {
    if (t <= ws_.tokens) return Status::ok();
    const int64_t cap = std::max<int64_t>(t, 256);
    const int64_t h = config_.hidden_size, inter = config_.intermediate_size;
    const int64_t hq = config_.num_attention_heads, hk = config_.num_key_value_heads;
    const int64_t d = config_.head_dim;
    const DType dt = options_.dtype;
    const Device dev = options_.device;
    Workspace ws;
    RADIX_ASSIGN_OR_RETURN(ws.residual, OwnedTensor::empty({cap, h}, dt, dev));
    RADIX_ASSIGN_OR_RETURN(ws.hidden, OwnedTensor::empty({cap, h}, dt, dev));
    RADIX_ASSIGN_OR_RETURN(ws.qkv, OwnedTensor::empty({cap, (hq + 2 * hk) * d}, dt, dev));
    RADIX_ASSIGN_OR_RETURN(ws.q, OwnedTensor::empty({cap, hq * d}, dt, dev));
    RADIX_ASSIGN_OR_RETURN(ws.attn_out, OwnedTensor::empty({cap, hq * d}, dt, dev));
    RADIX_ASSIGN_OR_RETURN(ws.gate_up, OwnedTensor::empty({cap, 2 * inter}, dt, dev));
    RADIX_ASSIGN_OR_RETURN(ws.mlp_act, OwnedTensor::empty({cap, inter}, dt, dev));
    RADIX_ASSIGN_OR_RETURN(ws.final_rows, OwnedTensor::empty({cap, h}, dt, dev));
    ws.tokens = cap;
    ws_ = std::move(ws);
    return Status::ok();
  }

  ModelConfig config_;
  LoadOptions options_;
  OwnedTensor embed_tokens_, norm_, lm_head_, cos_sin_;
  std::vector<LlamaLayer> layers_;
  Workspace ws_;
  size_t weight_bytes_ = 0;
};

}  // namespace

Result<std::unique_ptr<CausalLM>> make_llama(const ModelConfig& config, const Checkpoint* checkpoint,
                                             const LoadOptions& options) {
  auto model = std::make_unique<LlamaModel>(config, options);
  RADIX_RETURN_IF_ERROR(model->load(checkpoint));
  return std::unique_ptr<CausalLM>(std::move(model));
}

}  // namespace radix
