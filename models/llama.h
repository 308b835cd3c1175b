// Llama-family architectures (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM).
#pragma once

#include "models/model.h"

namespace radix {

Result<std::unique_ptr<CausalLM>> make_llama(const ModelConfig& config, const Checkpoint* checkpoint,
                                             const LoadOptions& options);

}  // namespace radix
