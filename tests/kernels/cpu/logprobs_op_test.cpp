// ops::logprobs on the CPU (the oracle of the CUDA kernel) against the host sampler's
// token_logprob, bit for bit: random rows of odd widths with ties (rounded values), NaN,
// -inf and +inf logits, rows with nothing finite, tokens outside the vocabulary, and
// every top width from 0 to min(V, 20).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/ops.h"
#include "runtime/sampler.h"
#include "tests/kernels/cpu/test_rng.h"

namespace radix {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

bool same_bits(float a, float b) {
  return std::memcmp(&a, &b, sizeof(float)) == 0 || (std::isnan(a) && std::isnan(b));
}

struct Out {
  std::vector<float> lp, top_lp;
  std::vector<int32_t> top_ids;
};

Status run_op(std::vector<float>& logits, std::vector<int32_t>& tokens, int64_t v, int64_t k,
              Out* o) {
  const auto n = static_cast<int64_t>(tokens.size());
  o->lp.assign(static_cast<size_t>(n), -7.0f);
  o->top_ids.assign(static_cast<size_t>(n * k), -7);
  o->top_lp.assign(static_cast<size_t>(n * k), -7.0f);
  return ops::logprobs(
      OpContext{}, Tensor(o->lp.data(), DType::kF32, {n}),
      Tensor(o->top_ids.data(), DType::kI32, {n, k}), Tensor(o->top_lp.data(), DType::kF32, {n, k}),
      Tensor(logits.data(), DType::kF32, {n, v}), Tensor(tokens.data(), DType::kI32, {n}));
}

TEST(LogprobsOp, MatchesTokenLogprobBitForBitOnRandomRows) {
  testing::TestRng rng;
  auto uni = [&](float lo, float hi) { return rng.uniform(lo, hi); };
  auto pick = [&](int lo, int hi) { return rng.pick(lo, hi); };
  int rows = 0;
  for (int64_t v : {1, 3, 17, 1001, 50257}) {
    for (int64_t k :
         {int64_t{0}, std::min<int64_t>(v, 1), std::min<int64_t>(v, 5), std::min<int64_t>(v, 20)}) {
      const int n = 9;
      std::vector<float> logits(static_cast<size_t>(n * v));
      std::vector<int32_t> tokens(n);
      for (int r = 0; r < n; ++r) {
        float* x = logits.data() + r * v;
        const int kind = r % 6;  // 0 plain, 1 ties, 2 specials, 3 all -inf/NaN, 4 a +inf, 5 peaked
        for (int64_t i = 0; i < v; ++i) {
          float e = uni(-8, 8);
          if (kind == 1) e = std::round(e * 2) / 2;
          if (kind == 2 && pick(0, 9) == 0) e = pick(0, 1) ? std::nanf("") : -kInf;
          if (kind == 3) e = pick(0, 1) ? std::nanf("") : -kInf;
          if (kind == 5) e = e * 6;
          x[i] = e;
        }
        if (kind == 4) x[pick(0, static_cast<int>(v) - 1)] = kInf;
        const int t = pick(0, 11);
        tokens[r] = t == 0   ? -1
                    : t == 1 ? static_cast<int32_t>(v)
                             : pick(0, static_cast<int>(v) - 1);
      }
      Out o;
      const Status st = run_op(logits, tokens, v, k, &o);
      ASSERT_TRUE(st.is_ok()) << st.to_string();
      for (int r = 0; r < n; ++r, ++rows) {
        SCOPED_TRACE("V " + std::to_string(v) + " K " + std::to_string(k) + " row " +
                     std::to_string(r));
        const TokenLogprob want =
            token_logprob(std::span<const float>(logits.data() + r * v, static_cast<size_t>(v)),
                          tokens[r], static_cast<int>(k));
        EXPECT_TRUE(same_bits(o.lp[r], want.logprob)) << o.lp[r] << " vs " << want.logprob;
        ASSERT_EQ(want.top.size(), static_cast<size_t>(k));
        for (int64_t j = 0; j < k; ++j) {
          EXPECT_EQ(o.top_ids[r * k + j], want.top[j].first) << "rank " << j;
          EXPECT_TRUE(same_bits(o.top_lp[r * k + j], want.top[j].second))
              << "rank " << j << ": " << o.top_lp[r * k + j] << " vs " << want.top[j].second;
        }
      }
    }
  }
  EXPECT_EQ(rows, 5 * 4 * 9);
}

TEST(LogprobsOp, RanksByLogitWithTiesToTheLowerIdAndNanAsMinusInfinity) {
  // log_softmax of {ln 1, ln 2, NaN, ln 2, ln 5}: probabilities 0.1, 0.2, 0, 0.2, 0.5.
  std::vector<float> logits = {0.0f, std::log(2.0f), std::nanf(""), std::log(2.0f), std::log(5.0f)};
  std::vector<int32_t> tokens = {3};
  Out o;
  ASSERT_TRUE(run_op(logits, tokens, 5, 5, &o).is_ok());
  EXPECT_NEAR(o.lp[0], std::log(0.2f), 1e-6f);
  EXPECT_EQ(o.top_ids, (std::vector<int32_t>{4, 1, 3, 0, 2}));
  EXPECT_NEAR(o.top_lp[0], std::log(0.5f), 1e-6f);
  EXPECT_NEAR(o.top_lp[3], std::log(0.1f), 1e-6f);
  EXPECT_EQ(o.top_lp[4], -kInf);
}

TEST(LogprobsOp, RejectsMoreAlternativesThanTheLimitOrTheVocabulary) {
  std::vector<float> logits(3 * 30, 0.0f);
  std::vector<int32_t> tokens = {0, 1, 2};
  Out o;
  EXPECT_FALSE(run_op(logits, tokens, 30, ops::kMaxTopLogprobs + 1, &o).is_ok());
  std::vector<float> narrow(3 * 4, 0.0f);
  EXPECT_FALSE(run_op(narrow, tokens, 4, 5, &o).is_ok());
  EXPECT_TRUE(run_op(narrow, tokens, 4, 4, &o).is_ok());
}

}  // namespace
}  // namespace radix
