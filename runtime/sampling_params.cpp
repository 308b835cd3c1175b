// SamplingParams::validate: the range checks a request's sampling parameters must pass
// before the engine accepts it (server -> Engine::submit). Ranges follow SGLang's
// SamplingParams.verify; messages name the field, the allowed range and the value sent.
#include "runtime/sampling_params.h"

#include <cmath>
#include <sstream>

#include "runtime/constrained/grammar.h"
#include "tokenizer/unicode.h"

namespace radix {
namespace {

constexpr int kMaxChoices = 128;     // OpenAI's limit for `n`
constexpr int kMaxTopLogprobs = 20;  // OpenAI's limit for `top_logprobs`

// Formats a float the way a user typed it ("0.5", "nan", "inf").
std::string fmt(float v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// NaN fails every comparison, so `in_closed(nan, ...)` is false: NaN is rejected.
bool in_closed(float v, float lo, float hi) {
  return v >= lo && v <= hi;
}

}  // namespace

Status SamplingParams::validate(int vocab_size) const {
  if (grammar != nullptr && grammar->vocab_size() != vocab_size) {
    return invalid_argument("the structured-output grammar was compiled for a vocabulary of " +
                            std::to_string(grammar->vocab_size()) + " tokens, the model has " +
                            std::to_string(vocab_size) + ".");
  }
  if (max_new_tokens < 0) {
    return invalid_argument("max_new_tokens must be at least 0, got " +
                            std::to_string(max_new_tokens) + ".");
  }
  if (min_new_tokens < 0 || min_new_tokens > max_new_tokens) {
    return invalid_argument("min_new_tokens must be in [0, max_new_tokens(" +
                            std::to_string(max_new_tokens) + ")], got " +
                            std::to_string(min_new_tokens) + ".");
  }
  if (!(temperature >= 0.0f) || !std::isfinite(temperature)) {
    return invalid_argument("temperature must be a non-negative finite number (0 = greedy), got " +
                            fmt(temperature) + ".");
  }
  if (!(top_p > 0.0f && top_p <= 1.0f)) {
    return invalid_argument("top_p must be in (0, 1], got " + fmt(top_p) + ".");
  }
  if (top_k < -1) {
    return invalid_argument("top_k must be -1 (disable) or at least 1, got " +
                            std::to_string(top_k) + ".");
  }
  if (!in_closed(min_p, 0.0f, 1.0f)) {
    return invalid_argument("min_p must be in [0, 1], got " + fmt(min_p) + ".");
  }
  if (!in_closed(frequency_penalty, -2.0f, 2.0f)) {
    return invalid_argument("frequency_penalty must be in [-2, 2], got " + fmt(frequency_penalty) +
                            ".");
  }
  if (!in_closed(presence_penalty, -2.0f, 2.0f)) {
    return invalid_argument("presence_penalty must be in [-2, 2], got " + fmt(presence_penalty) +
                            ".");
  }
  if (!(repetition_penalty > 0.0f && repetition_penalty <= 2.0f)) {
    return invalid_argument("repetition_penalty must be in (0, 2] (1.0 = no penalty), got " +
                            fmt(repetition_penalty) + ".");
  }
  if (n < 1 || n > kMaxChoices) {
    return invalid_argument("n must be in [1, " + std::to_string(kMaxChoices) + "], got " +
                            std::to_string(n) + ".");
  }
  if (top_logprobs_num < 0 || top_logprobs_num > kMaxTopLogprobs) {
    return invalid_argument("top_logprobs_num must be in [0, " + std::to_string(kMaxTopLogprobs) +
                            "], got " + std::to_string(top_logprobs_num) + ".");
  }
  if (logprob_start_len < -1) {
    return invalid_argument(
        "logprob_start_len must be -1 (no prompt logprobs) or a prompt position >= 0, got " +
        std::to_string(logprob_start_len) + ".");
  }
  for (int32_t id : stop_token_ids) {
    if (id < 0 || id >= vocab_size) {
      return invalid_argument("stop_token_ids must be token ids in [0, " +
                              std::to_string(vocab_size - 1) + "], got " + std::to_string(id) +
                              ".");
    }
  }
  for (size_t i = 0; i < stop.size(); ++i) {
    if (stop[i].empty()) {
      return invalid_argument("stop strings must be non-empty; stop[" + std::to_string(i) +
                              "] is \"\".");
    }
    if (!tok::is_valid_utf8(stop[i])) {
      return invalid_argument("stop strings must be valid UTF-8; stop[" + std::to_string(i) +
                              "] is not.");
    }
  }
  return Status::ok();
}

}  // namespace radix
