// ops::sample on the CPU (the oracle the CUDA kernel is checked against): greedy,
// temperature, top_k / top_p / min_p truncation, id-order inverse CDF, ties, NaN rows.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/buffer.h"
#include "kernels/ops.h"

namespace radix {
namespace {

struct Row {
  std::vector<float> logits;
  float temperature = 1.0f;
  int top_k = 0;
  float top_p = 1.0f;
  float min_p = 0.0f;
  float u = 0.0f;
};

int32_t sample_one(const Row& r) {
  const auto v = static_cast<int64_t>(r.logits.size());
  std::vector<float> logits = r.logits, t = {r.temperature}, p = {r.top_p}, mp = {r.min_p}, u = {r.u};
  std::vector<int32_t> k = {r.top_k}, out = {-7};
  SamplingTensors s;
  s.temperature = Tensor(t.data(), DType::kF32, {1});
  s.top_k = Tensor(k.data(), DType::kI32, {1});
  s.top_p = Tensor(p.data(), DType::kF32, {1});
  s.min_p = Tensor(mp.data(), DType::kF32, {1});
  s.uniform = Tensor(u.data(), DType::kF32, {1});
  const Status st = ops::sample(OpContext{}, Tensor(out.data(), DType::kI32, {1}),
                                Tensor(logits.data(), DType::kF32, {1, v}), s);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  return out[0];
}

// Probabilities 0.1, 0.2, 0.3, 0.4 for ids 0..3 (logits = log p).
Row four(float u) {
  Row r;
  r.logits = {std::log(0.1f), std::log(0.2f), std::log(0.3f), std::log(0.4f)};
  r.u = u;
  return r;
}

TEST(SampleOp, GreedyTakesTheLowestIdAmongTiesAndSkipsNan) {
  Row r;
  r.logits = {1.0f, std::nanf(""), 3.0f, 3.0f, -2.0f};
  r.temperature = 0.0f;
  EXPECT_EQ(sample_one(r), 2);
  r.temperature = 0.7f;
  r.top_k = 1;  // top_k 1 is greedy too
  EXPECT_EQ(sample_one(r), 2);
}

TEST(SampleOp, InverseCdfRunsInIdOrder) {
  // Cumulative 0.1, 0.3, 0.6, 1.0.
  EXPECT_EQ(sample_one(four(0.05f)), 0);
  EXPECT_EQ(sample_one(four(0.15f)), 1);
  EXPECT_EQ(sample_one(four(0.45f)), 2);
  EXPECT_EQ(sample_one(four(0.95f)), 3);
  EXPECT_EQ(sample_one(four(0.0f)), 0);
}

TEST(SampleOp, TopKKeepsTheKLargest) {
  Row r = four(0.0f);
  r.top_k = 2;  // ids 2, 3 with mass 0.3, 0.4: cumulative 3/7 then 1
  EXPECT_EQ(sample_one(r), 2);
  r.u = 0.42f;
  EXPECT_EQ(sample_one(r), 2);
  r.u = 0.44f;
  EXPECT_EQ(sample_one(r), 3);
}

TEST(SampleOp, TopPKeepsTheTokenThatCrossesIt) {
  Row r = four(0.0f);
  r.top_p = 0.5f;  // 0.4 < 0.5, so id 2 (mass before it 0.4 <= 0.5) stays; id 1 (0.7) goes
  EXPECT_EQ(sample_one(r), 2);
  r.u = 0.99f;
  EXPECT_EQ(sample_one(r), 3);
  r.top_p = 0.3f;  // only id 3
  r.u = 0.0f;
  EXPECT_EQ(sample_one(r), 3);
}

TEST(SampleOp, MinPDropsTokensBelowAFractionOfTheBest) {
  Row r = four(0.0f);
  r.min_p = 0.6f;  // w = p / 0.4: 0.25, 0.5, 0.75, 1 -> ids 2, 3
  EXPECT_EQ(sample_one(r), 2);
}

TEST(SampleOp, TemperatureSharpens) {
  Row r = four(0.5f);
  r.temperature = 0.05f;  // (p/0.4)^20: id 3 holds > 99.6% of the mass
  EXPECT_EQ(sample_one(r), 3);
  r.u = 0.002f;
  EXPECT_EQ(sample_one(r), 2);
}

TEST(SampleOp, TiesAreKeptTogetherAndInfinityDominates) {
  Row r;
  r.logits = {0.0f, 1.0f, 1.0f, 1.0f};
  r.top_k = 1 + 1;  // three tokens tie for the top: all stay
  r.u = 0.9f;
  EXPECT_EQ(sample_one(r), 3);
  r.logits = {0.0f, std::numeric_limits<float>::infinity(), 5.0f};
  r.top_k = 0;
  r.u = 0.99f;
  EXPECT_EQ(sample_one(r), 1);
}

TEST(SampleOp, RowWithoutFiniteLogitGivesMinusOne) {
  Row r;
  const float ninf = -std::numeric_limits<float>::infinity();
  r.logits = {ninf, std::nanf(""), ninf};
  EXPECT_EQ(sample_one(r), -1);
  r.temperature = 0.0f;
  EXPECT_EQ(sample_one(r), -1);
}

TEST(SampleOp, RejectsBadShapes) {
  std::vector<float> logits(8), f(2);
  std::vector<int32_t> k(2), out(2);
  SamplingTensors s;
  s.temperature = Tensor(f.data(), DType::kF32, {2});
  s.top_k = Tensor(k.data(), DType::kI32, {2});
  s.top_p = Tensor(f.data(), DType::kF32, {2});
  s.min_p = Tensor(f.data(), DType::kF32, {1});  // wrong length
  s.uniform = Tensor(f.data(), DType::kF32, {2});
  EXPECT_FALSE(ops::sample(OpContext{}, Tensor(out.data(), DType::kI32, {2}),
                           Tensor(logits.data(), DType::kF32, {2, 4}), s)
                   .is_ok());
}

}  // namespace
}  // namespace radix
