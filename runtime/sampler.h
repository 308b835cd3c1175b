// Sampler: picks each running request's next token from the model's last-position logits
// (host f32 [B, V]) after the model runner's forward, on the engine thread. Per request a
// SamplerState carries what sampling depends on besides the logits: the params, a seed,
// the tokens generated so far (frequency/presence penalties, min_new_tokens) and the set
// of prompt + output tokens (repetition penalty).
//
// Order, as SGLang v0.3: penalties (repetition, then frequency and presence, then the
// min_new_tokens mask of eos/stop ids) -> the grammar's mask (structured output) -> greedy argmax when temperature == 0 or top_k ==
// 1 (ties: lowest id) -> temperature -> softmax -> top_k -> top_p -> min_p -> sample.
// Reproducible: the random number for a request's step s depends only on (seed, s) — not
// on the batch, the row, threads or retraction — so a seeded request always produces the
// same tokens for the same logits.
//
// Logprobs are those of the raw model distribution (log_softmax of the logits before
// penalties, temperature and truncation), as SGLang v0.3's LogitsProcessor returns them.
//
// On CUDA the model runner does the same on the device (kernels/ops.h: apply_penalties
// from append_penalty_entries, sample, logprobs); this sampler is their reference and
// the CPU backend's sampler.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "kernels/ops.h"
#include "runtime/engine.h"
#include "runtime/sampling_params.h"

namespace radix {

struct SampleOutput {
  int32_t token = 0;
  float logprob = 0.0f;  // raw log-probability of token (when params.return_logprob)
  std::vector<std::pair<int32_t, float>> top;  // top_logprobs_num best (id, logprob)
};

// SamplerState::apply_penalties in sparse form, for ops::apply_penalties (kernels/ops.h):
// one entry per distinct token id that a row's penalties change.
struct PenaltyEntries {
  std::vector<int32_t> ids, counts, flags;  // flags: ops::kPenaltySeen | ops::kPenaltyMasked
  size_t size() const { return ids.size(); }
  void clear();
};

class SamplerState {
 public:
  // eos_ids: the model's end-of-sequence ids, masked (with stop_token_ids) until
  // min_new_tokens tokens were generated. Ids outside the vocabulary are ignored when
  // sampling. For n > 1, give each choice its own seed.
  SamplerState(const SamplingParams& params, uint64_t seed, std::span<const int32_t> prompt_ids,
               std::vector<int32_t> eos_ids);

  // Records a generated token (call once per accepted output token, in order).
  void on_token(int32_t id);

  const SamplingParams& params() const { return params_; }
  uint64_t seed() const { return seed_; }
  int num_generated() const { return num_generated_; }
  const std::vector<int32_t>& eos_ids() const { return eos_ids_; }
  // True while eos/stop ids are still masked: min_new_tokens not reached, unless a grammar
  // has matched a text that cannot go on (then the end of sequence is its only token and
  // the output ends there, short of min_new_tokens).
  bool min_tokens_pending() const;
  // The uniform [0, 1) number used for the sample at `step` (= num_generated()).
  double uniform(uint64_t step) const;

  // Adds penalties and the min_new_tokens mask to logits [V] in place (step 1 above).
  void apply_penalties(std::span<float> logits) const;
  // True when apply_penalties may change a logit (a penalty has tokens to act on, or
  // eos/stop ids are masked).
  bool has_penalties() const;
  // Structured output: masks every token the grammar does not allow at this point to
  // -inf (end-of-sequence ids stay exactly when the output so far is a full match).
  // Step 1b, after the penalties.
  void apply_grammar(std::span<float> logits) const;
  bool constrained() const { return params_.grammar != nullptr; }
  // apply_grammar for a device: appends ceil(vocab / 64) words, bit v set where token v
  // stays (ops::apply_token_mask's rows, as u64 words).
  void append_grammar_mask(int32_t vocab, std::vector<uint64_t>* out) const;
  // The grammar's DFA state after the tokens so far (constrained() only).
  int32_t grammar_state() const { return grammar_state_; }

  // apply_penalties for a device: appends to `out` one entry per distinct id in
  // [0, vocab) that it changes (no order), with the id's output count and flags, so
  // ops::apply_penalties over them gives the same row.
  void append_penalty_entries(int32_t vocab, PenaltyEntries* out) const;

 private:
  SamplingParams params_;
  uint64_t seed_;
  std::vector<int32_t> eos_ids_;
  int num_generated_ = 0;
  int32_t grammar_state_ = 0;
  std::unordered_map<int32_t, int> output_counts_;  // when frequency/presence != 0
  std::unordered_set<int32_t> seen_;                // prompt + output, when repetition != 1
};

// Samples one token from logits [V] for `state` (does not call on_token). Fails only when
// the row has no finite logit left after masking (the model produced NaN/-inf).
Result<SampleOutput> sample_row(std::span<const float> logits, const SamplerState& state);

// Samples every row of logits (f32, host, [B, V], rows may be strided) with its state;
// rows are independent and run in parallel. out gets B results.
// With `row_errors`, a row that fails (no finite logit, a grammar dead end) gets its
// status there and the others their samples: one request's failure is not the batch's.
Status sample_batch(const Tensor& logits, std::span<SamplerState* const> states,
                    std::vector<SampleOutput>* out, std::vector<Status>* row_errors = nullptr);
// The status of a row left with no finite logit (a grammar dead end when constrained).
Status no_finite_logit(const SamplerState& state);

// log_softmax of a row (NaN counts as -inf); for prompt logprobs.
std::vector<float> log_softmax(std::span<const float> logits);

// The raw log-probability of `token` and the top_n alternatives (ties: lower id first)
// of one row; for prompt logprobs (token = the next prompt token).
TokenLogprob token_logprob(std::span<const float> logits, int32_t token, int top_n);

}  // namespace radix
