// Tests for config.json -> ModelConfig (models/config.h): the published configs of
// Llama 2/3/3.1, Mistral and Qwen2 (configs/*.json, verbatim) parse to the right
// numbers, Hugging Face defaults and per-architecture rules apply, and every malformed
// field is an error naming the field and the file.
#include "models/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace radix {
namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

std::string config_path(const std::string& name) {
  return std::string(RADIX_SOURCE_DIR) + "/configs/" + name;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

ModelConfig parse_published(const std::string& name) {
  const std::string path = config_path(name);
  auto c = parse_model_config(read_text(path), path);
  EXPECT_TRUE(c.is_ok()) << name << ": " << c.status().to_string();
  return c.is_ok() ? c.value() : ModelConfig{};
}

Json published_json(const std::string& name) {
  return Json::parse(read_text(config_path(name)));
}

constexpr const char* kSource = "ckpt/config.json";

Result<ModelConfig> parse(const Json& j) {
  return parse_model_config(j.dump(), kSource);
}

void expect_error(const Result<ModelConfig>& r, const std::vector<std::string>& needles) {
  ASSERT_FALSE(r.is_ok());
  for (const std::string& n : needles) {
    EXPECT_NE(r.status().message().find(n), std::string::npos)
        << "'" << n << "' not in: " << r.status().message();
  }
}

// ------------------------------------------------------------------ published configs

TEST(ModelConfig, ParsesLlama3_8B) {
  const ModelConfig c = parse_published("llama-3-8b.json");
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.vocab_size, 128256);
  EXPECT_EQ(c.hidden_size, 4096);
  EXPECT_EQ(c.intermediate_size, 14336);
  EXPECT_EQ(c.num_hidden_layers, 32);
  EXPECT_EQ(c.num_attention_heads, 32);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_FLOAT_EQ(c.rms_norm_eps, 1e-5f);
  EXPECT_FLOAT_EQ(c.rope_theta, 500000.0f);
  EXPECT_EQ(c.rope_scaling.type, RopeScaling::Type::kNone);
  EXPECT_EQ(c.max_position_embeddings, 8192);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_FALSE(c.mlp_bias);
  EXPECT_EQ(c.sliding_window, -1);
  EXPECT_EQ(c.hidden_act, "silu");
  EXPECT_EQ(c.torch_dtype, DType::kBF16);
  EXPECT_EQ(c.eos_token_ids, std::vector<int>{128001});
  EXPECT_EQ(c.bos_token_id, 128000);
}

TEST(ModelConfig, ParsesLlama31_8BWithLlama3RopeScaling) {
  const ModelConfig c = parse_published("llama-3.1-8b.json");
  EXPECT_EQ(c.max_position_embeddings, 131072);
  EXPECT_FLOAT_EQ(c.rope_theta, 500000.0f);
  EXPECT_EQ(c.rope_scaling.type, RopeScaling::Type::kLlama3);
  EXPECT_FLOAT_EQ(c.rope_scaling.factor, 8.0f);
  EXPECT_FLOAT_EQ(c.rope_scaling.low_freq_factor, 1.0f);
  EXPECT_FLOAT_EQ(c.rope_scaling.high_freq_factor, 4.0f);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_FALSE(c.mlp_bias);
  EXPECT_EQ(c.eos_token_ids, std::vector<int>{128001});
}

TEST(ModelConfig, ParsesLlama31InstructEosList) {
  const ModelConfig c = parse_published("llama-3.1-8b-instruct.json");
  EXPECT_EQ(c.eos_token_ids, (std::vector<int>{128001, 128008, 128009}));
  EXPECT_EQ(c.rope_scaling.type, RopeScaling::Type::kLlama3);
}

TEST(ModelConfig, ParsesLlama2_7BWithDefaultRopeTheta) {
  const ModelConfig c = parse_published("llama-2-7b.json");
  EXPECT_EQ(c.vocab_size, 32000);
  EXPECT_EQ(c.intermediate_size, 11008);
  EXPECT_EQ(c.num_key_value_heads, 32);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_FLOAT_EQ(c.rope_theta, 10000.0f);  // absent: LlamaConfig's default
  EXPECT_EQ(c.max_position_embeddings, 4096);
  EXPECT_EQ(c.torch_dtype, DType::kF16);
  EXPECT_EQ(c.eos_token_ids, std::vector<int>{2});
  EXPECT_EQ(c.bos_token_id, 1);
}

