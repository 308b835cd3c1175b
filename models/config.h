// ModelConfig: a Hugging Face config.json parsed into the fields radix models use.
// Unknown architectures are an error that lists the supported ones.
#pragma once

#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"

namespace radix {

struct RopeScaling {
  enum class Type { kNone, kLinear, kLlama3 } type = Type::kNone;
  float factor = 1.0f;
  // llama3
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string architecture;  // e.g. "LlamaForCausalLM" (first of "architectures")
  std::string model_type;    // e.g. "llama", "mistral", "qwen2"
  int vocab_size = 0;
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int num_key_value_heads = 0;  // defaults to num_attention_heads
  int head_dim = 0;             // defaults to hidden_size / num_attention_heads
  float rms_norm_eps = 1e-6f;
  float rope_theta = 10000.0f;
  RopeScaling rope_scaling;
  int max_position_embeddings = 2048;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v projections carry a bias (Qwen2: always true)
  bool mlp_bias = false;
  int sliding_window = -1;      // Mistral; -1 = none (or disabled by use_sliding_window)
  // Layers with index >= max_window_layers use sliding_window (Qwen2's rule; 0 for
  // Mistral, where every layer slides). Meaningless when sliding_window is -1.
  int max_window_layers = 0;
  std::string hidden_act = "silu";
  DType torch_dtype = DType::kBF16;  // parsed: "dtype"/"torch_dtype"; absent = f32 (as HF)
  std::vector<int> eos_token_ids;  // from "eos_token_id" (int or list)
  int bos_token_id = -1;
};

std::vector<std::string> supported_architectures();

// Parses config.json text; `source` names the file in error messages.
Result<ModelConfig> parse_model_config(const std::string& json_text, const std::string& source);
// Reads DIR/config.json (or, given a .json file, that file: dummy-weight runs).
Result<ModelConfig> load_model_config(const std::string& model_dir);

}  // namespace radix
