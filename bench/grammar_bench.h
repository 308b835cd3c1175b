// `radix bench grammar`: what structured output costs on the host for one tokenizer and
// one constraint — building the byte-sorted vocabulary, compiling the constraint (JSON
// schema -> regex -> DFA), and the allowed-token mask of a DFA state: computed the first
// time a request reaches the state (a walk over the sorted vocabulary), a cached lookup
// after that. Random walks through the grammar (a random allowed token each step, JSON
// punctuation preferred half the time so strings and objects close) visit the states.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace radix {

struct GrammarBenchOptions {
  std::string tokenizer;  // a directory with tokenizer.json, or the file
  std::string regex;      // one of regex / json_schema (text) / json_object
  std::string json_schema;
  bool json_object = false;
  int walks = 20;
  int max_tokens = 256;  // per walk
  uint64_t seed = 1;
};

struct GrammarBenchResult {
  int64_t vocab = 0;
  double vocab_ms = 0;    // TokenVocab::from_tokenizer
  double compile_ms = 0;  // Grammar::compile (schema -> regex -> DFA)
  int64_t regex_bytes = 0;
  int64_t dfa_states = 0;
  int64_t steps = 0;        // tokens walked
  int64_t new_states = 0;   // masks computed
  double mask_ms_mean = 0;  // per computed mask
  double mask_ms_max = 0;
  double lookup_us_mean = 0;  // per cached lookup
  int64_t full_texts = 0;     // walks that ended at a full match
  std::string table() const;
};

Result<GrammarBenchResult> run_grammar_bench(const GrammarBenchOptions& o);

}  // namespace radix
