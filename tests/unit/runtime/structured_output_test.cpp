// Structured output through the engine (CPU backend, the bundled default model): every
// sampled output is a full match of its grammar and ends with an end-of-sequence id
// when the grammar allows nothing else; constrained requests run beside unconstrained
// ones, with overlap scheduling too, without changing the others' outputs.
#include <gtest/gtest.h>

#include <random>
// GCC 12 at -O1 with ASan warns (falsely) that std::regex's internal std::function may
// be used uninitialized; the warning is raised inside <regex>'s templates.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "runtime/constrained/grammar.h"
#include "runtime/engine.h"
#include "tests/runtime/engine_test_util.h"
#include "tokenizer/tokenizer.h"

namespace radix {
namespace {

using testing::make_engine;
using testing::random_prompt;

using testing::collect;
using Choices = testing::Outcome;

class StructuredOutput : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = Tokenizer::from_dir(testing::kDefaultModel);
    ASSERT_TRUE(t.is_ok()) << t.status().to_string();
    tok_ = *t;
    vocab_ = constrained::TokenVocab::from_tokenizer(*tok_, 4096);
  }
  std::shared_ptr<const constrained::Grammar> grammar(const std::string& regex) {
    auto g = constrained::Grammar::compile({constrained::Constraint::Kind::kRegex, regex, "regex"}, vocab_);
    EXPECT_TRUE(g.is_ok()) << g.status().to_string();
    return g.is_ok() ? *g : nullptr;
  }
  // The text of an output without its end-of-sequence id (the default model's: 0, 2).
  std::string text(std::vector<int32_t> ids, bool* ended_with_eos) {
    *ended_with_eos = !ids.empty() && (ids.back() == 0 || ids.back() == 2);
    if (*ended_with_eos) ids.pop_back();
    std::string s;
    for (int32_t id : ids) s += vocab_->bytes_of(id);
    return s;
  }

  // One request of p.n choices on a fresh CPU engine, its prompt prompt_len random ids
  // drawn with `seed`; the submission's error, if any, in the outcome.
  Choices run_alone(const SamplingParams& p, uint32_t seed, int prompt_len) {
    auto engine = make_engine(testing::cpu_engine_options());
    std::mt19937 rng(seed);
    auto h = engine->submit({"", random_prompt(rng, prompt_len), p});
    if (!h.is_ok()) {
      Choices c;
      c.error = h.status();
      return c;
    }
    return collect(**h, p.n);
  }

  std::shared_ptr<Tokenizer> tok_;
  std::shared_ptr<const constrained::TokenVocab> vocab_;
};

TEST_F(StructuredOutput, SampledChoicesMatchTheRegexAndEndWithEos) {
  const std::string re = "(yes|no), [0-9]{1,3}( items)?\\.";
  SamplingParams p;
  p.temperature = 1.0f;
  p.max_new_tokens = 64;
  p.n = 6;
  p.seed = 9;
  p.grammar = grammar(re);
  ASSERT_TRUE(p.grammar);
  auto engine = make_engine(testing::cpu_engine_options());
  std::mt19937 rng(1);
  auto h = engine->submit({"", random_prompt(rng, 20), p});
  ASSERT_TRUE(h.is_ok()) << h.status().to_string();
  const Choices c = collect(**h, p.n);
  ASSERT_TRUE(c.error.is_ok()) << c.error.to_string();
  const std::regex check(re);
  std::set<std::string> distinct;
  for (int i = 0; i < p.n; ++i) {
    bool eos = false;
    const std::string s = text(c.tokens[static_cast<size_t>(i)], &eos);
    EXPECT_TRUE(std::regex_match(s, check)) << "choice " << i << ": '" << s << "'";
    // The grammar ends with the '.', after which only the end of sequence is allowed.
    EXPECT_TRUE(eos) << s;
    EXPECT_EQ(c.reasons[static_cast<size_t>(i)], FinishReason::kStop) << s;
    distinct.insert(s);
  }
  EXPECT_GE(distinct.size(), 2u) << "sampling still varies within the grammar";
  EXPECT_TRUE(engine->check_kv_invariants().is_ok());
}

