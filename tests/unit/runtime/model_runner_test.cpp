// ModelRunner on the CPU backend: rows sampled in the runner (ops::sample, with
// penalties and logprobs) agree with the logits it returns for the same step, only the
// other rows come back as logits, and malformed sampling requests are errors.
#include "runtime/model_runner.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "runtime/constrained/grammar.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

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
  s.clear_samples();
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

// Penalties, the min_new_tokens mask and logprobs done in the runner (the ops' CPU twins
// here, the CUDA kernels on a GPU) give what the host sampler gives from the returned
// logits: the same greedy tokens and the same raw logprobs, in every combination of
// penalized rows and logprob rows.
TEST(ModelRunner, SamplesWithPenaltiesAndLogprobsAsTheHostSamplerDoes) {
  auto runner = make_runner();
  ASSERT_NE(runner, nullptr);
  const auto vocab = static_cast<int32_t>(runner->config().vocab_size);
  StepInput s = two_prompts();
  StepOutput all;
  ASSERT_TRUE(runner->forward(s, &all).is_ok());
  auto row = [&](int r) {
    return std::span<const float>(all.logits.data_as<float>() + r * vocab,
                                  static_cast<size_t>(vocab));
  };
  auto argmax = [&](int r) {
    return static_cast<int32_t>(std::max_element(row(r).begin(), row(r).end()) - row(r).begin());
  };
  // Row 0: its best token is an eos id still masked by min_new_tokens. Row 1: its best
  // token was generated three times (frequency and presence) and the prompt repeats.
  SamplingParams p0;
  p0.temperature = 0.0f;
  p0.min_new_tokens = 4;
  p0.repetition_penalty = 1.3f;
  p0.return_logprob = true;
  p0.top_logprobs_num = 3;
  SamplerState s0(p0, 1, std::vector<int32_t>{11, 200, 3000, 42, 7, 7}, {argmax(0)});
  SamplingParams p1;
  p1.temperature = 0.0f;
  p1.frequency_penalty = 2.0f;
  p1.presence_penalty = 1.0f;
  p1.repetition_penalty = 0.8f;
  p1.return_logprob = true;
  p1.top_logprobs_num = 20;
  SamplerState s1(p1, 2, std::vector<int32_t>{99, 1234, 4000, 99}, {vocab + 5});
  for (int g = 0; g < 3; ++g) s1.on_token(argmax(1));
  s1.on_token(5);
  const SamplerState* states[2] = {&s0, &s1};
  SampleOutput want[2];
  for (int r = 0; r < 2; ++r) {
    auto w = sample_row(row(r), *states[r]);
    ASSERT_TRUE(w.is_ok()) << w.status().to_string();
    want[r] = std::move(w).value();
    ASSERT_NE(want[r].token, argmax(r))
        << "the penalties must change row " << r << "'s greedy token";
  }
  for (int variant = 0; variant < 4; ++variant) {
    SCOPED_TRACE("variant " + std::to_string(variant));
    const bool penalize0 = variant & 1, logprobs0 = variant & 2;
    s.clear_samples();
    for (int r = 0; r < 2; ++r) {
      s.add_sample(r, 0.0f, 0, 1.0f, 0.0f, 0.5f);
      if (r == 1 || penalize0) s.add_penalties(*states[r], vocab);
      if (r == 1 || logprobs0) s.add_logprobs(states[r]->params().top_logprobs_num);
    }
    StepOutput out;
    ASSERT_TRUE(runner->forward(s, &out).is_ok());
    ASSERT_EQ(out.tokens.size(), 2u);
    EXPECT_EQ(out.tokens[0], penalize0 ? want[0].token : argmax(0));
    EXPECT_EQ(out.tokens[1], want[1].token);
    ASSERT_EQ(out.logprobs.size(), 2u);
    for (int r = 0; r < 2; ++r) {
      if (r == 0 && !logprobs0) {
        EXPECT_TRUE(out.logprobs[0].top.empty());
        continue;
      }
      const TokenLogprob& got = out.logprobs[static_cast<size_t>(r)];
      const TokenLogprob raw = token_logprob(row(r), out.tokens[static_cast<size_t>(r)],
                                             states[r]->params().top_logprobs_num);
      EXPECT_EQ(got.id, out.tokens[static_cast<size_t>(r)]);
      EXPECT_EQ(got.logprob, raw.logprob) << "row " << r << ": the logprob of the raw logits";
      EXPECT_EQ(got.top, raw.top) << "row " << r;
      if (r == 1 || penalize0) {
        EXPECT_EQ(got.logprob, want[r].logprob);
        EXPECT_EQ(got.top, want[r].top);
      }
    }
  }
  // A step without logprob rows returns none.
  s.clear_samples();
  s.add_sample(1, 0.0f, 0, 1.0f, 0.0f, 0.5f);
  s.add_penalties(s1, vocab);
  StepOutput plain;
  ASSERT_TRUE(runner->forward(s, &plain).is_ok());
  EXPECT_EQ(plain.tokens, std::vector<int32_t>{want[1].token});
  EXPECT_TRUE(plain.logprobs.empty());
}

