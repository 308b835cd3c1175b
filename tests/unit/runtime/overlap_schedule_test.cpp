// Overlap scheduling (EngineOptions::enable_overlap_schedule) on the CPU backend: step
// N + 1 is scheduled before step N's results are processed, its decode rows reading
// N's sampled tokens on the runner's side (kPendingToken / prev_token_src), finishes
// seen one step late. Whatever the interleaving, every request must get exactly the
// events plain scheduling gives it: the same tokens, finish reasons, token counts and
// logprobs, with penalties (which force a synchronous step), n > 1, prefix-cache hits,
// chunked prefill, EOS stops, aborts and retractions, and no KV leaked.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <thread>

#include "runtime/engine.h"
#include "tests/runtime/engine_test_util.h"

namespace radix {
namespace {

using testing::make_engine;
using testing::random_prompt;

struct Choice {
  std::vector<int32_t> tokens;
  std::vector<TokenLogprob> logprobs;
  std::vector<TokenLogprob> prompt_logprobs;
  FinishReason reason = FinishReason::kNone;
  int completion_tokens = -1;
  bool error = false;
};

std::vector<std::vector<Choice>> run(Engine& e, const std::vector<std::vector<int32_t>>& prompts,
                                     const std::vector<SamplingParams>& params) {
  std::vector<std::shared_ptr<RequestHandle>> hs;
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto h = e.submit({"", prompts[i], params[i]});
    EXPECT_TRUE(h.is_ok()) << h.status().to_string();
    if (h.is_ok()) hs.push_back(*h);
  }
  std::vector<std::vector<Choice>> out;
  for (size_t i = 0; i < hs.size(); ++i) {
    std::vector<Choice> cs(static_cast<size_t>(params[i].n));
    RequestEvent ev;
    while (hs[i]->next(&ev, std::chrono::seconds(120))) {
      Choice& c = cs[static_cast<size_t>(ev.index)];
      c.tokens.insert(c.tokens.end(), ev.token_ids.begin(), ev.token_ids.end());
      c.logprobs.insert(c.logprobs.end(), ev.logprobs.begin(), ev.logprobs.end());
      c.prompt_logprobs.insert(c.prompt_logprobs.end(), ev.prompt_logprobs.begin(), ev.prompt_logprobs.end());
      c.error = c.error || !ev.error.is_ok();
      if (ev.finished) {
        c.reason = ev.finish_reason;
        c.completion_tokens = ev.completion_tokens;
      }
    }
    out.push_back(std::move(cs));
  }
  return out;
}

void expect_same(const std::vector<std::vector<Choice>>& want, const std::vector<std::vector<Choice>>& got) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(want[i].size(), got[i].size());
    for (size_t c = 0; c < want[i].size(); ++c) {
      const Choice& w = want[i][c];
      const Choice& g = got[i][c];
      const std::string what = "request " + std::to_string(i) + " choice " + std::to_string(c);
      EXPECT_EQ(g.tokens, w.tokens) << what;
      EXPECT_EQ(g.reason, w.reason) << what;
      EXPECT_EQ(g.completion_tokens, w.completion_tokens) << what;
      EXPECT_EQ(g.completion_tokens, static_cast<int>(g.tokens.size())) << what;
      EXPECT_FALSE(g.error) << what;
      ASSERT_EQ(g.prompt_logprobs.size(), w.prompt_logprobs.size()) << what;
      for (size_t k = 0; k < w.prompt_logprobs.size(); ++k) {
        EXPECT_EQ(g.prompt_logprobs[k].id, w.prompt_logprobs[k].id) << what << " prompt position " << k;
        if (!std::isnan(w.prompt_logprobs[k].logprob)) {
          EXPECT_NEAR(g.prompt_logprobs[k].logprob, w.prompt_logprobs[k].logprob, 1e-4) << what << " prompt position " << k;
        }
      }
      ASSERT_EQ(g.logprobs.size(), w.logprobs.size()) << what;
      for (size_t k = 0; k < w.logprobs.size(); ++k) {
        EXPECT_EQ(g.logprobs[k].id, w.logprobs[k].id) << what << " position " << k;
        EXPECT_NEAR(g.logprobs[k].logprob, w.logprobs[k].logprob, 1e-4) << what << " position " << k;
        ASSERT_EQ(g.logprobs[k].top.size(), w.logprobs[k].top.size()) << what << " position " << k;
        for (size_t t = 0; t < w.logprobs[k].top.size(); ++t) {
          EXPECT_EQ(g.logprobs[k].top[t].first, w.logprobs[k].top[t].first) << what << " position " << k;
        }
      }
    }
  }
}

