// PromptInput: a prompt as a client sent it (text or token ids), before tokenization.
// Parsed from OpenAI `prompt` / SGLang `text` + `input_ids`; turned into token ids by
// server/tokenization.h on the HTTP thread.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/api_error.h"

namespace radix::server {

inline constexpr size_t kMaxBatchPrompts = 1024;       // prompts in one request
inline constexpr size_t kMaxPromptTokenIds = 1 << 20;  // ids in one prompt (before context check)

struct PromptInput {
  bool is_text = true;
  std::string text;
  std::vector<int32_t> ids;
};

// Parses a value that is a string, a list of strings, a list of ids or a list of id lists.
// `batch` is set when the value was a list of prompts. Ids are checked to be >= 0 here and
// against the vocabulary at tokenization.
std::optional<ApiError> parse_prompt_value(const nlohmann::json& v, const std::string& param,
                                           std::vector<PromptInput>* out, bool* batch);

}  // namespace radix::server
