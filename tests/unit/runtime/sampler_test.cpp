// Tests of the CPU sampler (runtime/sampler.h): penalties, temperature, top_k, top_p and
// min_p against hand-computed distributions (empirical frequencies over many seeds with
// a chi-square bound, plus exact sets of possible tokens), seeded reproducibility and
// batch independence, min_new_tokens masking, logprobs, and bad input.
#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>

namespace radix {
namespace {

using Ids = std::vector<int32_t>;

std::vector<float> log_probs(const std::vector<double>& p) {
  std::vector<float> out;
  for (double x : p) out.push_back(x > 0 ? static_cast<float>(std::log(x)) : -INFINITY);
  return out;
}

SamplingParams sampling(float temperature = 1.0f) {
  SamplingParams p;
  p.temperature = temperature;
  return p;
}

int32_t sample_one(const std::vector<float>& logits, const SamplerState& state) {
  Result<SampleOutput> r = sample_row(logits, state);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? r->token : -1;
}

// Samples `n` times (seeds 0..n-1, step 0) and returns per-token counts.
std::vector<int> histogram(const std::vector<float>& logits, const SamplingParams& params, int n) {
  std::vector<int> counts(logits.size(), 0);
  for (int s = 0; s < n; ++s) {
    SamplerState state(params, static_cast<uint64_t>(s), {}, {});
    ++counts[static_cast<size_t>(sample_one(logits, state))];
  }
  return counts;
}

// Tokens with expected probability 0 must never appear; the others must fit the
// expected distribution: chi-square over the possible tokens below a bound far in the
// tail (p < 1e-4 for <= 6 degrees of freedom); the seeds are fixed, so this is exact.
void expect_distribution(const std::vector<int>& counts, const std::vector<double>& expected) {
  ASSERT_EQ(counts.size(), expected.size());
  const double n = std::accumulate(counts.begin(), counts.end(), 0.0);
  double chi2 = 0.0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (expected[i] == 0.0) {
      EXPECT_EQ(counts[i], 0) << "token " << i << " must be impossible";
      continue;
    }
    const double e = expected[i] * n;
    chi2 += (counts[i] - e) * (counts[i] - e) / e;
  }
  EXPECT_LT(chi2, 27.0) << "empirical frequencies do not fit the expected distribution";
}

TEST(Sampler, GreedyPicksArgmaxWithTiesToLowestId) {
  SamplerState state(sampling(0.0f), 1, {}, {});
  EXPECT_EQ(sample_one({1.0f, 3.0f, 3.0f, 2.0f}, state), 1);
  EXPECT_EQ(sample_one({-5.0f, -1.0f, -3.0f}, state), 1);
}

TEST(Sampler, TopKOfOneIsGreedyEvenWithTemperature) {
  SamplingParams p = sampling(1.5f);
  p.top_k = 1;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    SamplerState state(p, seed, {}, {});
    EXPECT_EQ(sample_one({0.5f, 0.1f, 0.7f, 0.69f}, state), 2);
  }
}

TEST(Sampler, TemperatureOneFollowsTheSoftmax) {
  std::vector<double> p{0.1, 0.2, 0.3, 0.4};
  expect_distribution(histogram(log_probs(p), sampling(1.0f), 20000), p);
}

TEST(Sampler, TemperatureSharpensTheDistribution) {
  // logits log(1), log(2) at T = 0.5: weights 1^2 : 2^2 = 1 : 4.
  expect_distribution(histogram(log_probs({1.0, 2.0}), sampling(0.5f), 20000), {0.2, 0.8});
  // T = 2: sqrt weights 1 : 2 -> 1 : sqrt(2).
  const double r = std::sqrt(2.0);
  expect_distribution(histogram(log_probs({1.0, 2.0}), sampling(2.0f), 20000),
                      {1 / (1 + r), r / (1 + r)});
}

TEST(Sampler, TopKKeepsOnlyTheKMostLikelyTokensRenormalised) {
  SamplingParams p = sampling();
  p.top_k = 2;
  expect_distribution(histogram(log_probs({0.1, 0.2, 0.3, 0.4}), p, 20000),
                      {0, 0, 0.3 / 0.7, 0.4 / 0.7});
}