// A mixed workload: shared prefixes, lengths that need several chunks, EOS allowed,
// max_new_tokens 1, logprobs (prompt logprobs too), penalties, n = 3; stop ids are added
// by the test from what the requests generate.
void workload(std::vector<std::vector<int32_t>>* prompts, std::vector<SamplingParams>* params) {
  std::mt19937 rng(31);
  const auto sys = random_prompt(rng, 45);
  for (int i = 0; i < 20; ++i) {
    std::vector<int32_t> p = i % 3 == 0 ? sys : std::vector<int32_t>{};
    const auto own = random_prompt(rng, 1 + (i * 17) % 70);
    p.insert(p.end(), own.begin(), own.end());
    prompts->push_back(p);
    SamplingParams s = testing::greedy(3 + (i * 5) % 14);
    if (i % 4 == 1) s.ignore_eos = false;  // may stop at EOS
    if (i == 7) s.max_new_tokens = 1;
    if (i % 5 == 2) {
      s.return_logprob = true;
      s.top_logprobs_num = 3;
    }
    if (i == 9) s.frequency_penalty = 0.7f;   // penalties: steps with it run synchronously
    if (i == 11) s.min_new_tokens = 4;        // the EOS mask, likewise
    if (i == 13) s.n = 3;
    if (i == 15 || i == 18) {  // prompt logprobs across prefill chunks
      s.return_logprob = true;
      s.logprob_start_len = i == 15 ? 0 : 5;
    }
    params->push_back(s);
  }
}

EngineOptions options(bool overlap) {
  EngineOptions o = testing::cpu_engine_options();
  o.chunked_prefill_size = 32;
  o.enable_overlap_schedule = overlap;
  o.overlap_min_batch = 0;  // every step overlapped (the default syncs small ones)
  return o;
}

TEST(OverlapSchedule, GivesEveryRequestThePlainSchedulesEvents) {
  std::vector<std::vector<int32_t>> prompts;
  std::vector<SamplingParams> params;
  workload(&prompts, &params);
  auto plain = make_engine(options(false));
  ASSERT_NE(plain, nullptr);
  // Early stops (the finish an overlapped step learns one step late): request 5 stops
  // at its first token (sampled by its prefill), request 17 at its third.
  for (auto [i, at] : {std::pair{5, 0}, std::pair{17, 2}}) {
    const auto alone = run(*plain, {prompts[static_cast<size_t>(i)]}, {params[static_cast<size_t>(i)]});
    ASSERT_GT(alone[0][0].tokens.size(), static_cast<size_t>(at));
    params[static_cast<size_t>(i)].stop_token_ids = {alone[0][0].tokens[static_cast<size_t>(at)]};
  }
  const auto want = run(*plain, prompts, params);
  EXPECT_EQ(plain->stats().overlapped_steps_total, 0);
  EXPECT_EQ(want[5][0].reason, FinishReason::kStop);
  EXPECT_EQ(want[17][0].reason, FinishReason::kStop);
  auto overlap = make_engine(options(true));
  ASSERT_NE(overlap, nullptr);
  const auto got = run(*overlap, prompts, params);
  expect_same(want, got);
  EXPECT_GT(overlap->stats().overlapped_steps_total, 0) << "no step was scheduled ahead";
  EXPECT_TRUE(overlap->check_kv_invariants().is_ok()) << overlap->check_kv_invariants().to_string();
  // Requests submitted one at a time (decode batches of one) too.
  for (size_t i = 0; i < 4; ++i) {
    const auto w = run(*plain, {prompts[i]}, {params[i]});
    const auto g = run(*overlap, {prompts[i]}, {params[i]});
    expect_same(w, g);
  }
  EXPECT_TRUE(overlap->check_kv_invariants().is_ok()) << overlap->check_kv_invariants().to_string();
}

TEST(OverlapSchedule, SmallStepsRunSynchronouslyBelowTheMinimumBatch) {
  // 24 requests with different lengths: the batch shrinks from 24 to 1 as they finish.
  std::mt19937 rng(21);
  std::vector<std::vector<int32_t>> prompts;
  std::vector<SamplingParams> params;
  for (int i = 0; i < 24; ++i) {
    prompts.push_back(random_prompt(rng, 4 + i));
    params.push_back(testing::greedy(2 + i));
  }
  auto plain = make_engine(options(false));
  ASSERT_NE(plain, nullptr);
  const auto want = run(*plain, prompts, params);
  // At or above 12 requests steps overlap, below they complete before the next schedule:
  // same events, some steps overlapped and some not.
  EngineOptions o = options(true);
  o.overlap_min_batch = 12;
  auto mixed = make_engine(o);
  ASSERT_NE(mixed, nullptr);
  expect_same(want, run(*mixed, prompts, params));
  const EngineStats st = mixed->stats();
  EXPECT_GT(st.overlapped_steps_total, 0);
  // Overlapping everything would schedule every step but the first ahead, more steps than
  // the decode-only ones; here the second half of the decode steps (< 12 left) is not.
  EXPECT_LT(st.overlapped_steps_total, st.decode_steps_total) << "steps of fewer than 12 requests overlapped";
  EXPECT_TRUE(mixed->check_kv_invariants().is_ok()) << mixed->check_kv_invariants().to_string();
  // Above the largest batch nothing overlaps (the default, 32, for this workload).
  o.overlap_min_batch = 32;
  auto none = make_engine(o);
  ASSERT_NE(none, nullptr);
  expect_same(want, run(*none, prompts, params));
  EXPECT_EQ(none->stats().overlapped_steps_total, 0);
  EXPECT_EQ(EngineOptions{}.overlap_min_batch, 32);
}

