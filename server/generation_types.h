// Server-native results of a generation: what the driver (server/generation.h) hands the
// protocol writers (openai_protocol, native_protocol). No JSON and no HTTP here.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "runtime/engine.h"

namespace radix::server {

// One prompt of a request after tokenization and submission.
struct PromptResult {
  std::string rid;
  std::string prompt_text;  // the prompt as text (decoded when sent as ids): echo
  std::vector<int32_t> prompt_ids;
  int prompt_tokens = 0;
  int cached_tokens = 0;
  std::vector<TokenLogprob> prompt_logprobs;  // when requested; arrives with the first event
};

// Everything one choice produced (accumulated over its deltas).
struct ChoiceResult {
  int prompt = 0;  // index into the request's prompts
  std::string text;
  std::vector<int32_t> token_ids;
  std::vector<TokenLogprob> logprobs;
  bool finished = false;
  FinishReason finish_reason = FinishReason::kNone;
  std::optional<std::string> matched_stop;
  int32_t matched_stop_token = -1;
  int completion_tokens = 0;
};

// New output of one choice since the previous update (streaming).
struct ChoiceUpdate {
  int index = 0;  // global choice index: prompt-major, prompt * n + i
  int prompt = 0;
  bool first = false;  // the choice's first update (chat: send the role)
  std::string text;
  std::vector<int32_t> token_ids;
  std::vector<TokenLogprob> logprobs;
  bool finished = false;
  FinishReason finish_reason = FinishReason::kNone;
  std::optional<std::string> matched_stop;
  int32_t matched_stop_token = -1;
};

// Decodes one token id for logprob listings.
using TokenTextFn = std::function<std::string(int32_t)>;

// "stop", "length", "abort" or null (unfinished) as OpenAI clients expect.
const char* openai_finish_reason(FinishReason r);

}  // namespace radix::server
