// Helpers shared by the engine tests on the CPU (tests/unit/runtime/engine_test.cpp) and
// on CUDA (tests/runtime/gpu): the bundled default model, engine options per device,
// engine creation, random prompts, greedy sampling parameters.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "runtime/engine.h"

namespace radix::testing {

inline const std::string kDefaultModel = std::string(RADIX_SOURCE_DIR) + "/models/default";

// The CPU tests' engine: the default model with a 4096-token pool.
inline EngineOptions cpu_engine_options() {
  EngineOptions o;
  o.model_path = kDefaultModel;
  o.device = "cpu";
  o.max_total_tokens = 4096;
  return o;
}

// The GPU tests' engine: the default model in bf16, graphs up to batch 32.
inline EngineOptions cuda_engine_options() {
  EngineOptions o;
  o.model_path = kDefaultModel;
  o.device = "cuda";
  o.max_total_tokens = 8192;
  o.cuda_graph_max_bs = 32;
  return o;
}

// False (with a notice) without a CUDA device: GPU tests GTEST_SKIP() then.
inline bool have_cuda() {
  if (cuda_available()) return true;
  std::printf("[  SKIP    ] no CUDA device on this machine\n");
  return false;
}

inline std::unique_ptr<Engine> make_engine(const EngineOptions& o) {
  auto e = Engine::create(o);
  EXPECT_TRUE(e.is_ok()) << e.status().to_string();
  return e.is_ok() ? std::move(e).value() : nullptr;
}

// len ids in [3, 4096) (the default model's vocabulary, above its special ids).
inline std::vector<int32_t> random_prompt(std::mt19937& rng, int len) {
  std::uniform_int_distribution<int32_t> d(3, 4095);
  std::vector<int32_t> p(static_cast<size_t>(len));
  for (auto& t : p) t = d(rng);
  return p;
}

// Appends one group of prompts sharing a random prefix of prefix_len ids: member m is
// the prefix followed by its own random question of question_lens[m] ids.
inline void add_shared_prefix_group(std::mt19937& rng, int prefix_len, const std::vector<int>& question_lens,
                                    std::vector<std::vector<int32_t>>* prompts) {
  const auto prefix = random_prompt(rng, prefix_len);
  for (int len : question_lens) {
    auto p = prefix;
    const auto q = random_prompt(rng, len);
    p.insert(p.end(), q.begin(), q.end());
    prompts->push_back(std::move(p));
  }
}

// What a request's choices produced: tokens, finish reasons, cached prompt tokens and the
// first error an event carried.
struct Outcome {
  std::vector<std::vector<int32_t>> tokens;  // per choice
  std::vector<FinishReason> reasons;
  int cached = 0;
  Status error;
};

// Collects every event of a request of `choices` choices until all have finished;
// `each` (when set) sees every event first.
inline Outcome collect(RequestHandle& h, int choices = 1, const std::function<void(const RequestEvent&)>& each = {}) {
  Outcome o;
  o.tokens.resize(static_cast<size_t>(choices));
  o.reasons.resize(static_cast<size_t>(choices), FinishReason::kNone);
  RequestEvent ev;
  while (h.next(&ev, std::chrono::seconds(120))) {
    if (each) each(ev);
    auto& t = o.tokens[static_cast<size_t>(ev.index)];
    t.insert(t.end(), ev.token_ids.begin(), ev.token_ids.end());
    o.cached = std::max(o.cached, ev.cached_tokens);
    if (!ev.error.is_ok()) o.error = ev.error;
    if (ev.finished) o.reasons[static_cast<size_t>(ev.index)] = ev.finish_reason;
  }
  return o;
}

// Greedy, exactly n tokens.
inline SamplingParams greedy(int n) {
  SamplingParams p;
  p.temperature = 0;
  p.max_new_tokens = n;
  p.ignore_eos = true;
  return p;
}

}  // namespace radix::testing
