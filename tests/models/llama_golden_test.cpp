// Llama-family models on the CPU backend against Hugging Face transformers (f32,
// eager attention): logits at every prompt position, batched and chunked prefill,
// and greedy continuations through the decode path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "models/model.h"
#include "models/simple_session.h"
#include "tests/models/golden_util.h"

namespace radix {
namespace {

using testing::golden_cases;
using testing::GoldenCase;
using testing::read_golden;

// f32 vs f32 with different summation orders. The bound is 1e-4 relative to the
// largest logit of the batch (a per-element relative bound is meaningless for logits
// near zero); a wrong rope or a missing bias moves logits by O(1).
void expect_logits_near(const float* got, const float* want, int64_t n, const std::string& what) {
  int bad = 0;
  float scale = 0;
  for (int64_t i = 0; i < n; ++i) scale = std::max(scale, std::fabs(want[i]));
  for (int64_t i = 0; i < n && bad < 5; ++i) {
    const float tol = 1e-4f * scale;
    if (!(std::fabs(got[i] - want[i]) <= tol)) {
      ADD_FAILURE() << what << " index " << i << ": got " << got[i] << " want " << want[i];
      ++bad;
    }
  }
}

class LlamaGolden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(LlamaGolden, LogitsMatchTransformersAtEveryPosition) {
  const GoldenCase& c = GetParam();
  auto model = load_causal_lm(c.model_dir, LoadOptions{});
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  auto golden_file = SafetensorsFile::open(c.golden_path);
  ASSERT_TRUE(golden_file.is_ok()) << golden_file.status().to_string();
  const auto prompts = read_golden(**golden_file);
  ASSERT_FALSE(prompts.empty());
  const int64_t vocab = (*model)->config().vocab_size;
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto session = SimpleSession::create(model->get(), OpContext{}, 256);
    ASSERT_TRUE(session.is_ok());
    auto logits = session->extend(prompts[i].ids, /*all_logits=*/true);
    ASSERT_TRUE(logits.is_ok()) << logits.status().to_string();
    ASSERT_EQ(logits->view().numel(), static_cast<int64_t>(prompts[i].logits.size()));
    expect_logits_near(logits->data_as<float>(), prompts[i].logits.data(),
                       static_cast<int64_t>(prompts[i].ids.size()) * vocab,
                       c.name + " prompt " + std::to_string(i));
  }
}

// Logits for every row (ModelBatch::logits_all_rows: the last layer's tail computes them
// from the residual) and for the last row only (gathered after the layers) agree.
TEST_P(LlamaGolden, EveryRowAndGatheredRowLogitsAgree) {
  const GoldenCase& c = GetParam();
  auto model = load_causal_lm(c.model_dir, LoadOptions{});
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  const auto prompts = read_golden(**SafetensorsFile::open(c.golden_path));
  const auto& p = prompts.back();
  const int64_t vocab = (*model)->config().vocab_size;
  auto every = SimpleSession::create(model->get(), OpContext{}, 256);
  auto last = SimpleSession::create(model->get(), OpContext{}, 256);
  ASSERT_TRUE(every.is_ok() && last.is_ok());
  auto all_rows = every->extend(p.ids, /*all_logits=*/true);
  auto last_row = last->extend(p.ids, /*all_logits=*/false);
  ASSERT_TRUE(all_rows.is_ok() && last_row.is_ok());
  ASSERT_EQ(last_row->view().numel(), vocab);
  const int64_t n = static_cast<int64_t>(p.ids.size());
  expect_logits_near(all_rows->data_as<float>() + (n - 1) * vocab, last_row->data_as<float>(), vocab,
                     c.name + " last row");
  // A decode step (one row: every row) after each.
  const int32_t next = p.ids.front();
  auto a = every->extend(std::span<const int32_t>(&next, 1));
  auto b = last->extend(std::span<const int32_t>(&next, 1));
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  expect_logits_near(a->data_as<float>(), b->data_as<float>(), vocab, c.name + " decode step");
}

TEST_P(LlamaGolden, ChunkedPrefillGivesTheSameLogits) {
  const GoldenCase& c = GetParam();
  auto model = load_causal_lm(c.model_dir, LoadOptions{});
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  const auto prompts = read_golden(**SafetensorsFile::open(c.golden_path));
  const auto& p = prompts.back();  // the longest prompt
  const int64_t vocab = (*model)->config().vocab_size;
  auto session = SimpleSession::create(model->get(), OpContext{}, 256);
  ASSERT_TRUE(session.is_ok());
  // Three uneven chunks: each attends to the cached prefix through the pool.
  const size_t cuts[] = {0, 7, 8, p.ids.size()};
  for (int k = 0; k < 3; ++k) {
    std::span<const int32_t> chunk(p.ids.data() + cuts[k], cuts[k + 1] - cuts[k]);
    auto logits = session->extend(chunk, true);
    ASSERT_TRUE(logits.is_ok()) << logits.status().to_string();
    expect_logits_near(logits->data_as<float>(), p.logits.data() + cuts[k] * vocab,
                       static_cast<int64_t>(chunk.size()) * vocab, c.name + " chunk " + std::to_string(k));
  }
}

TEST_P(LlamaGolden, GreedyContinuationMatchesTransformers) {
  const GoldenCase& c = GetParam();
  auto model = load_causal_lm(c.model_dir, LoadOptions{});
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  const auto prompts = read_golden(**SafetensorsFile::open(c.golden_path));
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto session = SimpleSession::create(model->get(), OpContext{}, 256);
    ASSERT_TRUE(session.is_ok());
    const auto& g = prompts[i];
    auto out = session->greedy(g.ids, static_cast<int>(g.greedy.size()));
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    // Compare up to the first step where the reference's top-2 logits are within
    // f32 noise; past a near-tie either continuation is correct.
    for (size_t s = 0; s < g.greedy.size(); ++s) {
      if (g.margin[s] < 1e-3f) break;
      ASSERT_EQ((*out)[s], g.greedy[s]) << c.name << " prompt " << i << " step " << s;
    }
  }
}