TEST(Sampler, TopKBreaksTiesTowardLowerIds) {
  SamplingParams p = sampling();
  p.top_k = 2;
  expect_distribution(histogram({1.0f, 0.0f, 1.0f, 1.0f, 1.0f}, p, 4000), {0.5, 0, 0.5, 0, 0});
}

TEST(Sampler, TopKLargerThanVocabularyKeepsEverything) {
  SamplingParams p = sampling();
  p.top_k = 100;
  std::vector<double> probs{0.25, 0.25, 0.5};
  expect_distribution(histogram(log_probs(probs), p, 20000), probs);
}

TEST(Sampler, TopPKeepsTheTokenThatCrossesTheThreshold) {
  // Sorted: 0.4, 0.3, 0.2, 0.1. Mass before each: 0, 0.4, 0.7, 0.9. top_p = 0.5 keeps
  // the first two (0.4 <= 0.5), drops the rest (0.7 > 0.5).
  SamplingParams p = sampling();
  p.top_p = 0.5f;
  expect_distribution(histogram(log_probs({0.2, 0.4, 0.1, 0.3}), p, 20000),
                      {0, 4.0 / 7, 0, 3.0 / 7});
  p.top_p = 0.3f;  // only the most likely token
  expect_distribution(histogram(log_probs({0.2, 0.4, 0.1, 0.3}), p, 2000), {0, 1, 0, 0});
}

TEST(Sampler, MinPDropsTokensBelowAFractionOfTheMostLikely) {
  // p_max = 0.4; min_p = 0.6 -> threshold 0.24 keeps 0.4 and 0.3.
  SamplingParams p = sampling();
  p.min_p = 0.6f;
  expect_distribution(histogram(log_probs({0.1, 0.3, 0.2, 0.4}), p, 20000),
                      {0, 3.0 / 7, 0, 4.0 / 7});
  p.min_p = 0.4f;  // threshold 0.16 also keeps 0.2
  expect_distribution(histogram(log_probs({0.1, 0.3, 0.2, 0.4}), p, 20000),
                      {0, 3.0 / 9, 2.0 / 9, 4.0 / 9});
}

TEST(Sampler, MinPIsMeasuredAfterTemperature) {
  // Probabilities 0.2 : 0.8 at T = 1 (ratio 0.25); at T = 0.5 the ratio is 1/16.
  SamplingParams p = sampling(0.5f);
  p.min_p = 0.1f;
  expect_distribution(histogram(log_probs({0.2, 0.8}), p, 2000), {0, 1});
}

TEST(Sampler, TopKTopPAndMinPCombine) {
  // Six tokens; top_k = 4 keeps {.3 .25 .2 .1}; top_p = 0.7 over the full distribution:
  // mass before = 0, .3, .55, .75 -> keeps three; min_p 0.5 (threshold .15) keeps all 3.
  SamplingParams p = sampling();
  p.top_k = 4;
  p.top_p = 0.7f;
  p.min_p = 0.5f;
  std::vector<double> probs{0.05, 0.3, 0.1, 0.25, 0.2, 0.1};
  expect_distribution(histogram(log_probs(probs), p, 20000),
                      {0, 0.3 / 0.75, 0, 0.25 / 0.75, 0.2 / 0.75, 0});
}

// A straightforward reference of truncation + inverse-CDF sampling (full sort), to check
// the sampler's partial-sort search on vocabularies where it must widen its window.
int32_t reference_sample(const std::vector<float>& logits, const SamplingParams& p, double u) {
  const size_t v = logits.size();
  std::vector<float> w(v);
  float m = -INFINITY;
  for (size_t i = 0; i < v; ++i) m = std::max(m, logits[i] / p.temperature);
  double z = 0;
  for (size_t i = 0; i < v; ++i) z += (w[i] = std::exp(logits[i] / p.temperature - m));
  std::vector<int32_t> idx(v);
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(),
            [&](int32_t a, int32_t b) { return w[a] != w[b] ? w[a] > w[b] : a < b; });
  const size_t k = p.top_k > 0 ? std::min<size_t>(v, static_cast<size_t>(p.top_k)) : v;
  std::vector<int32_t> kept;
  double before = 0;
  for (size_t j = 0; j < k; ++j) {
    if (before > p.top_p * z || w[idx[j]] < p.min_p) break;
    kept.push_back(idx[j]);
    before += w[idx[j]];
  }
  double total = 0;
  for (int32_t id : kept) total += w[id];
  double cum = 0;
  for (int32_t id : kept) {
    cum += w[id];
    if (cum > u * total) return id;
  }
  return kept.back();
}

