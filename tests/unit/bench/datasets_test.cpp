// bench serving workloads: SGLang's length bounds, seed determinism, shared prefixes
// that really are shared, the ShareGPT filter on a small fixture, and the synthetic
// ShareGPT stand-in's fitted means.
#include "bench/datasets.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "tokenizer/tokenizer.h"

namespace radix::bench {
namespace {

const std::string kFixture =
    std::string(RADIX_SOURCE_DIR) + "/tests/data/bench/sharegpt_small.json";

const Tokenizer& tokenizer() {
  static std::shared_ptr<Tokenizer> tok = [] {
    auto t = Tokenizer::from_dir(std::string(RADIX_SOURCE_DIR) + "/models/default");
    EXPECT_TRUE(t.is_ok()) << t.status().to_string();
    return *t;
  }();
  return *tok;
}

DatasetOptions random_options(int in, int out, double ratio) {
  DatasetOptions o;
  o.name = "random";
  o.num_prompts = 200;
  o.random_input_len = in;
  o.random_output_len = out;
  o.random_range_ratio = ratio;
  return o;
}

TEST(RandomDataset, LengthsStayWithinSglangRangeRatioBounds) {
  for (double ratio : {0.0, 0.25, 0.5, 1.0}) {
    auto rows = build_dataset(random_options(64, 40, ratio), tokenizer());
    ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
    ASSERT_EQ(rows->size(), 200u);
    const int in_lo = std::max(static_cast<int>(64 * ratio), 1);
    const int out_lo = std::max(static_cast<int>(40 * ratio), 1);
    int seen_in_min = 1 << 30, seen_in_max = 0;
    for (const auto& r : *rows) {
      EXPECT_GE(r.prompt_len, in_lo);
      EXPECT_LE(r.prompt_len, 64);
      EXPECT_GE(r.output_len, out_lo);
      EXPECT_LE(r.output_len, 40);
      EXPECT_EQ(static_cast<int>(r.prompt_ids.size()), r.prompt_len);
      EXPECT_EQ(r.prompt, tokenizer().decode(r.prompt_ids));
      for (int32_t id : r.prompt_ids) EXPECT_FALSE(tokenizer().is_special(id)) << id;
      seen_in_min = std::min(seen_in_min, r.prompt_len);
      seen_in_max = std::max(seen_in_max, r.prompt_len);
    }
    if (ratio == 1.0) {
      EXPECT_EQ(seen_in_min, 64);
    } else {  // 200 uniform draws cover both ends of the range in practice
      EXPECT_LE(seen_in_min, in_lo + 3);
      EXPECT_GE(seen_in_max, 61);
    }
  }
  EXPECT_EQ(random_len_bounds(1000, 0.5), std::make_pair(500, 1000));
  EXPECT_EQ(random_len_bounds(1000, 0.0), std::make_pair(1, 1000));
  EXPECT_EQ(random_len_bounds(3, 0.3), std::make_pair(1, 3));  // int(0.9) = 0, kept >= 1
}

TEST(RandomDataset, SameSeedSameWorkloadOtherSeedOther) {
  auto o = random_options(32, 16, 0.5);
  auto a = build_dataset(o, tokenizer());
  auto b = build_dataset(o, tokenizer());
  o.seed = 2;
  auto c = build_dataset(o, tokenizer());
  ASSERT_TRUE(a.is_ok() && b.is_ok() && c.is_ok());
  bool all_same_as_c = true;
  for (size_t i = 0; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i].prompt_ids, (*b)[i].prompt_ids);
    EXPECT_EQ((*a)[i].output_len, (*b)[i].output_len);
    all_same_as_c = all_same_as_c && (*a)[i].prompt_ids == (*c)[i].prompt_ids;
  }
  EXPECT_FALSE(all_same_as_c);
}

TEST(RandomDataset, WithAShareGptFileRepeatsOrCutsRealPromptTokens) {
  auto o = random_options(48, 8, 0.0);
  o.path = kFixture;
  o.num_prompts = 5;
  auto rows = build_dataset(o, tokenizer());
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  for (const auto& r : *rows) {
    EXPECT_EQ(static_cast<int>(r.prompt_ids.size()), r.prompt_len);
    EXPECT_EQ(r.prompt, tokenizer().decode(r.prompt_ids));
  }
}

