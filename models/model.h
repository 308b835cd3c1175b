// The model-facing description of one forward step and the CausalLM interface that
// every architecture implements. The runtime's scheduler builds a ModelBatch (tensors
// on the model's device) and a KvCache view of the pool; the model writes logits.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "core/safetensors.h"
#include "kernels/ops.h"
#include "models/config.h"

namespace radix {

// One step: T new tokens over B sequences (ragged), see AttentionParams.
struct ModelBatch {
  Tensor input_ids;      // i32 [T]
  Tensor positions;      // i32 [T]: position of each new token in its sequence
  Tensor out_cache_loc;  // i32 [T]: pool slot each new token's K/V is written to
  AttentionParams attn;  // qo_indptr/kv_indptr [B+1], kv_indices: context slots
  Tensor logits_rows;    // i32 [N]: rows of the T hidden states to produce logits for
  // Set when logits_rows is 0, 1, ..., T - 1 (every row, in order: a decode step); a
  // model may then compute the logits from its hidden states without gathering rows.
  bool logits_all_rows = false;
  // Cascade decode (prefix.num_groups > 0): grouped sequences' kv_indices hold only their
  // own positions after the group's shared prefix (ops::attention_shared_prefix).
  SharedPrefix prefix;
};

// Per-layer views of the KV pool: k[l], v[l] are [S, Hk, D].
struct KvCache {
  std::vector<Tensor> k;
  std::vector<Tensor> v;
};

struct KvLayout {
  int num_layers = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  DType dtype = DType::kF32;  // the activations' dtype: the cache dtype unless one is chosen
};

struct LoadOptions {
  Device device = Device::cpu();
  DType dtype = DType::kF32;     // weights and activations (f32 on CPU, bf16 on CUDA)
  bool dummy_weights = false;    // random weights from config.json alone
  uint64_t seed = 0;             // for dummy weights
  int max_position = 0;          // rope table length; 0 = config max_position_embeddings
};

class CausalLM {
 public:
  virtual ~CausalLM() = default;
  virtual const ModelConfig& config() const = 0;
  virtual KvLayout kv_layout() const = 0;
  // logits [N, V] f32 for the rows batch.logits_rows selects.
  virtual Status forward(const OpContext& ctx, const ModelBatch& batch, const KvCache& kv,
                         const Tensor& logits) = 0;
  // Bytes of weights on the device.
  virtual size_t weight_bytes() const = 0;
  // Allocates activation buffers for steps of up to `tokens` tokens now, so that later
  // steps do not allocate (captured CUDA graphs keep pointing at them).
  virtual Status reserve(int64_t tokens) = 0;
  // Tokens the activation buffers hold now; grows (buffers move) when a step needs more.
  virtual int64_t workspace_tokens() const = 0;
};

// Reads config.json and the safetensors in `model_dir` (or makes dummy weights).
Result<std::unique_ptr<CausalLM>> load_causal_lm(const std::string& model_dir,
                                                 const LoadOptions& options);
// Same, from an already parsed config (dummy weights need no checkpoint).
Result<std::unique_ptr<CausalLM>> load_causal_lm(const ModelConfig& config,
                                                 const Checkpoint* checkpoint,
                                                 const LoadOptions& options);

}  // namespace radix
