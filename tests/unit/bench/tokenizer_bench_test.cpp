// bench tokenizer: the corpus is deterministic and mixed, radix's pass is timed, and (when
// scripts/test-setup.sh installed the npm reference) the HF side agrees on every id.
#include "bench/tokenizer_bench.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace radix {
namespace {

const std::string kSource = RADIX_SOURCE_DIR;
const std::string kTokenizer = kSource + "/models/default";

// A small run on the bundled tokenizer: `mb` of corpus, `passes` passes, no reference.
TokenizerBenchOptions small_run(double mb, int passes) {
  TokenizerBenchOptions o;
  o.tokenizer = kTokenizer;
  o.source_dir = kSource;
  o.corpus_mb = mb;
  o.iterations = passes;
  o.reference = false;
  return o;
}

TEST(TokenizerBenchCorpus, IsTheSameForTheSameSeedAndDiffersForAnother) {
  auto a = build_mixed_corpus(kSource, 200000, 1);
  auto b = build_mixed_corpus(kSource, 200000, 1);
  auto c = build_mixed_corpus(kSource, 200000, 2);
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  ASSERT_TRUE(b.is_ok() && c.is_ok());
  EXPECT_GE(a->bytes, 200000u);
  EXPECT_LT(a->bytes, 200000u + 64 * 1024);  // overshoots by at most a document or so
  EXPECT_EQ(a->hash, b->hash);
  EXPECT_EQ(a->docs, b->docs);
  EXPECT_NE(a->hash, c->hash);
}

TEST(TokenizerBenchCorpus, MixesMultilingualTextChatAndCode) {
  auto corpus = build_mixed_corpus(kSource, 300000, 1);
  ASSERT_TRUE(corpus.is_ok()) << corpus.status().to_string();
  std::string all;
  for (const auto& d : corpus->docs) all += d;
  EXPECT_NE(all.find("\xe4\xbd\xa0\xe5\xa5\xbd"), std::string::npos);  // 你好 (parity corpus)
  EXPECT_NE(all.find("\"role\""), std::string::npos) << "no chat fixture text";
  EXPECT_NE(all.find("TEST("), std::string::npos) << "no C++ sources";
  for (const auto& d : corpus->docs) {
    EXPECT_GE(d.size(), 1024u);
  }
}

TEST(TokenizerBenchCorpus, ReadsJsonlAndPlainTextFiles) {
  const auto dir = std::filesystem::temp_directory_path();
  const std::string jsonl = (dir / "radix_bench_corpus_test.jsonl").string();
  const std::string text = (dir / "radix_bench_corpus_test.txt").string();
  std::ofstream(jsonl) << "\"a b\"\n\"\\u4f60\\u597d\"\n";
  std::ofstream(text) << "line one\nline two\n";
  auto j = load_corpus_file(jsonl);
  ASSERT_TRUE(j.is_ok()) << j.status().to_string();
  EXPECT_EQ(j->docs, (std::vector<std::string>{"a b", "\xe4\xbd\xa0\xe5\xa5\xbd"}));
  EXPECT_EQ(j->bytes, 9u);
  auto t = load_corpus_file(text);
  ASSERT_TRUE(t.is_ok());
  EXPECT_EQ(t->docs, (std::vector<std::string>{"line one\nline two\n"}));
  std::ofstream(jsonl) << "[1, 2]\n";
  EXPECT_EQ(load_corpus_file(jsonl).status().code(), StatusCode::kInvalidArgument);
  std::remove(jsonl.c_str());
  std::remove(text.c_str());
}

TEST(TokenizerBenchCorpus, SavedCorpusReloadsAsTheSameDocuments) {
  const std::string saved =
      (std::filesystem::temp_directory_path() / "radix_bench_saved_corpus.jsonl").string();
  TokenizerBenchOptions o = small_run(0.05, 1);
  o.save_corpus = saved;
  auto r = run_tokenizer_bench(o);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  auto reloaded = load_corpus_file(saved);
  ASSERT_TRUE(reloaded.is_ok()) << reloaded.status().to_string();
  EXPECT_EQ(reloaded->hash, r->corpus.hash);
  EXPECT_EQ(reloaded->bytes, r->corpus.bytes);
  EXPECT_EQ(reloaded->docs.size(), r->num_docs);
  std::remove(saved.c_str());
}

TEST(TokenizerBenchIds, HashIsFnv1aOverIdWords) {
  EXPECT_EQ(hash_ids({}), 0x811C9DC5u);
  EXPECT_EQ(hash_ids({7}), (0x811C9DC5u ^ 7u) * 0x01000193u);
  EXPECT_NE(hash_ids({1, 2}), hash_ids({2, 1}));
}

TEST(TokenizerBench, TimesEveryPassAndReportsThroughput) {
  auto r = run_tokenizer_bench(small_run(0.05, 2));
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->radix.seconds.size(), 2u);
  EXPECT_GT(r->radix.tokens, 0);
  EXPECT_GT(r->radix.mb_per_s(r->corpus.bytes), 0);
  EXPECT_EQ(r->mismatched_docs, -1);
  EXPECT_NE(r->table().find("MB/s"), std::string::npos);
  EXPECT_FALSE(r->to_json().contains("hf_encode"));
}

TEST(TokenizerBench, RejectsBadOptions) {
  TokenizerBenchOptions o;
  o.tokenizer = kTokenizer;
  o.reference = false;
  o.iterations = 0;
  EXPECT_EQ(run_tokenizer_bench(o).status().code(), StatusCode::kInvalidArgument);
  o.iterations = 1;
  o.tokenizer = kSource + "/no/such/dir";
  EXPECT_EQ(run_tokenizer_bench(o).status().code(), StatusCode::kNotFound);
}

TEST(TokenizerBench, AgreesWithHuggingFaceOnEveryDocument) {
  if (!std::filesystem::exists(kSource + "/tests/e2e/node_modules/@anush008/tokenizers") ||
      std::system("node --version > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "node or the npm reference is missing (scripts/test-setup.sh)";
  }
  TokenizerBenchOptions o = small_run(0.1, 1);
  o.reference = true;
  auto r = run_tokenizer_bench(o);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_TRUE(r->hf_encode.has_value());
  EXPECT_EQ(r->mismatched_docs, 0) << r->table();
  EXPECT_EQ(r->hf_encode->tokens, r->radix.tokens);
  EXPECT_EQ(r->hf_encode_batch->tokens, r->radix.tokens);
  EXPECT_NE(r->table().find("HF encodeBatch"), std::string::npos);
}

}  // namespace
}  // namespace radix