TEST(ModelConfig, ParsesMistral7BWithSlidingWindow) {
  const ModelConfig c = parse_published("mistral-7b-v0.1.json");
  EXPECT_EQ(c.architecture, "MistralForCausalLM");
  EXPECT_EQ(c.model_type, "mistral");
  EXPECT_EQ(c.sliding_window, 4096);
  EXPECT_EQ(c.max_window_layers, 0);  // every layer slides
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.intermediate_size, 14336);
  EXPECT_EQ(c.max_position_embeddings, 32768);
  EXPECT_FLOAT_EQ(c.rope_theta, 10000.0f);
  EXPECT_FALSE(c.attention_bias);
}

TEST(ModelConfig, ParsesQwen2_7BWithQkvBiasAndNoSlidingWindow) {
  const ModelConfig c = parse_published("qwen2-7b.json");
  EXPECT_EQ(c.architecture, "Qwen2ForCausalLM");
  EXPECT_EQ(c.vocab_size, 152064);
  EXPECT_EQ(c.hidden_size, 3584);
  EXPECT_EQ(c.intermediate_size, 18944);
  EXPECT_EQ(c.num_hidden_layers, 28);
  EXPECT_EQ(c.num_attention_heads, 28);
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_FLOAT_EQ(c.rms_norm_eps, 1e-6f);
  EXPECT_FLOAT_EQ(c.rope_theta, 1000000.0f);
  EXPECT_TRUE(c.attention_bias);
  EXPECT_FALSE(c.mlp_bias);
  EXPECT_EQ(c.sliding_window, -1);  // use_sliding_window is false
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.eos_token_ids, std::vector<int>{151643});
}

TEST(ModelConfig, ParsesQwen25_05BWithTiedEmbeddings) {
  const ModelConfig c = parse_published("qwen2.5-0.5b.json");
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_TRUE(c.attention_bias);
}

TEST(ModelConfig, LoadsConfigJsonFromADirectory) {
  std::string tmpl = (fs::temp_directory_path() / "radix_cfg_XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const std::string dir = tmpl;
  auto missing = load_model_config(dir);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("config.json"), std::string::npos);

  std::ofstream(dir + "/config.json") << read_text(config_path("mistral-7b-v0.1.json"));
  auto c = load_model_config(dir);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->sliding_window, 4096);

  std::ofstream(dir + "/config.json")
      << "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": \"x\"}";
  auto bad = load_model_config(dir);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find(dir + "/config.json"), std::string::npos);
  fs::remove_all(dir);

  EXPECT_EQ(load_model_config(dir).status().code(), StatusCode::kNotFound);
}

// ------------------------------------------------------------------ HF semantics

TEST(ModelConfig, KeyValueHeadsDefaultToAttentionHeads) {
  Json j = published_json("llama-3-8b.json");
  j.erase("num_key_value_heads");
  EXPECT_EQ(parse(j)->num_key_value_heads, 32);
  j["num_key_value_heads"] = nullptr;
  EXPECT_EQ(parse(j)->num_key_value_heads, 32);
}

TEST(ModelConfig, HeadDimOverrideWinsOverHiddenOverHeads) {
  Json j = published_json("llama-3-8b.json");
  j["head_dim"] = 256;
  EXPECT_EQ(parse(j)->head_dim, 256);
  j["hidden_size"] = 5000;  // not divisible by 32 heads, fine with an explicit head_dim
  EXPECT_TRUE(parse(j).is_ok());
  j["head_dim"] = nullptr;
  expect_error(parse(j), {kSource, "hidden_size", "divisible"});
}

TEST(ModelConfig, ReadsLinearAndDefaultRopeScalingInBothSpellings) {
  Json j = published_json("llama-2-7b.json");
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  auto c = parse(j);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kLinear);
  EXPECT_FLOAT_EQ(c->rope_scaling.factor, 2.0f);

  j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 4}};
  EXPECT_FLOAT_EQ(parse(j)->rope_scaling.factor, 4.0f);

  j["rope_scaling"] = {{"rope_type", "default"}};
  EXPECT_EQ(parse(j)->rope_scaling.type, RopeScaling::Type::kNone);
}