TEST(Sampler, LargeVocabularyTruncationMatchesAFullSortReference) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int v = 5000;
  std::vector<float> logits(v);
  for (float& x : logits) x = 0.3f * normal(rng);  // flat: top_p needs thousands of tokens
  struct Case {
    int top_k;
    float top_p;
    float min_p;
  };
  for (Case c : {Case{-1, 0.9f, 0.0f}, Case{3000, 0.95f, 0.0f}, Case{50, 1.0f, 0.0f},
                 Case{-1, 0.99f, 0.5f}, Case{200, 0.5f, 0.0f}}) {
    SamplingParams p = sampling(0.8f);
    p.top_k = c.top_k;
    p.top_p = c.top_p;
    p.min_p = c.min_p;
    for (uint64_t seed = 0; seed < 200; ++seed) {
      SamplerState state(p, seed, {}, {});
      ASSERT_EQ(sample_one(logits, state), reference_sample(logits, p, state.uniform(0)))
          << "top_k " << c.top_k << " top_p " << c.top_p << " min_p " << c.min_p << " seed "
          << seed;
    }
  }
}

TEST(Sampler, RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  SamplingParams p = sampling();
  p.repetition_penalty = 2.0f;
  Ids prompt{1, 2};
  SamplerState state(p, 0, prompt, {});
  std::vector<float> x{1.0f, 2.0f, -2.0f, 3.0f};
  state.apply_penalties(x);
  EXPECT_EQ(x, (std::vector<float>{1.0f, 1.0f, -4.0f, 3.0f}));
  state.on_token(3);  // generated tokens count too
  x = {1.0f, 2.0f, -2.0f, 3.0f};
  state.apply_penalties(x);
  EXPECT_EQ(x, (std::vector<float>{1.0f, 1.0f, -4.0f, 1.5f}));
}

TEST(Sampler, FrequencyAndPresencePenaltiesCountGeneratedTokensOnly) {
  SamplingParams p = sampling();
  p.frequency_penalty = 0.5f;
  p.presence_penalty = 0.25f;
  Ids prompt{0, 1, 1};  // the prompt is not penalised
  SamplerState state(p, 0, prompt, {});
  for (int32_t t : {3, 3, 0}) state.on_token(t);
  std::vector<float> x{1.0f, 1.0f, 1.0f, 1.0f};
  state.apply_penalties(x);
  // token 3: 1 - (0.5 * 2 + 0.25); token 0: 1 - (0.5 * 1 + 0.25)
  EXPECT_EQ(x, (std::vector<float>{0.25f, 1.0f, 1.0f, -0.25f}));
}

TEST(Sampler, PenalisedDistributionIsSampled) {
  // Uniform logits; presence 2 on token 0 makes its weight e^-2 relative to the others.
  SamplingParams p = sampling();
  p.presence_penalty = 2.0f;
  std::vector<int> counts(3, 0);
  for (int s = 0; s < 20000; ++s) {
    SamplerState state(p, static_cast<uint64_t>(s), {}, {});
    state.on_token(0);
    ++counts[static_cast<size_t>(sample_one({0.0f, 0.0f, 0.0f}, state))];
  }
  const double a = std::exp(-2.0), z = a + 2;
  expect_distribution(counts, {a / z, 1 / z, 1 / z});
}

TEST(Sampler, GreedyAppliesPenaltiesBeforeArgmax) {
  SamplingParams p = sampling(0.0f);
  p.frequency_penalty = 1.0f;
  SamplerState state(p, 0, {}, {});
  EXPECT_EQ(sample_one({2.0f, 1.5f}, state), 0);
  state.on_token(0);
  EXPECT_EQ(sample_one({2.0f, 1.5f}, state), 1);  // 2 - 1 < 1.5
}