// Structured output in the runner (ops::apply_token_mask after the penalties): the same
// tokens as the host sampler's masked sample, logprobs still of the raw logits, and a
// sampled (not greedy) row stays inside its mask.
TEST(ModelRunner, SamplesGrammarRowsAsTheHostSamplerDoes) {
  auto runner = make_runner();
  ASSERT_NE(runner, nullptr);
  const auto vocab = static_cast<int32_t>(runner->config().vocab_size);
  auto tok = Tokenizer::from_dir(kModel);
  ASSERT_TRUE(tok.is_ok());
  auto words = constrained::TokenVocab::from_tokenizer(**tok, vocab);
  auto g = constrained::Grammar::compile({constrained::Constraint::Kind::kRegex, "(cat|dog)s? [0-9]+", "regex"}, words);
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  StepInput s = two_prompts();
  StepOutput all;
  ASSERT_TRUE(runner->forward(s, &all).is_ok());
  auto row = [&](int r) {
    return std::span<const float>(all.logits.data_as<float>() + r * vocab, static_cast<size_t>(vocab));
  };
  SamplingParams p;
  p.temperature = 0.0f;
  p.grammar = *g;
  p.return_logprob = true;
  p.top_logprobs_num = 2;
  SamplerState fresh(p, 1, std::vector<int32_t>{11}, {0, 2});
  SamplerState mid(p, 2, std::vector<int32_t>{99}, {0, 2});
  for (int32_t id : (*tok)->encode("cats 4", false)) mid.on_token(id);  // accepting: digits or EOS next
  ASSERT_TRUE((*g)->accepting(mid.grammar_state()));
  const SamplerState* states[2] = {&fresh, &mid};
  s.clear_samples();
  for (int r = 0; r < 2; ++r) {
    s.add_sample(r, 0.0f, 0, 1.0f, 0.0f, 0.5f);
    s.add_grammar_mask(*states[r], vocab);
    s.add_logprobs(2);
  }
  StepOutput out;
  ASSERT_TRUE(runner->forward(s, &out).is_ok());
  ASSERT_EQ(out.tokens.size(), 2u);
  for (int r = 0; r < 2; ++r) {
    auto want = sample_row(row(r), *states[r]);
    ASSERT_TRUE(want.is_ok()) << want.status().to_string();
    EXPECT_EQ(out.tokens[static_cast<size_t>(r)], want->token) << "row " << r;
    const TokenLogprob raw = token_logprob(row(r), out.tokens[static_cast<size_t>(r)], 2);
    EXPECT_EQ(out.logprobs[static_cast<size_t>(r)].logprob, raw.logprob) << "row " << r << ": raw logits";
  }
  // Sampled at temperature 1 with many uniforms: always an allowed token (or EOS at the
  // accepting state).
  const auto& allowed0 = (*g)->allowed(fresh.grammar_state());
  for (int k = 0; k < 20; ++k) {
    s.clear_samples();
    s.add_sample(0, 1.0f, 0, 1.0f, 0.0f, static_cast<float>(k) / 20.0f);
    s.add_grammar_mask(fresh, vocab);
    StepOutput o;
    ASSERT_TRUE(runner->forward(s, &o).is_ok());
    const int32_t t = o.tokens.at(0);
    EXPECT_TRUE((allowed0[t / 64] >> (t % 64)) & 1u) << "token " << t;
  }
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
  s = two_prompts();
  s.add_sample(0, 0.0f, 0, 1.0f, 0.0f, 0.0f);
  s.penalties.ids.push_back(3);  // an entry penalty_indptr does not cover
  s.penalties.counts.push_back(1);
  s.penalties.flags.push_back(0);
  EXPECT_FALSE(runner->forward(s, &out).is_ok());
  s = two_prompts();
  s.add_sample(0, 0.0f, 0, 1.0f, 0.0f, 0.0f);
  s.add_logprobs(ops::kMaxTopLogprobs + 1);
  EXPECT_FALSE(runner->forward(s, &out).is_ok());
}

}  // namespace
}  // namespace radix