TEST(ModelConfig, ReadsTransformersV5RopeParameters) {
  Json j = published_json("llama-3.1-8b.json");
  Json rp = j["rope_scaling"];
  rp["rope_theta"] = 500000.0;
  j.erase("rope_scaling");
  j.erase("rope_theta");
  j["rope_parameters"] = rp;
  auto c = parse(j);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kLlama3);
  EXPECT_FLOAT_EQ(c->rope_theta, 500000.0f);
}

TEST(ModelConfig, ReadsNewerDtypeKeyAndDefaultsToFloat32WithoutOne) {
  Json j = published_json("llama-3-8b.json");
  j.erase("torch_dtype");
  EXPECT_EQ(parse(j)->torch_dtype, DType::kF32);
  j["dtype"] = "float16";
  EXPECT_EQ(parse(j)->torch_dtype, DType::kF16);
  j["dtype"] = "int8";
  expect_error(parse(j), {kSource, "dtype", "int8"});
}

TEST(ModelConfig, FindsArchitectureFromModelTypeWhenArchitecturesIsAbsent) {
  Json j = published_json("qwen2-7b.json");
  j.erase("architectures");
  auto c = parse(j);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->architecture, "Qwen2ForCausalLM");
  EXPECT_TRUE(c->attention_bias);
}

TEST(ModelConfig, LlamaReadsBiasFlagsOthersFollowTheirArchitecture) {
  Json j = published_json("llama-3-8b.json");
  j["attention_bias"] = true;
  j["mlp_bias"] = true;
  EXPECT_TRUE(parse(j)->attention_bias);
  EXPECT_TRUE(parse(j)->mlp_bias);

  Json m = published_json("mistral-7b-v0.1.json");
  m["attention_bias"] = true;  // MistralForCausalLM has no biases whatever the config says
  EXPECT_FALSE(parse(m)->attention_bias);

  Json q = published_json("qwen2-7b.json");
  q["attention_bias"] = false;  // Qwen2's q/k/v always carry a bias
  EXPECT_TRUE(parse(q)->attention_bias);
}

TEST(ModelConfig, SlidingWindowFollowsMistralAndQwen2Rules) {
  Json m = published_json("mistral-7b-v0.1.json");
  m["sliding_window"] = nullptr;  // Mistral v0.2 style: disabled
  EXPECT_EQ(parse(m)->sliding_window, -1);
  m.erase("sliding_window");  // MistralConfig's default
  EXPECT_EQ(parse(m)->sliding_window, 4096);

  Json q = published_json("qwen2-7b.json");
  q["use_sliding_window"] = true;
  q["sliding_window"] = 4096;
  q["max_window_layers"] = 20;
  auto c = parse(q);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->sliding_window, 4096);
  EXPECT_EQ(c->max_window_layers, 20);
  q["sliding_window"] = nullptr;
  EXPECT_EQ(parse(q)->sliding_window, -1);

  Json l = published_json("llama-3-8b.json");
  l["sliding_window"] = 4096;  // Llama has no sliding window
  EXPECT_EQ(parse(l)->sliding_window, -1);
}

TEST(ModelConfig, NullTokenIdsMeanNone) {
  Json j = published_json("llama-3-8b.json");
  j["eos_token_id"] = nullptr;
  j["bos_token_id"] = nullptr;
  auto c = parse(j);
  ASSERT_TRUE(c.is_ok());
  EXPECT_TRUE(c->eos_token_ids.empty());
  EXPECT_EQ(c->bos_token_id, -1);
}

// ------------------------------------------------------------------ errors

TEST(ModelConfig, UnsupportedArchitectureListsTheSupportedOnes) {
  Json j = published_json("llama-3-8b.json");
  j["architectures"] = {"GemmaForCausalLM"};
  auto r = parse(j);
  EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
  expect_error(r, {kSource,
                   "unsupported architecture GemmaForCausalLM; supported: LlamaForCausalLM, "
                   "MistralForCausalLM, Qwen2ForCausalLM"});
  EXPECT_EQ(
      supported_architectures(),
      (std::vector<std::string>{"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"}));

  j.erase("architectures");
  j["model_type"] = "gemma";
  expect_error(parse(j), {"gemma", "supported: LlamaForCausalLM"});
  j.erase("model_type");
  expect_error(parse(j), {"unsupported architecture"});
}

