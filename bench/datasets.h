// Workloads for `radix bench serving`, generated as sglang.bench_serving generates
// them (docs/bench-serving.md): `random` (uniform lengths under SGLang's
// --random-range-ratio, prompts of random token ids decoded to text), `sharegpt` (a
// ShareGPT-format JSON file with SGLang's filter, or a synthetic stand-in whose lengths
// follow ShareGPT's published statistics) and `generated-shared-prefix` (groups of
// prompts sharing one long system prompt). Every choice is driven by one seeded RNG, so a
// seed reproduces the workload exactly.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace radix {

class Tokenizer;

namespace bench {

// One request of the workload. Text backends send `prompt`; the native backend sends
// `prompt_ids` when asked to (--tokenize-prompt).
struct DatasetRow {
  std::string prompt;
  std::vector<int32_t> prompt_ids;
  int prompt_len = 0;  // SGLang's prompt_len: the tokens this row stands for
  int output_len = 0;  // max_tokens of the request
  int group = -1;      // generated-shared-prefix: index of the shared system prompt
};

struct DatasetOptions {
  std::string name = "sharegpt";  // random | random-ids | sharegpt | generated-shared-prefix
  std::string path;               // ShareGPT-format JSON (sharegpt; token source for random)
  int num_prompts = 1000;
  uint64_t seed = 1;
  int random_input_len = 1024;
  int random_output_len = 1024;
  double random_range_ratio = 0.0;
  int sharegpt_output_len = 0;   // > 0: overrides every output length
  int sharegpt_context_len = 0;  // > 0: drops pairs whose prompt + output exceed it
  int gsp_num_groups = 64;
  int gsp_prompts_per_group = 16;
  int gsp_system_prompt_len = 2048;
  int gsp_question_len = 128;
  int gsp_output_len = 256;
};

// The synthetic ShareGPT stand-in: log-normal prompt and output lengths, redrawn until
// keep_sharegpt_pair accepts them, whose means after that filter are the published
// means (input_mean, output_mean; docs/bench-serving.md gives the sources). The raw
// means of the log-normals that achieve it were found by tools/bench/calibrate_sharegpt.py.
struct SyntheticShareGptFit {
  double input_mean = 227.0;   // after the filter (the target)
  double output_mean = 190.0;
  double input_raw_mean = 384.8;  // of the log-normal before the filter
  double output_raw_mean = 193.9;
  double input_sigma = 1.3;  // of ln(length)
  double output_sigma = 0.9;
  int max_len = 8192;  // longer draws are redrawn
};

// SGLang v0.3's ShareGPT filter (bench_serving's sample_sharegpt_requests): drops pairs
// with fewer than 4 tokens on either side, prompts over 1024 tokens, and pairs over 2048
// tokens unless the output length is fixed (--sharegpt-output-len). With
// --sharegpt-context-len N the two caps become prompt + output <= N (later SGLang).
bool keep_sharegpt_pair(int prompt_len, int output_len, const DatasetOptions& options);

// Inclusive [low, high] of SGLang's random lengths: [max(int(len * ratio), 1), len].
// SGLang lets outputs reach int(len * ratio), i.e. 0 at its default ratio 0; we keep
// outputs >= 1 too (a request for zero tokens measures nothing).
std::pair<int, int> random_len_bounds(int len, double range_ratio);

// Builds the workload named by options.name. Errors (bad sizes, unreadable or malformed
// files, an empty filter result) carry a message naming the flag or file.
Result<std::vector<DatasetRow>> build_dataset(const DatasetOptions& options, const Tokenizer& tok);

// The individual generators (build_dataset dispatches to them).
Result<std::vector<DatasetRow>> sample_random(const DatasetOptions& options, const Tokenizer& tok,
                                              std::mt19937_64& rng);
Result<std::vector<DatasetRow>> sample_sharegpt_file(const DatasetOptions& options,
                                                     const Tokenizer& tok, std::mt19937_64& rng);
Result<std::vector<DatasetRow>> sample_synthetic_sharegpt(const DatasetOptions& options,
                                                          const Tokenizer& tok,
                                                          std::mt19937_64& rng,
                                                          const SyntheticShareGptFit& fit = {});
Result<std::vector<DatasetRow>> sample_generated_shared_prefix(const DatasetOptions& options,
                                                               const Tokenizer& tok,
                                                               std::mt19937_64& rng);

// The first two turns (prompt, reply) of each conversation with at least two, read from
// a ShareGPT-format JSON array (`conversations` or `conversation`, turns with `value`).
Result<std::vector<std::pair<std::string, std::string>>> read_sharegpt_pairs(
    const std::string& path);

// `n` token ids drawn uniformly from the tokenizer's non-special ids.
std::vector<int32_t> random_token_ids(const Tokenizer& tok, int n, std::mt19937_64& rng);

}  // namespace bench
}  // namespace radix
