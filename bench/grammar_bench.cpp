#include "bench/grammar_bench.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <sstream>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "runtime/constrained/grammar.h"
#include "tokenizer/tokenizer.h"

namespace radix {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

}  // namespace

std::string GrammarBenchResult::table() const {
  std::ostringstream s;
  s << fmt::format("vocabulary            {:>10} tokens, sorted by bytes in {:.1f} ms\n", vocab, vocab_ms);
  s << fmt::format("compile               {:>10.2f} ms (regex {} bytes, {} DFA states)\n", compile_ms, regex_bytes,
                   dfa_states);
  s << fmt::format("mask, first visit     {:>10.3f} ms mean, {:.3f} ms max over {} states\n", mask_ms_mean, mask_ms_max,
                   new_states);
  s << fmt::format("mask, cached lookup   {:>10.3f} us mean over {} steps\n", lookup_us_mean, steps);
  s << fmt::format("walks ending at a full match: {}\n", full_texts);
  return s.str();
}

Result<GrammarBenchResult> run_grammar_bench(const GrammarBenchOptions& o) {
  using constrained::Constraint;
  const int given = (o.regex.empty() ? 0 : 1) + (o.json_schema.empty() ? 0 : 1) + (o.json_object ? 1 : 0);
  if (given != 1) return invalid_argument("give exactly one of --regex, --json-schema, --json-object");
  if (o.walks < 1 || o.max_tokens < 1) return invalid_argument("--walks and --max-tokens must be >= 1");
  auto tok = o.tokenizer.size() > 5 && o.tokenizer.ends_with(".json") ? Tokenizer::from_file(o.tokenizer)
                                                                       : Tokenizer::from_dir(o.tokenizer);
  if (!tok.is_ok()) return tok.status();
  GrammarBenchResult r;
  r.vocab = (*tok)->vocab_size();
  auto t0 = Clock::now();
  auto vocab = constrained::TokenVocab::from_tokenizer(**tok, (*tok)->vocab_size());
  r.vocab_ms = ms_since(t0);
  Constraint c;
  if (!o.regex.empty()) c = {Constraint::Kind::kRegex, o.regex, "--regex"};
  if (!o.json_schema.empty()) c = {Constraint::Kind::kJsonSchema, o.json_schema, "--json-schema"};
  if (o.json_object) c = {Constraint::Kind::kJsonObject, "", "--json-object"};
  t0 = Clock::now();
  auto g = constrained::Grammar::compile(c, vocab);
  r.compile_ms = ms_since(t0);
  if (!g.is_ok()) return g.status();
  const constrained::Grammar& gr = **g;
  r.regex_bytes = static_cast<int64_t>(gr.regex().size());
  r.dfa_states = gr.num_states();

  std::mt19937_64 rng(o.seed);
  std::unordered_set<int32_t> seen;
  double mask_ms = 0, lookup_us = 0;
  int64_t lookups = 0;
  std::vector<int32_t> ok, punct;
  for (int w = 0; w < o.walks; ++w) {
    int32_t s = gr.start();
    for (int step = 0; step < o.max_tokens; ++step) {
      const bool fresh = seen.insert(s).second;
      t0 = Clock::now();
      const std::vector<uint64_t>& mask = gr.allowed(s);
      const double t = ms_since(t0);
      if (fresh) {
        mask_ms += t;
        r.mask_ms_max = std::max(r.mask_ms_max, t);
        ++r.new_states;
      } else {
        lookup_us += 1e3 * t;
        ++lookups;
      }
      ok.clear();
      punct.clear();
      for (int32_t id = 0; id < vocab->vocab_size(); ++id) {
        if (((mask[static_cast<size_t>(id) / 64] >> (id % 64)) & 1u) == 0) continue;
        ok.push_back(id);
        if (vocab->bytes_of(id).find_first_of("\"{}[],:") != std::string::npos) punct.push_back(id);
      }
      if (gr.accepting(s) && (ok.empty() || rng() % 4 == 0)) {
        ++r.full_texts;
        break;
      }
      if (ok.empty()) break;
      const int32_t id = !punct.empty() && rng() % 2 == 0 ? punct[rng() % punct.size()] : ok[rng() % ok.size()];
      s = gr.advance(s, id);
      ++r.steps;
    }
  }
  r.mask_ms_mean = r.new_states > 0 ? mask_ms / static_cast<double>(r.new_states) : 0;
  r.lookup_us_mean = lookups > 0 ? lookup_us / static_cast<double>(lookups) : 0;
  return r;
}

}  // namespace radix
