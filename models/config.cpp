// config.json -> ModelConfig for the Llama family (Llama, Mistral, Qwen2), following
// the Hugging Face config classes' defaults and semantics field by field. Sits at the
// start of model loading: the CLI/runtime reads the config, then the model file builds
// its layers and walks the checkpoint from it.
#include "models/config.h"

#include "core/file_util.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>

namespace radix {
namespace {

using Json = nlohmann::json;

enum class Family { kLlama, kMistral, kQwen2 };

struct Architecture {
  const char* name;
  const char* model_type;
  Family family;
};
constexpr Architecture kArchitectures[] = {
    {"LlamaForCausalLM", "llama", Family::kLlama},
    {"MistralForCausalLM", "mistral", Family::kMistral},
    {"Qwen2ForCausalLM", "qwen2", Family::kQwen2},
};

std::string json_type(const Json& j) {
  if (j.is_number_float()) return "float";
  if (j.is_number_integer()) return "integer";
  return j.type_name();
}

// Typed access to one JSON object; every error names the source file and the field.
// Absent and null fields leave the output untouched (the caller's default).
class Fields {
 public:
  Fields(const Json& obj, std::string source, std::string prefix = "")
      : obj_(obj), source_(std::move(source)), prefix_(std::move(prefix)) {}

  bool has(const char* key) const { return obj_.contains(key) && !obj_.at(key).is_null(); }
  const Json& at(const char* key) const { return obj_.at(key); }

  Status error(const char* key, const std::string& what) const {
    return invalid_argument(source_ + ": field \"" + prefix_ + key + "\" " + what);
  }
  Status type_error(const char* key, const char* want) const {
    return error(key, std::string("must be ") + want + ", got " + json_type(obj_.at(key)) + " " +
                          obj_.at(key).dump());
  }

  Status get_int(const char* key, int* out) const {
    if (!has(key)) return Status::ok();
    const Json& v = obj_.at(key);
    if (!v.is_number_integer()) return type_error(key, "an integer");
    // Unsigned storage above INT64_MAX reads as negative; check the storage type.
    if (v.is_number_unsigned() ? v.get<uint64_t>() > uint64_t{std::numeric_limits<int>::max()}
                               : (v.get<int64_t>() > std::numeric_limits<int>::max() ||
                                  v.get<int64_t>() < std::numeric_limits<int>::min())) {
      return error(key, "is out of range: " + v.dump());
    }
    *out = static_cast<int>(v.get<int64_t>());
    return Status::ok();
  }
  Status get_positive_int(const char* key, int* out, bool required) const {
    if (!has(key)) return required ? error(key, "is required but missing") : Status::ok();
    RADIX_RETURN_IF_ERROR(get_int(key, out));
    if (*out <= 0) return error(key, "must be positive, got " + std::to_string(*out));
    return Status::ok();
  }
  Status get_float(const char* key, float* out) const {
    if (!has(key)) return Status::ok();
    const Json& v = obj_.at(key);
    if (!v.is_number()) return type_error(key, "a number");
    const double d = v.get<double>();
    if (!std::isfinite(d) || std::fabs(d) > std::numeric_limits<float>::max()) {
      return error(key, "is out of range: " + v.dump());
    }
    *out = static_cast<float>(d);
    return Status::ok();
  }
  Status get_positive_float(const char* key, float* out, bool required) const {
    if (!has(key)) return required ? error(key, "is required but missing") : Status::ok();
    RADIX_RETURN_IF_ERROR(get_float(key, out));
    if (!(*out > 0.0f)) return error(key, "must be positive, got " + obj_.at(key).dump());
    return Status::ok();
  }
  Status get_bool(const char* key, bool* out) const {
    if (!has(key)) return Status::ok();
    if (!obj_.at(key).is_boolean()) return type_error(key, "true or false");
    *out = obj_.at(key).get<bool>();
    return Status::ok();
  }
  Status get_string(const char* key, std::string* out) const {
    if (!has(key)) return Status::ok();
    if (!obj_.at(key).is_string()) return type_error(key, "a string");
    *out = obj_.at(key).get<std::string>();
    return Status::ok();
  }

