// `radix bench tokenizer`: single-thread encode throughput of radix's tokenizer
// (tokenizer/) on a large mixed corpus, against Hugging Face `tokenizers` (the npm native
// binding @anush008/tokenizers, run by tools/bench/tokenizers_ref.mjs) on the same corpus
// in the same run, with a check that both produce the same ids.
//
// The default corpus is built deterministically from files committed under tests/
// (the tokenizer parity corpus: multilingual text, emoji, whitespace runs, digits,
// special-token strings; chat conversations and template fixtures; C++ and JavaScript
// sources), cut into paragraphs, shuffled and packed into documents of 1-8 KB until it
// reaches the requested size. Both sides encode one document per call.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace radix {

struct TokenizerBenchOptions {
  std::string tokenizer;    // a directory with tokenizer.json, or a tokenizer.json
  std::string corpus_file;  // JSONL of strings (or plain text); empty: the mixed corpus
  std::string source_dir;   // the radix checkout (tests/, tools/); empty: searched for
  double corpus_mb = 20;    // size of the built corpus (MB = 1e6 bytes of UTF-8)
  int iterations = 3;       // passes over the corpus; the median pass is reported
  bool add_special_tokens = true;
  bool reference = true;      // also run HF tokenizers through node
  std::string node = "node";  // the node executable
  std::string output_file;    // one JSON line appended when set
  std::string save_corpus;    // writes the corpus here as JSONL (rerun it with corpus_file)
  uint64_t seed = 1;
};

// A list of documents, each encoded by one call.
struct BenchCorpus {
  std::vector<std::string> docs;
  size_t bytes = 0;
  uint32_t hash = 0;        // FNV-1a of the documents, so runs on the same corpus can be matched
  std::string description;  // where it came from
};

// Throughput of one encoder over the corpus.
struct EncodeThroughput {
  std::string label;
  std::vector<double> seconds;  // per pass
  int64_t tokens = 0;           // per pass
  double median_seconds() const;
  double mb_per_s(size_t bytes) const { return bytes / 1e6 / median_seconds(); }
  double tokens_per_s() const { return tokens / median_seconds(); }
};

struct TokenizerBenchResult {
  std::string tokenizer;
  BenchCorpus corpus;  // docs cleared after the run
  size_t num_docs = 0;
  int iterations = 0;
  bool add_special_tokens = true;
  EncodeThroughput radix;
  std::optional<EncodeThroughput> hf_encode;        // one encode() call per document
  std::optional<EncodeThroughput> hf_encode_batch;  // encodeBatch(), TOKENIZERS_PARALLELISM=false
  std::string hf_version;
  int64_t mismatched_docs = -1;  // documents whose ids differ from HF (-1: not compared)
  int64_t first_mismatch = -1;   // index of the first one

  std::string table() const;       // the human-readable report
  nlohmann::json to_json() const;  // the --output-file line
};

// Walks up from `hint` (when set), the working directory and the executable's directory
// to the checkout that holds tests/data/tokenizer/corpus.jsonl.
Result<std::string> find_source_dir(const std::string& hint);

// The mixed corpus (see the file comment): at least target_bytes, same bytes for the same
// sources, size and seed.
Result<BenchCorpus> build_mixed_corpus(const std::string& source_dir, size_t target_bytes,
                                       uint64_t seed);
// A user's corpus: .jsonl files hold one JSON string per line; other files are plain text
// cut into documents of about 4 KB at line ends.
Result<BenchCorpus> load_corpus_file(const std::string& path);

// FNV-1a over the ids as 32-bit words; tools/bench/tokenizers_ref.mjs computes the same.
uint32_t hash_ids(const std::vector<int32_t>& ids);

Result<TokenizerBenchResult> run_tokenizer_bench(const TokenizerBenchOptions& options);

}  // namespace radix