TEST(ModelConfig, MissingOrNonPositiveRequiredFieldsAreErrorsNamingTheField) {
  for (const char* field : {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                            "num_attention_heads"}) {
    Json j = published_json("llama-3-8b.json");
    j.erase(field);
    expect_error(parse(j), {kSource, field, "missing"});
    j[field] = 0;
    expect_error(parse(j), {kSource, field, "positive"});
    j[field] = -4;
    expect_error(parse(j), {kSource, field, "positive"});
  }
}

TEST(ModelConfig, WrongJsonTypesAreErrorsNamingFieldAndFile) {
  struct Case {
    const char* field;
    Json value;
  };
  const std::vector<Case> cases = {
      {"hidden_size", "4096"},
      {"hidden_size", 4096.5},
      {"hidden_size", 1000000000000},
      {"vocab_size", true},
      {"num_key_value_heads", "8"},
      {"head_dim", 12.0},
      {"rms_norm_eps", "1e-5"},
      {"rms_norm_eps", 0.0},
      {"rope_theta", Json::array()},
      {"rope_theta", -1.0},
      {"max_position_embeddings", 1.5},
      {"tie_word_embeddings", "false"},
      {"attention_bias", 1},
      {"mlp_bias", "no"},
      {"hidden_act", 3},
      {"torch_dtype", 16},
      {"eos_token_id", "2"},
      {"eos_token_id", Json::array({1, "2"})},
      {"bos_token_id", 1.0},
      {"model_type", 7},
      {"architectures", "LlamaForCausalLM"},
      {"architectures", Json::array()},
      {"architectures", Json::array({3})},
  };
  for (const Case& c : cases) {
    Json j = published_json("llama-3-8b.json");
    j[c.field] = c.value;
    SCOPED_TRACE(std::string(c.field) + " = " + c.value.dump());
    expect_error(parse(j), {kSource, c.field});
  }
}

TEST(ModelConfig, KvHeadsMustDivideAttentionHeads) {
  Json j = published_json("llama-3-8b.json");
  j["num_key_value_heads"] = 5;
  expect_error(parse(j), {kSource, "num_key_value_heads", "divisible"});
}

TEST(ModelConfig, OddHeadDimIsRejected) {
  Json j = published_json("llama-3-8b.json");
  j["head_dim"] = 127;
  expect_error(parse(j), {kSource, "head_dim", "even"});
}

TEST(ModelConfig, BadRopeScalingIsAClearError) {
  Json j = published_json("llama-3.1-8b.json");
  j["rope_scaling"]["rope_type"] = "yarn";
  auto yarn = parse(j);
  EXPECT_EQ(yarn.status().code(), StatusCode::kUnimplemented);
  expect_error(yarn, {kSource, "yarn", "linear", "llama3"});

  j = published_json("llama-3.1-8b.json");
  j["rope_scaling"].erase("low_freq_factor");
  expect_error(parse(j), {kSource, "rope_scaling.low_freq_factor", "missing"});

  j = published_json("llama-3.1-8b.json");
  j["rope_scaling"]["high_freq_factor"] = 1.0;
  expect_error(parse(j), {kSource, "high_freq_factor", "greater"});

  j = published_json("llama-3.1-8b.json");
  j["rope_scaling"]["original_max_position_embeddings"] = "8192";
  expect_error(parse(j), {kSource, "original_max_position_embeddings"});

  j = published_json("llama-3.1-8b.json");
  j["rope_scaling"] = "llama3";
  expect_error(parse(j), {kSource, "rope_scaling", "object"});

  j = published_json("llama-3.1-8b.json");
  j["rope_scaling"] = {{"factor", 2.0}};
  expect_error(parse(j), {kSource, "rope_type", "missing"});

  j = published_json("llama-3.1-8b.json");
  j["rope_scaling"] = {{"type", "linear"}};
  expect_error(parse(j), {kSource, "rope_scaling.factor"});
}

TEST(ModelConfig, TextThatIsNotAJsonObjectIsAnError) {
  expect_error(parse_model_config("{\"hidden_size\": ", kSource), {kSource, "JSON"});
  expect_error(parse_model_config("", kSource), {kSource, "JSON"});
  expect_error(parse_model_config("[1, 2]", kSource), {kSource, "object"});
  expect_error(parse_model_config("\xff\xfe", kSource), {kSource});
}

}  // namespace
}  // namespace radix