TEST(Sampler, MinNewTokensMasksEosAndStopIdsUntilReached) {
  SamplingParams p = sampling(0.0f);
  p.min_new_tokens = 2;
  p.stop_token_ids = {1};
  SamplerState state(p, 0, {}, /*eos_ids=*/{0});
  std::vector<float> logits{9.0f, 8.0f, 1.0f};  // eos, then the stop id, most likely
  EXPECT_TRUE(state.min_tokens_pending());
  EXPECT_EQ(sample_one(logits, state), 2);
  state.on_token(2);
  EXPECT_EQ(sample_one(logits, state), 2);
  state.on_token(2);
  EXPECT_FALSE(state.min_tokens_pending());
  EXPECT_EQ(sample_one(logits, state), 0);
}

TEST(Sampler, MinNewTokensMaskAppliesWhenSampling) {
  SamplingParams p = sampling(1.0f);
  p.min_new_tokens = 1;
  for (uint64_t seed = 0; seed < 500; ++seed) {
    SamplerState state(p, seed, {}, {0});
    EXPECT_NE(sample_one({3.0f, 0.0f, 0.0f}, state), 0);
  }
}

TEST(Sampler, SeededSamplingIsReproducible) {
  SamplingParams p = sampling(1.0f);
  std::vector<float> logits = log_probs({0.2, 0.2, 0.2, 0.2, 0.2});
  for (uint64_t seed : {1ull, 42ull, 123456789ull}) {
    SamplerState a(p, seed, {}, {}), b(p, seed, {}, {});
    for (int step = 0; step < 50; ++step) {
      int32_t ta = sample_one(logits, a), tb = sample_one(logits, b);
      ASSERT_EQ(ta, tb);
      a.on_token(ta);
      b.on_token(tb);
    }
  }
}

TEST(Sampler, StepsOfOneSeedDrawDifferentNumbers) {
  SamplerState s(sampling(), 99, {}, {});
  std::set<double> seen;
  for (uint64_t step = 0; step < 1000; ++step) {
    double u = s.uniform(step);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    seen.insert(u);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Sampler, BatchResultsAreIndependentOfRowPositionAndNeighbours) {
  const int v = 50;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> mine(v);
  for (float& x : mine) x = normal(rng);
  SamplingParams p = sampling(0.9f);
  p.top_p = 0.9f;
  p.return_logprob = true;
  p.top_logprobs_num = 3;

  auto run_in_batch = [&](int batch, int position, uint64_t seed) {
    std::vector<float> logits(static_cast<size_t>(batch * v));
    for (float& x : logits) x = normal(rng);  // other rows: random neighbours
    std::copy(mine.begin(), mine.end(), logits.begin() + position * v);
    std::vector<std::unique_ptr<SamplerState>> owned;
    std::vector<SamplerState*> states;
    for (int i = 0; i < batch; ++i) {
      SamplingParams other = sampling(static_cast<float>(i % 3));
      owned.push_back(std::make_unique<SamplerState>(
          i == position ? p : other, i == position ? seed : 1000 + i, Ids{}, Ids{}));
      states.push_back(owned.back().get());
    }
    Tensor t(logits.data(), DType::kF32, {batch, v});
    std::vector<SampleOutput> out;
    Status st = sample_batch(t, states, &out);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    return out[static_cast<size_t>(position)];
  };
  for (uint64_t seed = 0; seed < 20; ++seed) {
    SampleOutput alone = run_in_batch(1, 0, seed);
    for (auto [batch, pos] : {std::pair{8, 5}, std::pair{32, 0}, std::pair{32, 31}}) {
      SampleOutput in_batch = run_in_batch(batch, pos, seed);
      EXPECT_EQ(in_batch.token, alone.token);
      EXPECT_EQ(in_batch.logprob, alone.logprob);
      EXPECT_EQ(in_batch.top, alone.top);
    }
  }
}

TEST(Sampler, LogprobsAreThoseOfTheRawDistribution) {
  SamplingParams p = sampling(0.0f);
  p.return_logprob = true;
  p.top_logprobs_num = 2;
  p.frequency_penalty = 2.0f;
  SamplerState state(p, 0, {}, {});
  state.on_token(2);  // the penalty changes the choice, not the reported logprobs
  std::vector<double> probs{0.1, 0.2, 0.4, 0.3};
  auto r = sample_row(log_probs(probs), state);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->token, 3);
  EXPECT_NEAR(r->logprob, std::log(0.3), 1e-5);
  ASSERT_EQ(r->top.size(), 2u);
  EXPECT_EQ(r->top[0].first, 2);
  EXPECT_NEAR(r->top[0].second, std::log(0.4), 1e-5);
  EXPECT_EQ(r->top[1].first, 3);
  EXPECT_NEAR(r->top[1].second, std::log(0.3), 1e-5);
}

