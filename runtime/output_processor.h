// OutputProcessor: turns a choice's token events into text deltas on the caller's
// thread (HTTP worker or CLI): incremental detokenization, stop strings that straddle
// tokens (output trimmed at the match), and the final finish reason.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "tokenizer/tokenizer.h"

namespace radix {

struct TextDelta {
  std::string text;                // new text safe to emit (never broken UTF-8)
  std::vector<int32_t> token_ids;  // tokens this delta covers
  std::vector<TokenLogprob> logprobs;
  bool finished = false;
  FinishReason finish_reason = FinishReason::kNone;
  std::optional<std::string> matched_stop;  // stop string hit (finish_reason kStop)
  int32_t matched_stop_token = -1;
};

class OutputProcessor {
 public:
  // prompt_ids (optional) give the detokenizer its context, so the first output token's
  // leading space is decoded as the full decode(prompt + output) would.
  OutputProcessor(std::shared_ptr<const Tokenizer> tokenizer, const SamplingParams& params,
                  std::span<const int32_t> prompt_ids = {});
  // Consumes one engine event for this choice. When a stop string matches, the
  // returned delta is finished and the caller should abort the request handle.
  // The delta's token_ids are the tokens consumed; its text may lag behind them while a
  // possible stop string is held back. Once finished, further events are ignored
  // (an empty delta, still marked finished).
  TextDelta process(const RequestEvent& event);
  bool finished() const { return done_; }
  const std::string& text() const { return text_; }  // everything emitted so far

 private:
  std::shared_ptr<const Tokenizer> tokenizer_;
  SamplingParams params_;
  std::unique_ptr<IncrementalDetokenizer> detok_;
  std::string pending_;  // decoded text held back: could be the start of a stop string
  std::string text_;
  bool done_ = false;
  FinishReason finish_reason_ = FinishReason::kNone;
};

}  // namespace radix