TEST_P(LlamaGolden, RaggedBatchMatchesSingleSequences) {
  const GoldenCase& c = GetParam();
  auto loaded = load_causal_lm(c.model_dir, LoadOptions{});
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  CausalLM& model = **loaded;
  const auto prompts = read_golden(**SafetensorsFile::open(c.golden_path));
  const KvLayout kvl = model.kv_layout();
  const int64_t vocab = model.config().vocab_size;
  // All prompts in one step; each sequence's slots are scattered (reversed order)
  // to prove attention reads through kv_indices, not positions.
  int total = 0;
  for (const auto& p : prompts) total += static_cast<int>(p.ids.size());
  std::vector<int32_t> ids, pos, slots, qo = {0}, kvp = {0}, rows;
  int next_slot = total;  // slots total..1, descending
  for (const auto& p : prompts) {
    for (size_t j = 0; j < p.ids.size(); ++j) {
      ids.push_back(p.ids[j]);
      pos.push_back(static_cast<int32_t>(j));
      slots.push_back(next_slot--);
      rows.push_back(static_cast<int32_t>(ids.size() - 1));
    }
    qo.push_back(static_cast<int32_t>(ids.size()));
    kvp.push_back(static_cast<int32_t>(ids.size()));
  }
  auto t = [](std::vector<int32_t>& v) { return Tensor(v.data(), DType::kI32, {static_cast<int64_t>(v.size())}); };
  ModelBatch b;
  b.input_ids = t(ids);
  b.positions = t(pos);
  b.out_cache_loc = t(slots);
  b.attn.qo_indptr = t(qo);
  b.attn.kv_indptr = t(kvp);
  b.attn.kv_indices = t(slots);
  b.attn.scale = 1.0f / std::sqrt(static_cast<float>(kvl.head_dim));
  b.logits_rows = t(rows);
  std::vector<OwnedTensor> k, v;
  KvCache kv;
  for (int l = 0; l < kvl.num_layers; ++l) {
    k.push_back(OwnedTensor::host({total + 1, kvl.num_kv_heads, kvl.head_dim}, DType::kF32));
    v.push_back(OwnedTensor::host({total + 1, kvl.num_kv_heads, kvl.head_dim}, DType::kF32));
    kv.k.push_back(k.back().view());
    kv.v.push_back(v.back().view());
  }
  OwnedTensor logits = OwnedTensor::host({total, vocab}, DType::kF32);
  ASSERT_TRUE(model.forward(OpContext{}, b, kv, logits.view()).is_ok());
  int64_t row = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const int64_t n = static_cast<int64_t>(prompts[i].ids.size());
    expect_logits_near(logits.data_as<float>() + row * vocab, prompts[i].logits.data(), n * vocab,
                       c.name + " batched prompt " + std::to_string(i));
    row += n;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LlamaGolden, ::testing::ValuesIn(golden_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace radix