 private:
  const Json& obj_;
  std::string source_;
  std::string prefix_;
};

Result<const Architecture*> find_architecture(const Fields& f, const std::string& source) {
  std::string name;
  if (f.has("architectures")) {
    const Json& archs = f.at("architectures");
    if (!archs.is_array() || archs.empty() || !archs[0].is_string()) {
      return f.type_error("architectures", "a non-empty list of strings");
    }
    name = archs[0].get<std::string>();
  } else {
    // Old configs may carry only model_type; map it as transformers' AutoConfig does.
    std::string model_type;
    RADIX_RETURN_IF_ERROR(f.get_string("model_type", &model_type));
    for (const Architecture& a : kArchitectures) {
      if (model_type == a.model_type) return &a;
    }
    name = model_type.empty() ? "(none: no \"architectures\" or \"model_type\")"
                              : "for model_type \"" + model_type + "\"";
  }
  for (const Architecture& a : kArchitectures) {
    if (name == a.name) return &a;
  }
  std::string supported;
  for (const std::string& s : supported_architectures())
    supported += (supported.empty() ? "" : ", ") + s;
  return unimplemented(source + ": unsupported architecture " + name + "; supported: " + supported);
}

// rope_scaling (or the rope_parameters dict of newer transformers): null, "default",
// "linear" or "llama3". The type key is "rope_type", or "type" in older configs.
Status parse_rope_scaling(const Json& rs, const char* field, const std::string& source,
                          RopeScaling* out) {
  if (!rs.is_object()) {
    return invalid_argument(source + ": field \"" + field + "\" must be an object or null, got " +
                            json_type(rs));
  }
  const Fields f(rs, source, std::string(field) + ".");
  std::string type;
  if (f.has("rope_type")) {
    RADIX_RETURN_IF_ERROR(f.get_string("rope_type", &type));
  } else if (f.has("type")) {
    RADIX_RETURN_IF_ERROR(f.get_string("type", &type));
  } else {
    return f.error("rope_type", "is required but missing");
  }
  if (type == "default") {
    *out = RopeScaling{};
    return Status::ok();
  }
  if (type == "linear") {
    out->type = RopeScaling::Type::kLinear;
    return f.get_positive_float("factor", &out->factor, /*required=*/true);
  }
  if (type == "llama3") {
    out->type = RopeScaling::Type::kLlama3;
    RADIX_RETURN_IF_ERROR(f.get_positive_float("factor", &out->factor, true));
    RADIX_RETURN_IF_ERROR(f.get_positive_float("low_freq_factor", &out->low_freq_factor, true));
    RADIX_RETURN_IF_ERROR(f.get_positive_float("high_freq_factor", &out->high_freq_factor, true));
    RADIX_RETURN_IF_ERROR(f.get_positive_int("original_max_position_embeddings",
                                             &out->original_max_position_embeddings, true));
    // The smoothing between the two cut-off wavelengths divides by their difference.
    if (!(out->high_freq_factor > out->low_freq_factor)) {
      return f.error("high_freq_factor", "must be greater than low_freq_factor (" +
                                             std::to_string(out->high_freq_factor) + " vs " +
                                             std::to_string(out->low_freq_factor) + ")");
    }
    return Status::ok();
  }
  return unimplemented(source + ": " + field + " type \"" + type +
                       "\" is not supported (supported: default, linear, llama3)");
}

Status parse_dtype_field(const Fields& f, ModelConfig* c) {
  // transformers >= 4.56 writes "dtype"; older versions "torch_dtype". A config with
  // neither was saved from float32 weights (transformers' own default).
  const char* key = f.has("dtype") ? "dtype" : "torch_dtype";
  c->torch_dtype = DType::kF32;
  if (!f.has(key)) return Status::ok();
  std::string name;
  RADIX_RETURN_IF_ERROR(f.get_string(key, &name));
  Result<DType> dt = parse_dtype(name);
  if (!dt.is_ok() ||
      !(dt.value() == DType::kF32 || dt.value() == DType::kF16 || dt.value() == DType::kBF16)) {
    return f.error(key, "must be float32, float16 or bfloat16, got \"" + name + "\"");
  }
  c->torch_dtype = dt.value();
  return Status::ok();
}

Status parse_token_ids(const Fields& f, ModelConfig* c) {
  if (f.has("eos_token_id")) {
    const Json& eos = f.at("eos_token_id");
    if (eos.is_number_integer()) {
      int id = 0;
      RADIX_RETURN_IF_ERROR(f.get_int("eos_token_id", &id));
      c->eos_token_ids = {id};
    } else if (eos.is_array()) {
      for (const Json& e : eos) {
        if (!e.is_number_integer() || e.get<int64_t>() < 0 ||
            e.get<int64_t>() > std::numeric_limits<int>::max()) {
          return f.type_error("eos_token_id", "an integer or a list of token ids");
        }
        c->eos_token_ids.push_back(static_cast<int>(e.get<int64_t>()));
      }
    } else {
      return f.type_error("eos_token_id", "an integer or a list of integers");
    }
  }
  return f.get_int("bos_token_id", &c->bos_token_id);
}

}  // namespace

std::vector<std::string> supported_architectures() {
  std::vector<std::string> out;
  for (const Architecture& a : kArchitectures) out.emplace_back(a.name);
  return out;
}

Result<ModelConfig> parse_model_config(const std::string& json_text, const std::string& source) {
  Json root;
  try {
    root = Json::parse(json_text);
  } catch (const Json::exception& e) {
    return invalid_argument(source + ": not valid JSON: " + e.what());
  }
  if (!root.is_object())
    return invalid_argument(source + ": must be a JSON object, got " + json_type(root));

  try {
    const Fields f(root, source);
    RADIX_ASSIGN_OR_RETURN(const Architecture* arch, find_architecture(f, source));
    ModelConfig c;
    c.architecture = arch->name;
    c.model_type = arch->model_type;
    RADIX_RETURN_IF_ERROR(f.get_string("model_type", &c.model_type));

    // Per-family defaults of transformers' LlamaConfig / MistralConfig / Qwen2Config.
    switch (arch->family) {
      case Family::kLlama:
        c.max_position_embeddings = 2048;
        break;
      case Family::kMistral:
        c.max_position_embeddings = 4096 * 32;
        break;
      case Family::kQwen2:
        c.max_position_embeddings = 32768;
        break;
    }
    c.rms_norm_eps = 1e-6f;
    c.rope_theta = 10000.0f;

    RADIX_RETURN_IF_ERROR(f.get_positive_int("vocab_size", &c.vocab_size, true));
    RADIX_RETURN_IF_ERROR(f.get_positive_int("hidden_size", &c.hidden_size, true));
    RADIX_RETURN_IF_ERROR(f.get_positive_int("intermediate_size", &c.intermediate_size, true));
    RADIX_RETURN_IF_ERROR(f.get_positive_int("num_hidden_layers", &c.num_hidden_layers, true));
    RADIX_RETURN_IF_ERROR(f.get_positive_int("num_attention_heads", &c.num_attention_heads, true));
    c.num_key_value_heads = c.num_attention_heads;
    RADIX_RETURN_IF_ERROR(f.get_positive_int("num_key_value_heads", &c.num_key_value_heads, false));
    RADIX_RETURN_IF_ERROR(
        f.get_positive_int("max_position_embeddings", &c.max_position_embeddings, false));
    RADIX_RETURN_IF_ERROR(f.get_positive_float("rms_norm_eps", &c.rms_norm_eps, false));

    if (f.has("head_dim")) {
      RADIX_RETURN_IF_ERROR(f.get_positive_int("head_dim", &c.head_dim, false));
    } else {
      if (c.hidden_size % c.num_attention_heads != 0) {
        return f.error("hidden_size", "(" + std::to_string(c.hidden_size) +
                                          ") must be divisible by num_attention_heads (" +
                                          std::to_string(c.num_attention_heads) +
                                          ") when head_dim is not given");
      }
      c.head_dim = c.hidden_size / c.num_attention_heads;
    }
    if (c.head_dim % 2 != 0) {
      return f.error("head_dim",
                     "must be even for rotary embeddings, got " + std::to_string(c.head_dim));
    }
    if (c.num_attention_heads % c.num_key_value_heads != 0) {
      return f.error("num_attention_heads", "(" + std::to_string(c.num_attention_heads) +
                                                ") must be divisible by num_key_value_heads (" +
                                                std::to_string(c.num_key_value_heads) + ")");
    }

    // RoPE: top-level rope_theta/rope_scaling, or transformers v5's rope_parameters.
    RADIX_RETURN_IF_ERROR(f.get_positive_float("rope_theta", &c.rope_theta, false));
    if (f.has("rope_scaling")) {
      RADIX_RETURN_IF_ERROR(
          parse_rope_scaling(f.at("rope_scaling"), "rope_scaling", source, &c.rope_scaling));
    } else if (f.has("rope_parameters")) {
      const Json& rp = f.at("rope_parameters");
      RADIX_RETURN_IF_ERROR(parse_rope_scaling(rp, "rope_parameters", source, &c.rope_scaling));
      const Fields rpf(rp, source, "rope_parameters.");
      if (!f.has("rope_theta")) {
        RADIX_RETURN_IF_ERROR(rpf.get_positive_float("rope_theta", &c.rope_theta, false));
      }
    }

    RADIX_RETURN_IF_ERROR(f.get_bool("tie_word_embeddings", &c.tie_word_embeddings));
    RADIX_RETURN_IF_ERROR(f.get_string("hidden_act", &c.hidden_act));
    RADIX_RETURN_IF_ERROR(parse_dtype_field(f, &c));
    RADIX_RETURN_IF_ERROR(parse_token_ids(f, &c));

    switch (arch->family) {
      case Family::kLlama:
        RADIX_RETURN_IF_ERROR(f.get_bool("attention_bias", &c.attention_bias));
        RADIX_RETURN_IF_ERROR(f.get_bool("mlp_bias", &c.mlp_bias));
        break;
      case Family::kMistral:
        // MistralConfig defaults sliding_window to 4096; an explicit null disables it.
        c.sliding_window = 4096;
        if (root.contains("sliding_window") && root["sliding_window"].is_null())
          c.sliding_window = -1;
        RADIX_RETURN_IF_ERROR(f.get_positive_int("sliding_window", &c.sliding_window, false));
        c.max_window_layers = 0;
        break;
      case Family::kQwen2: {
        c.attention_bias = true;  // Qwen2's q/k/v projections always carry a bias
        bool use_sliding_window = false;
        RADIX_RETURN_IF_ERROR(f.get_bool("use_sliding_window", &use_sliding_window));
        int window = 4096, max_window_layers = 28;
        RADIX_RETURN_IF_ERROR(f.get_positive_int("sliding_window", &window, false));
        RADIX_RETURN_IF_ERROR(f.get_int("max_window_layers", &max_window_layers));
        if (max_window_layers < 0) {
          return f.error("max_window_layers",
                         "must not be negative, got " + std::to_string(max_window_layers));
        }
        const bool window_null =
            root.contains("sliding_window") && root["sliding_window"].is_null();
        if (use_sliding_window && !window_null) {
          c.sliding_window = window;
          c.max_window_layers = max_window_layers;
        }
        break;
      }
    }
    return c;
  } catch (const Json::exception& e) {  // an accessor we did not guard: still an error
    return invalid_argument(source + ": malformed config: " + e.what());
  }
}

Result<ModelConfig> load_model_config(const std::string& model_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  // A bare config file (configs/*.json) is accepted too: dummy-weight runs of real shapes.
  const bool is_file = fs::is_regular_file(model_dir, ec) && fs::path(model_dir).extension() == ".json";
  if (!is_file && !fs::is_directory(model_dir, ec)) {
    return not_found("model directory " + model_dir + " does not exist or is not a directory");
  }
  const std::string path = is_file ? model_dir : (fs::path(model_dir) / "config.json").string();
  auto text = read_file(path);
  if (!text.is_ok()) {
    if (text.status().code() == StatusCode::kNotFound) {
      return not_found(path + " not found (a Hugging Face model directory needs config.json)");
    }
    return text.status();
  }
  return parse_model_config(*text, path);
}

}  // namespace radix