TEST(RandomDataset, RejectsBadFlags) {
  EXPECT_EQ(build_dataset(random_options(0, 8, 0), tokenizer()).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(build_dataset(random_options(8, 8, 1.5), tokenizer()).status().code(),
            StatusCode::kInvalidArgument);
  auto o = random_options(8, 8, 0);
  o.num_prompts = 0;
  EXPECT_EQ(build_dataset(o, tokenizer()).status().code(), StatusCode::kInvalidArgument);
  o = random_options(8, 8, 0);
  o.name = "mmlu";
  EXPECT_EQ(build_dataset(o, tokenizer()).status().code(), StatusCode::kInvalidArgument);
}

DatasetOptions gsp_options() {
  DatasetOptions o;
  o.name = "generated-shared-prefix";
  o.gsp_num_groups = 4;
  o.gsp_prompts_per_group = 5;
  o.gsp_system_prompt_len = 96;
  o.gsp_question_len = 12;
  o.gsp_output_len = 7;
  return o;
}

TEST(SharedPrefixDataset, GroupsShareTheirSystemPromptTokenWise) {
  auto rows = build_dataset(gsp_options(), tokenizer());
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  ASSERT_EQ(rows->size(), 20u);
  std::vector<std::vector<const DatasetRow*>> groups(4);
  for (const auto& r : *rows) {
    ASSERT_GE(r.group, 0);
    ASSERT_LT(r.group, 4);
    groups[static_cast<size_t>(r.group)].push_back(&r);
    EXPECT_EQ(r.output_len, 7);
    EXPECT_EQ(r.prompt_len, static_cast<int>(tokenizer().encode(r.prompt).size()));
  }
  std::set<std::vector<int32_t>> system_prompts;
  for (const auto& g : groups) {
    ASSERT_EQ(g.size(), 5u);
    const std::vector<int32_t> sys(g[0]->prompt_ids.begin(), g[0]->prompt_ids.begin() + 96);
    system_prompts.insert(sys);
    const std::string sys_text = tokenizer().decode(sys);
    const size_t sys_tokens = tokenizer().encode(sys_text).size();
    const std::vector<int32_t> first_text_ids = tokenizer().encode(g[0]->prompt);
    for (const DatasetRow* r : g) {
      // The ids sent with --tokenize-prompt: the same 96 system ids, then the question.
      EXPECT_TRUE(std::equal(sys.begin(), sys.end(), r->prompt_ids.begin()));
      EXPECT_EQ(r->prompt_ids.size(), 96u + tokenizer().encode("\n\n", false).size() + 12u);
      // The text sent otherwise: the server's tokenization of it shares the system
      // prompt's tokens too (all but the boundary token may merge with "\n\n").
      EXPECT_EQ(r->prompt.rfind(sys_text + "\n\n", 0), 0u);
      const std::vector<int32_t> ids = tokenizer().encode(r->prompt);
      size_t common = 0;
      while (common < ids.size() && common < first_text_ids.size() &&
             ids[common] == first_text_ids[common])
        ++common;
      EXPECT_GE(common + 1, sys_tokens);
    }
  }
  EXPECT_EQ(system_prompts.size(), 4u);  // and the groups differ from each other
  // Shuffled: not all of group 0 first.
  bool grouped = true;
  for (size_t i = 0; i < 5; ++i) grouped = grouped && (*rows)[i].group == (*rows)[0].group;
  EXPECT_FALSE(grouped);
}

TEST(SharedPrefixDataset, IsDeterministicForASeed) {
  auto a = build_dataset(gsp_options(), tokenizer());
  auto b = build_dataset(gsp_options(), tokenizer());
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  for (size_t i = 0; i < a->size(); ++i) EXPECT_EQ((*a)[i].prompt, (*b)[i].prompt);
}

TEST(ShareGptFile, ReadsTheFirstTwoTurnsOfConversationsWithAtLeastTwo) {
  auto pairs = read_sharegpt_pairs(kFixture);
  ASSERT_TRUE(pairs.is_ok()) << pairs.status().to_string();
  ASSERT_EQ(pairs->size(), 6u);  // not "one-turn", not "no-conversations"
  EXPECT_EQ((*pairs)[1].first, "Explain what a dictionary is in Python.");  // `conversation` key
  EXPECT_EQ((*pairs)[1].second,
            "A dictionary maps keys to values; lookups by key are fast on average.");
}

std::set<std::string> prompts_of(const std::vector<DatasetRow>& rows) {
  std::set<std::string> out;
  for (const auto& r : rows) out.insert(r.prompt.substr(0, 20));
  return out;
}

TEST(ShareGptFile, AppliesSglangsFilter) {
  DatasetOptions o;
  o.name = "sharegpt";
  o.path = kFixture;
  o.num_prompts = 100;
  auto rows = build_dataset(o, tokenizer());
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  // Short prompts and short replies (< 4 tokens) are pruned.
  EXPECT_EQ(prompts_of(*rows),
            (std::set<std::string>{"Write a Python funct", "Explain what a dicti",
                                   "import os\nimport sys", "How do I read a file"}));
  int long_total = 0;
  for (const auto& r : *rows) {
    EXPECT_EQ(r.prompt_len, static_cast<int>(tokenizer().encode(r.prompt).size()));
    EXPECT_EQ(r.prompt_ids, tokenizer().encode(r.prompt));
    EXPECT_GE(r.prompt_len, 4);
    EXPECT_GE(r.output_len, 4);
    if (r.prompt.starts_with("import os")) long_total = r.prompt_len + r.output_len;
  }
  ASSERT_GT(long_total, 60);

  // The context filter drops pairs longer than the context; fewer prompts than asked
  // for are what the file has.
  o.sharegpt_context_len = long_total - 1;
  rows = build_dataset(o, tokenizer());
  ASSERT_TRUE(rows.is_ok());
  EXPECT_EQ(rows->size(), 3u);
  EXPECT_EQ(prompts_of(*rows).count("import os\nimport sys"), 0u);

  // --num-prompts stops early; --sharegpt-output-len overrides every output length.
  o = DatasetOptions{};
  o.path = kFixture;
  o.num_prompts = 2;
  o.sharegpt_output_len = 9;
  rows = build_dataset(o, tokenizer());
  ASSERT_TRUE(rows.is_ok());
  ASSERT_EQ(rows->size(), 2u);
  for (const auto& r : *rows) EXPECT_EQ(r.output_len, 9);
}

TEST(ShareGptFilter, IsSglangV03sByDefaultAndTheContextCapWhenGiven) {
  DatasetOptions o;
  EXPECT_TRUE(keep_sharegpt_pair(4, 4, o));
  EXPECT_FALSE(keep_sharegpt_pair(3, 100, o));   // too short
  EXPECT_FALSE(keep_sharegpt_pair(100, 3, o));
  EXPECT_TRUE(keep_sharegpt_pair(1024, 1024, o));
  EXPECT_FALSE(keep_sharegpt_pair(1025, 10, o));  // prompt over 1024
  EXPECT_FALSE(keep_sharegpt_pair(1000, 1049, o));  // pair over 2048
  o.sharegpt_output_len = 1500;                   // a fixed output length lifts the pair cap
  EXPECT_TRUE(keep_sharegpt_pair(1000, 1500, o));
  EXPECT_FALSE(keep_sharegpt_pair(1025, 1500, o));
  o = DatasetOptions{};
  o.sharegpt_context_len = 4096;  // later SGLang: one cap on prompt + output
  EXPECT_TRUE(keep_sharegpt_pair(3000, 1000, o));
  EXPECT_FALSE(keep_sharegpt_pair(3000, 1100, o));
}

TEST(ShareGptFile, ReportsMissingAndMalformedFiles) {
  DatasetOptions o;
  o.path = "/nonexistent/sharegpt.json";
  EXPECT_EQ(build_dataset(o, tokenizer()).status().code(), StatusCode::kNotFound);
  o.path = std::string(RADIX_SOURCE_DIR) + "/models/default/tokenizer_config.json";  // an object
  EXPECT_EQ(build_dataset(o, tokenizer()).status().code(), StatusCode::kInvalidArgument);
}

TEST(SyntheticShareGpt, MatchesThePublishedMeansAndIsDeterministic) {
  DatasetOptions o;
  o.name = "sharegpt";
  o.num_prompts = 4000;
  auto rows = build_dataset(o, tokenizer());
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  double in = 0, out = 0;
  for (const auto& r : *rows) {
    EXPECT_TRUE(keep_sharegpt_pair(r.prompt_len, r.output_len, o)) << r.prompt_len << " + " << r.output_len;
    EXPECT_EQ(static_cast<int>(r.prompt_ids.size()), r.prompt_len);
    in += r.prompt_len;
    out += r.output_len;
  }
  const SyntheticShareGptFit fit;
  EXPECT_NEAR(in / 4000, fit.input_mean, 0.08 * fit.input_mean);
  EXPECT_NEAR(out / 4000, fit.output_mean, 0.08 * fit.output_mean);
  // Long-tailed like the real data: the median sits well below the mean.
  std::vector<int> lens;
  for (const auto& r : *rows) lens.push_back(r.prompt_len);
  std::nth_element(lens.begin(), lens.begin() + 2000, lens.end());
  EXPECT_LT(lens[2000], 0.7 * fit.input_mean);  // 0.63 with the filter (raw log-normal: 0.43)

  o.num_prompts = 50;
  o.sharegpt_context_len = 256;
  auto a = build_dataset(o, tokenizer());
  auto b = build_dataset(o, tokenizer());
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  for (size_t i = 0; i < a->size(); ++i) {
    EXPECT_LE((*a)[i].prompt_len + (*a)[i].output_len, 256);
    EXPECT_EQ((*a)[i].prompt_ids, (*b)[i].prompt_ids);
  }
}

}  // namespace
}  // namespace radix::bench