TEST(Sampler, TopLogprobTiesGoToLowerIdsAndCountIsClamped) {
  TokenLogprob t = token_logprob(std::vector<float>{1.0f, 2.0f, 2.0f}, 0, 10);
  ASSERT_EQ(t.top.size(), 3u);
  EXPECT_EQ(t.top[0].first, 1);
  EXPECT_EQ(t.top[1].first, 2);
  EXPECT_EQ(t.top[2].first, 0);
  const double lse = std::log(std::exp(1.0) + 2 * std::exp(2.0));
  EXPECT_NEAR(t.logprob, 1.0 - lse, 1e-5);
}

TEST(Sampler, LogSoftmaxSumsToOneAndIgnoresNaN) {
  std::vector<float> ls = log_softmax(std::vector<float>{1.0f, NAN, 3.0f, -2.0f});
  double s = 0;
  for (float x : ls) s += std::exp(static_cast<double>(x));
  EXPECT_NEAR(s, 1.0, 1e-6);
  EXPECT_EQ(ls[1], -INFINITY);
  EXPECT_NEAR(ls[2] - ls[0], 2.0, 1e-6);
}

TEST(Sampler, RowWithoutFiniteLogitsIsAnErrorNotACrash) {
  std::vector<float> bad{NAN, NAN, -INFINITY};
  for (float t : {0.0f, 1.0f}) {
    SamplerState state(sampling(t), 0, {}, {});
    auto r = sample_row(bad, state);
    EXPECT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  }
}

TEST(Sampler, InfiniteLogitWinsWithoutProducingNaN) {
  SamplerState state(sampling(0.7f), 5, {}, {});
  EXPECT_EQ(sample_one({0.0f, INFINITY, 1.0f}, state), 1);
}

// With per-row errors, a row left with no finite logit fails alone; the other rows are
// sampled (one request's dead end is not its batch's).
TEST(Sampler, SampleBatchReportsRowErrorsSeparately) {
  std::vector<float> data = {-INFINITY, NAN, -INFINITY, 0.0f, 5.0f, 1.0f};
  SamplerState a(sampling(0.0f), 0, {}, {}), b(sampling(0.0f), 1, {}, {});
  std::vector<SamplerState*> states{&a, &b};
  std::vector<SampleOutput> out;
  std::vector<Status> errors;
  ASSERT_TRUE(sample_batch(Tensor(data.data(), DType::kF32, {2, 3}), states, &out, &errors).is_ok());
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_FALSE(errors[0].is_ok());
  EXPECT_TRUE(errors[1].is_ok());
  EXPECT_EQ(out[1].token, 1);
  EXPECT_FALSE(sample_batch(Tensor(data.data(), DType::kF32, {2, 3}), states, &out).is_ok());  // without: the batch fails
}

TEST(Sampler, SampleBatchRejectsMalformedInput) {
  std::vector<float> data(6, 0.0f);
  SamplerState s(sampling(), 0, {}, {});
  std::vector<SamplerState*> one{&s};
  std::vector<SampleOutput> out;
  EXPECT_FALSE(sample_batch(Tensor(data.data(), DType::kF32, {2, 3}), one, &out).is_ok());
  EXPECT_FALSE(sample_batch(Tensor(data.data(), DType::kI32, {1, 3}), one, &out).is_ok());
  EXPECT_FALSE(sample_batch(Tensor(data.data(), DType::kF32, {6}), one, &out).is_ok());
  std::vector<SamplerState*> null_state{nullptr};
  EXPECT_FALSE(sample_batch(Tensor(data.data(), DType::kF32, {1, 3}), null_state, &out).is_ok());
  EXPECT_TRUE(sample_batch(Tensor(data.data(), DType::kF32, {1, 3}), one, &out).is_ok());
}

// --- SamplingParams::validate ---