TEST(OverlapSchedule, TinyPoolRetractionGivesThePlainOutputs) {
  std::mt19937 rng(4);
  std::vector<std::vector<int32_t>> prompts;
  std::vector<SamplingParams> params;
  for (int i = 0; i < 8; ++i) {
    prompts.push_back(random_prompt(rng, 20 + i));
    params.push_back(testing::greedy(40));
  }
  auto plain = make_engine(options(false));
  ASSERT_NE(plain, nullptr);
  const auto want = run(*plain, prompts, params);
  EngineOptions tiny = options(true);
  tiny.max_total_tokens = 160;  // far less than 8 * (~24 + 40): retractions
  tiny.disable_radix_cache = true;
  auto overlap = make_engine(tiny);
  ASSERT_NE(overlap, nullptr);
  const auto got = run(*overlap, prompts, params);
  expect_same(want, got);
  EXPECT_GT(overlap->stats().overlapped_steps_total, 0);
  EXPECT_TRUE(overlap->check_kv_invariants().is_ok()) << overlap->check_kv_invariants().to_string();
}

TEST(OverlapSchedule, SeededSamplingIsReproducible) {
  // Sampled in the runner (the next step reads the token there): a seed still fixes the
  // tokens, run to run, whatever else shares the batches.
  std::mt19937 rng(12);
  std::vector<std::vector<int32_t>> prompts;
  std::vector<SamplingParams> params;
  for (int i = 0; i < 6; ++i) {
    prompts.push_back(random_prompt(rng, 5 + 7 * i));
    SamplingParams s = testing::greedy(12);
    s.temperature = 0.9f;
    s.top_p = 0.95f;
    s.seed = 1000 + static_cast<uint64_t>(i);
    params.push_back(s);
  }
  auto engine = make_engine(options(true));
  ASSERT_NE(engine, nullptr);
  const auto a = run(*engine, prompts, params);
  const auto b = run(*engine, {prompts[2], prompts[0]}, {params[2], params[0]});  // other batches
  ASSERT_EQ(a.size(), prompts.size());
  EXPECT_EQ(b[0][0].tokens, a[2][0].tokens);
  EXPECT_EQ(b[1][0].tokens, a[0][0].tokens);
  EXPECT_NE(a[0][0].tokens, a[1][0].tokens);
  EXPECT_TRUE(engine->check_kv_invariants().is_ok());
}

TEST(OverlapSchedule, AbortMidRunFreesEverything) {
  auto engine = make_engine(options(true));
  ASSERT_NE(engine, nullptr);
  std::mt19937 rng(7);
  auto h = engine->submit({"", random_prompt(rng, 10), testing::greedy(100000)});
  ASSERT_TRUE(h.is_ok());
  auto other = engine->submit({"", random_prompt(rng, 12), testing::greedy(30)});
  ASSERT_TRUE(other.is_ok());
  RequestEvent ev;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*h)->next(&ev, std::chrono::seconds(60)));
  (*h)->abort();
  FinishReason reason = FinishReason::kNone;
  int tokens = 5, completion = -1;
  while ((*h)->next(&ev, std::chrono::seconds(60))) {
    tokens += static_cast<int>(ev.token_ids.size());
    if (ev.finished) {
      reason = ev.finish_reason;
      completion = ev.completion_tokens;
    }
  }
  EXPECT_EQ(reason, FinishReason::kAbort);
  EXPECT_GE(completion, 5);
  int other_tokens = 0;
  while ((*other)->next(&ev, std::chrono::seconds(60))) other_tokens += static_cast<int>(ev.token_ids.size());
  EXPECT_EQ(other_tokens, 30);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (engine->stats().num_running != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(engine->stats().num_running, 0);
  EXPECT_TRUE(engine->check_kv_invariants().is_ok());
}

}  // namespace
}  // namespace radix