// A length limit ends a constrained output early (a prefix of a match), as in SGLang.
TEST_F(StructuredOutput, MaxTokensCutsTheOutputShort) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.max_new_tokens = 3;
  p.grammar = grammar("a{20}");
  const Choices c = run_alone(p, 2, 8);
  ASSERT_TRUE(c.error.is_ok()) << c.error.to_string();
  bool eos = false;
  const std::string s = text(c.tokens[0], &eos);
  EXPECT_FALSE(eos);
  EXPECT_EQ(c.reasons[0], FinishReason::kLength);
  EXPECT_EQ(c.tokens[0].size(), 3u);
  EXPECT_EQ(s, std::string(s.size(), 'a'));
}

// Constrained and unconstrained requests in the same batches, overlap scheduling on
// (constrained steps run synchronously): the unconstrained outputs equal a plain
// engine's, and the constrained ones match.
TEST_F(StructuredOutput, MixedBatchesWithOverlapSchedulingKeepOtherOutputs) {
  std::mt19937 rng(3);
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 6; ++i) prompts.push_back(random_prompt(rng, 10 + 7 * i));
  const SamplingParams plain = testing::greedy(24);
  auto reference = make_engine(testing::cpu_engine_options());
  std::vector<std::vector<int32_t>> expected;
  for (const auto& pr : prompts) {
    auto h = reference->submit({"", pr, plain});
    ASSERT_TRUE(h.is_ok());
    expected.push_back(collect(**h, 1).tokens[0]);
  }
  EngineOptions o = testing::cpu_engine_options();
  o.enable_overlap_schedule = true;
  o.overlap_min_batch = 0;
  auto engine = make_engine(o);
  const std::string re = "\\{\"n\": (0|[1-9][0-9]{0,2})\\}";
  SamplingParams constrained;
  constrained.temperature = 0.7f;
  constrained.seed = 4;
  constrained.max_new_tokens = 40;
  constrained.grammar = grammar(re);
  std::vector<std::shared_ptr<RequestHandle>> hs, cs;
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto h = engine->submit({"", prompts[i], plain});
    ASSERT_TRUE(h.is_ok());
    hs.push_back(*h);
    if (i % 2 == 0) {
      auto c = engine->submit({"", prompts[i], constrained});
      ASSERT_TRUE(c.is_ok());
      cs.push_back(*c);
    }
  }
  for (size_t i = 0; i < hs.size(); ++i) EXPECT_EQ(collect(*hs[i], 1).tokens[0], expected[i]) << "request " << i;
  const std::regex check(re);
  for (auto& c : cs) {
    const Choices out = collect(*c, 1);
    bool eos = false;
    const std::string s = text(out.tokens[0], &eos);
    EXPECT_TRUE(std::regex_match(s, check)) << s;
    EXPECT_TRUE(eos) << s;
  }
  EXPECT_TRUE(engine->check_kv_invariants().is_ok());
}

// min_new_tokens cannot hold a finished match open: once the grammar allows nothing but
// the end of sequence, the output ends there (stop), short of min_new_tokens.
TEST_F(StructuredOutput, AFinishedMatchEndsTheOutputBeforeMinTokens) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.max_new_tokens = 40;
  p.min_new_tokens = 30;
  p.grammar = grammar("yes|no");
  const Choices c = run_alone(p, 6, 9);
  ASSERT_TRUE(c.error.is_ok()) << c.error.to_string();
  bool eos = false;
  const std::string s = text(c.tokens[0], &eos);
  EXPECT_TRUE(s == "yes" || s == "no") << s;
  EXPECT_TRUE(eos);
  EXPECT_EQ(c.reasons[0], FinishReason::kStop);
  EXPECT_LT(c.tokens[0].size(), 30u);
}

TEST_F(StructuredOutput, AGrammarForAnotherVocabularyIsRejected) {
  auto other = std::make_shared<constrained::TokenVocab>(std::vector<std::optional<std::string>>{"a"}, 100);
  auto g = constrained::Grammar::compile({constrained::Constraint::Kind::kRegex, "a+", "regex"}, other);
  ASSERT_TRUE(g.is_ok());
  SamplingParams p;
  p.grammar = *g;
  auto engine = make_engine(testing::cpu_engine_options());
  auto h = engine->submit({"", {5, 6, 7}, p});
  ASSERT_FALSE(h.is_ok());
  EXPECT_EQ(h.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(h.status().message().find("vocabulary"), std::string::npos) << h.status().message();
}

}  // namespace
}  // namespace radix
