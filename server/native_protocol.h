// SGLang native protocol: JSON <-> server-native structs for POST /generate (text or
// input_ids, single or batch, per-item sampling_params, logprob options, streaming with
// cumulative text) and the shapes of its meta_info.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "runtime/sampling_params.h"
#include "server/api_error.h"
#include "server/generation_types.h"
#include "server/prompt_input.h"

namespace radix::server {

struct GenerateItem {
  PromptInput prompt;
  SamplingParams params;
  std::string rid;  // empty: derived from the request id
};

struct GenerateRequest {
  std::vector<GenerateItem> items;
  bool batch = false;  // the prompt was a list: respond with a list
  bool stream = false;
  bool return_text_in_logprobs = false;
  // Items respond as a list when batched or when any asks for n > 1.
  bool list_response() const;
};

std::optional<ApiError> parse_generate_request(const nlohmann::json& body, GenerateRequest* out);

// SGLang's finish_reason object: {"type": "stop", "matched": ...}, {"type": "length",
// "length": n}, {"type": "abort"}; null while unfinished.
nlohmann::json native_finish_reason(FinishReason reason, const std::optional<std::string>& matched,
                                    int32_t matched_token, int completion_tokens);

// One item's {"text", "meta_info"} for a choice (cumulative text).
nlohmann::json native_item_json(const GenerateRequest& req, const GenerateItem& item,
                                const PromptResult& prompt, const ChoiceResult& choice,
                                const TokenTextFn& token_text);

}  // namespace radix::server
