// SamplingParams: what a request asks of the sampler and the stop logic. Filled by the
// server from OpenAI / SGLang JSON, validated here with messages a user can act on.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/constrained/constraint.h"

namespace radix::constrained {
class Grammar;
}

namespace radix {

struct SamplingParams {
  int max_new_tokens = 128;
  int min_new_tokens = 0;
  float temperature = 1.0f;  // 0 = greedy
  float top_p = 1.0f;        // (0, 1]
  int top_k = -1;            // -1 or 0 = whole vocabulary
  float min_p = 0.0f;        // [0, 1]
  float frequency_penalty = 0.0f;   // [-2, 2]
  float presence_penalty = 0.0f;    // [-2, 2]
  float repetition_penalty = 1.0f;  // (0, 2]
  std::vector<std::string> stop;          // stop strings (matched on detokenized text)
  std::vector<int32_t> stop_token_ids;
  bool ignore_eos = false;
  bool skip_special_tokens = true;
  int n = 1;
  std::optional<uint64_t> seed;
  // logprobs
  bool return_logprob = false;
  int top_logprobs_num = 0;     // top-k alternatives per position
  int logprob_start_len = -1;   // >= 0: also return prompt logprobs from this position
  // Structured output: what the request asked for (the server parses it), and the
  // grammar the output must match, compiled from it by the server for the model's
  // vocabulary (runtime/constrained/grammar.h); the engine uses only `grammar`.
  constrained::Constraint constraint;
  std::shared_ptr<const constrained::Grammar> grammar;

  // Checks ranges as SGLang documents them; vocab_size bounds stop_token_ids.
  Status validate(int vocab_size) const;
  bool is_greedy() const { return temperature < 1e-6f || top_k == 1; }
};

}  // namespace radix
