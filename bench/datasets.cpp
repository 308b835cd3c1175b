#include "bench/datasets.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include "core/file_util.h"
#include "tokenizer/tokenizer.h"

namespace radix::bench {
namespace {

using nlohmann::json;

int uniform_int(std::mt19937_64& rng, int low, int high) {
  return std::uniform_int_distribution<int>(low, high)(rng);
}

Status check_positive(int value, const char* flag) {
  if (value < 1) return invalid_argument(std::string(flag) + " must be >= 1");
  return Status::ok();
}

// A log-normal draw with the given mean (not median): mu = ln(mean) - sigma^2 / 2.
int lognormal_len(std::mt19937_64& rng, double mean, double sigma, int min_len, int max_len) {
  std::lognormal_distribution<double> dist(std::log(mean) - sigma * sigma / 2, sigma);
  for (;;) {
    const double x = std::round(dist(rng));
    if (x >= min_len && x <= max_len) return static_cast<int>(x);
  }
}

}  // namespace

bool keep_sharegpt_pair(int prompt_len, int output_len, const DatasetOptions& o) {
  if (prompt_len < 4 || output_len < 4) return false;
  if (o.sharegpt_context_len > 0) return prompt_len + output_len <= o.sharegpt_context_len;
  return prompt_len <= 1024 && (o.sharegpt_output_len > 0 || prompt_len + output_len <= 2048);
}

std::pair<int, int> random_len_bounds(int len, double range_ratio) {
  const int scaled = static_cast<int>(len * range_ratio);  // Python int(): toward zero
  return {std::max(scaled, 1), len};
}

std::vector<int32_t> random_token_ids(const Tokenizer& tok, int n, std::mt19937_64& rng) {
  std::vector<int32_t> out;
  out.reserve(static_cast<size_t>(std::max(n, 0)));
  const int32_t vocab = tok.vocab_size();
  while (static_cast<int>(out.size()) < n) {
    const auto id = static_cast<int32_t>(uniform_int(rng, 0, vocab - 1));
    if (!tok.is_special(id) && !tok.id_to_token(id).empty()) out.push_back(id);
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> read_sharegpt_pairs(
    const std::string& path) {
  RADIX_ASSIGN_OR_RETURN(std::string text, read_file(path));
  json data = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (data.is_discarded() || !data.is_array()) {
    return invalid_argument(path + ": not a ShareGPT-format JSON array");
  }
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const json& item : data) {
    if (!item.is_object()) continue;
    const json* turns = nullptr;
    if (item.contains("conversations")) {
      turns = &item["conversations"];
    } else if (item.contains("conversation")) {
      turns = &item["conversation"];
    }
    if (!turns || !turns->is_array() || turns->size() < 2) continue;
    auto value = [](const json& turn) -> const json* {
      if (!turn.is_object()) return nullptr;
      for (const char* key : {"value", "content"}) {
        if (turn.contains(key) && turn[key].is_string()) return &turn[key];
      }
      return nullptr;
    };
    const json* prompt = value((*turns)[0]);
    const json* reply = value((*turns)[1]);
    if (!prompt || !reply) continue;
    pairs.emplace_back(prompt->get<std::string>(), reply->get<std::string>());
  }
  return pairs;
}

Result<std::vector<DatasetRow>> sample_random(const DatasetOptions& o, const Tokenizer& tok,
                                              std::mt19937_64& rng) {
  RADIX_RETURN_IF_ERROR(check_positive(o.random_input_len, "--random-input-len"));
  RADIX_RETURN_IF_ERROR(check_positive(o.random_output_len, "--random-output-len"));
  if (!(o.random_range_ratio >= 0.0 && o.random_range_ratio <= 1.0)) {
    return invalid_argument("--random-range-ratio must be in [0, 1]");
  }
  const auto [in_lo, in_hi] = random_len_bounds(o.random_input_len, o.random_range_ratio);
  const auto [out_lo, out_hi] = random_len_bounds(o.random_output_len, o.random_range_ratio);
  std::vector<DatasetRow> rows(static_cast<size_t>(o.num_prompts));
  for (auto& r : rows) r.prompt_len = uniform_int(rng, in_lo, in_hi);
  for (auto& r : rows) r.output_len = uniform_int(rng, out_lo, out_hi);

  if (o.name == "random" && !o.path.empty()) {
    // SGLang's `random` with a ShareGPT file: real prompts' token ids, repeated or cut
    // to each sampled length.
    RADIX_ASSIGN_OR_RETURN(auto pairs, read_sharegpt_pairs(o.path));
    std::shuffle(pairs.begin(), pairs.end(), rng);
    size_t next = 0;
    for (auto& r : rows) {
      std::vector<int32_t> source;
      while (source.empty() && next < pairs.size()) source = tok.encode(pairs[next++].first);
      if (source.empty())
        return invalid_argument(o.path + ": too few non-empty prompts for --num-prompts");
      r.prompt_ids.clear();
      while (static_cast<int>(r.prompt_ids.size()) < r.prompt_len) {
        r.prompt_ids.insert(r.prompt_ids.end(), source.begin(), source.end());
      }
      r.prompt_ids.resize(static_cast<size_t>(r.prompt_len));
    }
  } else {
    for (auto& r : rows) r.prompt_ids = random_token_ids(tok, r.prompt_len, rng);
  }
  for (auto& r : rows) r.prompt = tok.decode(r.prompt_ids);
  return rows;
}

Result<std::vector<DatasetRow>> sample_sharegpt_file(const DatasetOptions& o, const Tokenizer& tok,
                                                     std::mt19937_64& rng) {
  if (o.sharegpt_output_len != 0 && o.sharegpt_output_len < 4) {
    return invalid_argument("--sharegpt-output-len must be >= 4");
  }
  RADIX_ASSIGN_OR_RETURN(auto pairs, read_sharegpt_pairs(o.path));
  std::shuffle(pairs.begin(), pairs.end(), rng);
  std::vector<DatasetRow> rows;
  for (const auto& [prompt, reply] : pairs) {
    if (static_cast<int>(rows.size()) == o.num_prompts) break;
    DatasetRow r;
    r.prompt = prompt;
    r.prompt_ids = tok.encode(prompt);
    r.prompt_len = static_cast<int>(r.prompt_ids.size());
    r.output_len = o.sharegpt_output_len > 0 ? o.sharegpt_output_len
                                             : static_cast<int>(tok.encode(reply).size());
    if (!keep_sharegpt_pair(r.prompt_len, r.output_len, o)) continue;  // too short or long
    rows.push_back(std::move(r));
  }
  if (rows.empty())
    return invalid_argument(o.path + ": no conversation passed the ShareGPT filter");
  return rows;
}

Result<std::vector<DatasetRow>> sample_synthetic_sharegpt(const DatasetOptions& o,
                                                          const Tokenizer& tok,
                                                          std::mt19937_64& rng,
                                                          const SyntheticShareGptFit& fit) {
  if (o.sharegpt_output_len != 0 && o.sharegpt_output_len < 4) {
    return invalid_argument("--sharegpt-output-len must be >= 4");
  }
  if (o.sharegpt_context_len != 0 && o.sharegpt_context_len < 4) {
    return invalid_argument("--sharegpt-context-len must be >= 4");
  }
  std::vector<DatasetRow> rows(static_cast<size_t>(o.num_prompts));
  for (auto& r : rows) {
    // Redraw pairs the filter would drop, as it skips them in the file.
    do {
      r.prompt_len = lognormal_len(rng, fit.input_raw_mean, fit.input_sigma, 1, fit.max_len);
      r.output_len = o.sharegpt_output_len > 0
                         ? o.sharegpt_output_len
                         : lognormal_len(rng, fit.output_raw_mean, fit.output_sigma, 1, fit.max_len);
    } while (!keep_sharegpt_pair(r.prompt_len, r.output_len, o));
    r.prompt_ids = random_token_ids(tok, r.prompt_len, rng);
    r.prompt = tok.decode(r.prompt_ids);
  }
  return rows;
}

Result<std::vector<DatasetRow>> sample_generated_shared_prefix(const DatasetOptions& o,
                                                               const Tokenizer& tok,
                                                               std::mt19937_64& rng) {
  RADIX_RETURN_IF_ERROR(check_positive(o.gsp_num_groups, "--gsp-num-groups"));
  RADIX_RETURN_IF_ERROR(check_positive(o.gsp_prompts_per_group, "--gsp-prompts-per-group"));
  RADIX_RETURN_IF_ERROR(check_positive(o.gsp_system_prompt_len, "--gsp-system-prompt-len"));
  RADIX_RETURN_IF_ERROR(check_positive(o.gsp_question_len, "--gsp-question-len"));
  RADIX_RETURN_IF_ERROR(check_positive(o.gsp_output_len, "--gsp-output-len"));
  // As SGLang: all system prompts, then all questions, each random tokens decoded to
  // text; a prompt is "<system>\n\n<question>". The ids are the concatenation of the
  // pieces' ids, so rows of a group share the system prompt's ids exactly.
  std::vector<std::vector<int32_t>> systems, questions;
  for (int g = 0; g < o.gsp_num_groups; ++g) {
    systems.push_back(random_token_ids(tok, o.gsp_system_prompt_len, rng));
  }
  for (int q = 0; q < o.gsp_num_groups * o.gsp_prompts_per_group; ++q) {
    questions.push_back(random_token_ids(tok, o.gsp_question_len, rng));
  }
  const std::vector<int32_t> separator = tok.encode("\n\n", /*add_special_tokens=*/false);
  std::vector<DatasetRow> rows;
  for (int g = 0; g < o.gsp_num_groups; ++g) {
    const std::string system_text = tok.decode(systems[static_cast<size_t>(g)]);
    for (int p = 0; p < o.gsp_prompts_per_group; ++p) {
      const auto& question = questions[static_cast<size_t>(g * o.gsp_prompts_per_group + p)];
      DatasetRow r;
      r.group = g;
      r.prompt = system_text + "\n\n" + tok.decode(question);
      r.prompt_ids = systems[static_cast<size_t>(g)];
      r.prompt_ids.insert(r.prompt_ids.end(), separator.begin(), separator.end());
      r.prompt_ids.insert(r.prompt_ids.end(), question.begin(), question.end());
      r.prompt_len = static_cast<int>(tok.encode(r.prompt).size());  // SGLang: encode(full)
      r.output_len = o.gsp_output_len;
      rows.push_back(std::move(r));
    }
  }
  std::shuffle(rows.begin(), rows.end(), rng);
  return rows;
}

Result<std::vector<DatasetRow>> build_dataset(const DatasetOptions& o, const Tokenizer& tok) {
  std::mt19937_64 rng(o.seed);
  if (o.name == "generated-shared-prefix") return sample_generated_shared_prefix(o, tok, rng);
  RADIX_RETURN_IF_ERROR(check_positive(o.num_prompts, "--num-prompts"));
  if (o.name == "random" || o.name == "random-ids") return sample_random(o, tok, rng);
  if (o.name == "sharegpt") {
    return o.path.empty() ? sample_synthetic_sharegpt(o, tok, rng)
                          : sample_sharegpt_file(o, tok, rng);
  }
  return invalid_argument("--dataset-name '" + o.name +
                          "' is not one of random, random-ids, sharegpt, generated-shared-prefix");
}

}  // namespace radix::bench
