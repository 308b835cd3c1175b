// Shared helpers for model golden tests: the fixture list and readers of the
// transformers reference (tools/golden/make_model_fixtures.py).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/safetensors.h"

namespace radix::testing {

struct GoldenCase {
  std::string name;
  std::string model_dir;
  std::string golden_path;
};

// The repo root: the build's source dir, or the working directory when the binaries
// were carried to another machine (the GPU machine runs them from its repo copy).
inline std::string source_root() {
  std::error_code ec;
  if (std::filesystem::exists(std::string(RADIX_SOURCE_DIR) + "/models/default", ec)) return RADIX_SOURCE_DIR;
  return ".";
}

inline std::vector<GoldenCase> golden_cases() {
  const std::string root = source_root();
  std::vector<GoldenCase> cases;
  for (const char* n : {"llama3", "llama2_linear", "mistral", "qwen2"}) {
    cases.push_back({n, root + "/tests/data/models/" + n, root + "/tests/data/models/" + n + "/golden.safetensors"});
  }
  cases.push_back({"default", root + "/models/default", root + "/tests/data/models/default/golden.safetensors"});
  return cases;
}

struct GoldenPrompt {
  std::vector<int32_t> ids;
  std::vector<float> logits;  // [L, V]
  std::vector<int32_t> greedy;
  std::vector<float> margin;
};

inline std::vector<GoldenPrompt> read_golden(const SafetensorsFile& f) {
  std::vector<GoldenPrompt> out;
  for (int i = 0;; ++i) {
    const std::string p = "prompt_" + std::to_string(i) + ".";
    auto ids = f.tensor(p + "input_ids");
    if (!ids.is_ok()) break;
    GoldenPrompt g;
    for (int64_t j = 0; j < ids->numel(); ++j) g.ids.push_back(static_cast<int32_t>(ids->data_as<int64_t>()[j]));
    auto logits = f.tensor(p + "logits").value();
    g.logits.assign(logits.data_as<float>(), logits.data_as<float>() + logits.numel());
    auto greedy = f.tensor(p + "greedy").value();
    for (int64_t j = 0; j < greedy.numel(); ++j) g.greedy.push_back(static_cast<int32_t>(greedy.data_as<int64_t>()[j]));
    auto margin = f.tensor(p + "margin").value();
    g.margin.assign(margin.data_as<float>(), margin.data_as<float>() + margin.numel());
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace radix::testing
