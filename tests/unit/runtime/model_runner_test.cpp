// ModelRunner on the CPU backend: rows sampled in the runner (ops::sample) agree with
// the logits it returns for the same step, only the other rows come back as logits,
// and malformed sampling requests are errors.
#include "runtime/model_runner.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace radix {
namespace {

const std::string kModel = std::string(RADIX_SOURCE_DIR) + "/models/default";

std::unique_ptr<ModelRunner> make_runner() {
  EngineOptions o;
  o.model_path = kModel;
  o.device = "cpu";
  o.max_total_tokens = 256;
  auto r = ModelRunner::create(o);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? std::move(r).value() : nullptr;
}

// Two prompts (5 and 3 tokens) in slots 1..5 and 6..8; logits for the last token of each.
StepInput two_prompts() {
  StepInput s;
  const std::vector<std::vector<int32_t>> prompts = {{11, 200, 3000, 42, 7}, {99, 1234, 4000}};
  int slot = 1;
  for (const auto& p : prompts) {
    const int first = slot;
    for (size_t i = 0; i < p.size(); ++i) {
      s.input_ids.push_back(p[i]);
      s.positions.push_back(static_cast<int32_t>(i));
      s.out_cache_loc.push_back(slot++);
    }
    for (int k = first; k < slot; ++k) s.kv_indices.push_back(k);
    s.qo_indptr.push_back(static_cast<int32_t>(s.input_ids.size()));
    s.kv_indptr.push_back(static_cast<int32_t>(s.kv_indices.size()));
    s.logits_rows.push_back(static_cast<int32_t>(s.input_ids.size()) - 1);
    s.max_q_len = std::max<int>(s.max_q_len, static_cast<int>(p.size()));
    s.max_kv_len = s.max_q_len;
  }
  return s;
}

TEST(ModelRunner, SamplesRequestedRowsAndReturnsTheOthersAsLogits) {
  auto runner = make_runner();
  ASSERT_NE(runner, nullptr);
  const int64_t vocab = runner->config().vocab_size;
  StepInput s = two_prompts();
  StepOutput all;
  ASSERT_TRUE(runner->forward(s, &all).is_ok());
  ASSERT_EQ(all.logits_index, (std::vector<int32_t>{0, 1}));
  EXPECT_TRUE(all.tokens.empty());
  const float* row1 = all.logits.data_as<float>() + vocab;
  const auto argmax1 = static_cast<int32_t>(std::max_element(row1, row1 + vocab) - row1);

  s.add_sample(1, 0.0f, 0, 1.0f, 0.0f, 0.5f);  // greedy on the second row
  StepOutput part;
  ASSERT_TRUE(runner->forward(s, &part).is_ok());
  ASSERT_EQ(part.tokens.size(), 1u);
  EXPECT_EQ(part.tokens[0], argmax1);
  ASSERT_EQ(part.logits_index, (std::vector<int32_t>{0, -1}));
  EXPECT_TRUE(std::equal(all.logits.data_as<float>(), all.logits.data_as<float>() + vocab, part.logits.data_as<float>()));

  // top_k 1 is greedy too; a hot temperature with top_k 3 stays within the best three.
  s.sample_rows.clear();
  s.temperature.clear();
  s.top_k.clear();
  s.top_p.clear();
  s.min_p.clear();
  s.uniform.clear();
  s.add_sample(0, 5.0f, 3, 1.0f, 0.0f, 0.999f);
  s.add_sample(1, 0.8f, 1, 1.0f, 0.0f, 0.3f);
  StepOutput both;
  ASSERT_TRUE(runner->forward(s, &both).is_ok());
  ASSERT_EQ(both.tokens.size(), 2u);
  EXPECT_EQ(both.tokens[1], argmax1);
  std::vector<float> row0(all.logits.data_as<float>(), all.logits.data_as<float>() + vocab);
  std::vector<float> sorted = row0;
  std::sort(sorted.begin(), sorted.end(), std::greater<float>());
  EXPECT_GE(row0[static_cast<size_t>(both.tokens[0])], sorted[2]);
  EXPECT_EQ(both.logits_index, (std::vector<int32_t>{-1, -1}));
}

TEST(ModelRunner, RejectsMalformedSampleRows) {
  auto runner = make_runner();
  ASSERT_NE(runner, nullptr);
  StepInput s = two_prompts();
  StepOutput out;
  s.add_sample(2, 0.0f, 0, 1.0f, 0.0f, 0.0f);  // there are only two logits rows
  EXPECT_FALSE(runner->forward(s, &out).is_ok());
  s = two_prompts();
  s.add_sample(0, 0.0f, 0, 1.0f, 0.0f, 0.0f);
  s.add_sample(0, 0.0f, 0, 1.0f, 0.0f, 0.0f);  // repeated
  EXPECT_FALSE(runner->forward(s, &out).is_ok());
  s = two_prompts();
  s.add_sample(0, 0.0f, 0, 1.0f, 0.0f, 0.0f);
  s.uniform.clear();  // parameters missing
  EXPECT_FALSE(runner->forward(s, &out).is_ok());
}

}  // namespace
}  // namespace radix
