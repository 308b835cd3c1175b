// SimpleSession: one sequence over a private contiguous KV cache (slot = position + 1;
// slot 0 stays the dummy). The "simple KV cache" for tests, golden checks and offline
// use before the runtime's paged pool: extend() appends tokens and returns logits.
#pragma once

#include <span>
#include <vector>

#include "models/model.h"

namespace radix {

class SimpleSession {
 public:
  // Allocates KV for `max_tokens` positions on the model's device.
  static Result<SimpleSession> create(CausalLM* model, const OpContext& ctx, int max_tokens);

  // Appends `tokens`; logits f32 on the host: [tokens.size(), V] when all_logits,
  // else [1, V] for the last token.
  Result<OwnedTensor> extend(std::span<const int32_t> tokens, bool all_logits = false);
  int length() const { return length_; }

  // Greedy continuation: argmax after each step; stops early on any of eos_ids.
  Result<std::vector<int32_t>> greedy(std::span<const int32_t> prompt, int max_new_tokens,
                                      std::span<const int> eos_ids = {});

 private:
  CausalLM* model_ = nullptr;
  OpContext ctx_;
  int max_tokens_ = 0;
  int length_ = 0;
  std::vector<OwnedTensor> k_, v_;
};

}  // namespace radix