Status validate_with(void (*edit)(SamplingParams&)) {
  SamplingParams p;
  edit(p);
  return p.validate(/*vocab_size=*/100);
}

void expect_rejected(void (*edit)(SamplingParams&), const std::string& field) {
  Status st = validate_with(edit);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << field;
  EXPECT_NE(st.message().find(field), std::string::npos) << st.message();
}

TEST(SamplingParams, DefaultsAndBoundaryValuesAreValid) {
  EXPECT_TRUE(SamplingParams().validate(100).is_ok());
  SamplingParams p;
  p.max_new_tokens = 0;
  p.temperature = 0.0f;
  p.top_p = 1.0f;
  p.top_k = 0;  // treated as -1 (whole vocabulary)
  p.min_p = 1.0f;
  p.frequency_penalty = -2.0f;
  p.presence_penalty = 2.0f;
  p.repetition_penalty = 2.0f;
  p.n = 128;
  p.top_logprobs_num = 20;
  p.logprob_start_len = 0;
  p.stop_token_ids = {0, 99};
  p.stop = {"\n\n", "###"};
  Status st = p.validate(100);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
}

TEST(SamplingParams, OutOfRangeValuesAreRejectedNamingTheField) {
  expect_rejected([](SamplingParams& p) { p.max_new_tokens = -1; }, "max_new_tokens");
  expect_rejected([](SamplingParams& p) { p.min_new_tokens = -1; }, "min_new_tokens");
  expect_rejected(
      [](SamplingParams& p) {
        p.max_new_tokens = 4;
        p.min_new_tokens = 5;
      },
      "min_new_tokens");
  expect_rejected([](SamplingParams& p) { p.temperature = -0.1f; }, "temperature");
  expect_rejected([](SamplingParams& p) { p.temperature = NAN; }, "temperature");
  expect_rejected([](SamplingParams& p) { p.temperature = INFINITY; }, "temperature");
  expect_rejected([](SamplingParams& p) { p.top_p = 0.0f; }, "top_p");
  expect_rejected([](SamplingParams& p) { p.top_p = 1.01f; }, "top_p");
  expect_rejected([](SamplingParams& p) { p.top_p = NAN; }, "top_p");
  expect_rejected([](SamplingParams& p) { p.top_k = -2; }, "top_k");
  expect_rejected([](SamplingParams& p) { p.min_p = -0.01f; }, "min_p");
  expect_rejected([](SamplingParams& p) { p.min_p = 1.5f; }, "min_p");
  expect_rejected([](SamplingParams& p) { p.frequency_penalty = 2.5f; }, "frequency_penalty");
  expect_rejected([](SamplingParams& p) { p.presence_penalty = -2.5f; }, "presence_penalty");
  expect_rejected([](SamplingParams& p) { p.repetition_penalty = 0.0f; }, "repetition_penalty");
  expect_rejected([](SamplingParams& p) { p.repetition_penalty = 2.1f; }, "repetition_penalty");
  expect_rejected([](SamplingParams& p) { p.n = 0; }, "n must be");
  expect_rejected([](SamplingParams& p) { p.n = 129; }, "n must be");
  expect_rejected([](SamplingParams& p) { p.top_logprobs_num = 21; }, "top_logprobs_num");
  expect_rejected([](SamplingParams& p) { p.top_logprobs_num = -1; }, "top_logprobs_num");
  expect_rejected([](SamplingParams& p) { p.logprob_start_len = -2; }, "logprob_start_len");
  expect_rejected([](SamplingParams& p) { p.stop_token_ids = {100}; }, "stop_token_ids");
  expect_rejected([](SamplingParams& p) { p.stop_token_ids = {-1}; }, "stop_token_ids");
  expect_rejected([](SamplingParams& p) { p.stop = {"ok", ""}; }, "stop[1]");
  expect_rejected([](SamplingParams& p) { p.stop = {"\xC3"}; }, "UTF-8");
}

TEST(SamplingParams, MessageStatesTheRangeAndTheValue) {
  Status st = validate_with([](SamplingParams& p) { p.top_p = 1.5f; });
  EXPECT_EQ(st.message(), "top_p must be in (0, 1], got 1.5.");
}

}  // namespace
}  // namespace radix
