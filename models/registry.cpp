// Architecture name -> constructor. The one place a new model family is registered.
#include <functional>
#include <map>

#include "models/llama.h"
#include "models/model.h"

namespace radix {
namespace {

using Factory = std::function<Result<std::unique_ptr<CausalLM>>(const ModelConfig&, const Checkpoint*,
                                                                const LoadOptions&)>;

const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> kFactories = {
      {"LlamaForCausalLM", make_llama},
      {"MistralForCausalLM", make_llama},
      {"Qwen2ForCausalLM", make_llama},
  };
  return kFactories;
}

}  // namespace

Result<std::unique_ptr<CausalLM>> load_causal_lm(const ModelConfig& config, const Checkpoint* checkpoint,
                                                 const LoadOptions& options) {
  auto it = factories().find(config.architecture);
  if (it == factories().end()) {
    return unimplemented("no model implementation for architecture " + config.architecture);
  }
  if (!options.dummy_weights && !checkpoint) return invalid_argument("no checkpoint given");
  return it->second(config, checkpoint, options);
}

Result<std::unique_ptr<CausalLM>> load_causal_lm(const std::string& model_dir, const LoadOptions& options) {
  RADIX_ASSIGN_OR_RETURN(ModelConfig config, load_model_config(model_dir));
  if (options.dummy_weights) return load_causal_lm(config, nullptr, options);
  RADIX_ASSIGN_OR_RETURN(Checkpoint checkpoint, Checkpoint::open_dir(model_dir));
  // Weights are copied out of the mapping during load, so the checkpoint may close after.
  return load_causal_lm(config, &checkpoint, options);
}

}  // namespace radix
