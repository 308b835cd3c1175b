// `radix bench grammar`: structured output's host costs for one tokenizer and one
// constraint (bench/grammar_bench.h).
//
//   radix bench grammar --tokenizer DIR (--regex R | --json-schema JSON | --json-object)
//                       [--walks 20] [--max-tokens 256] [--seed 1]
#include <cstdio>

#include "bench/grammar_bench.h"
#include "cli/commands.h"

namespace radix::cli {

void register_bench_grammar(CLI::App* bench, Runner* run) {
  auto* cmd = bench->add_subcommand(
      "grammar", "Structured output on the host: vocabulary, compile and per-state mask times");
  static GrammarBenchOptions o;
  cmd->add_option("--tokenizer", o.tokenizer, "Directory with tokenizer.json, or the file")->required();
  cmd->add_option("--regex", o.regex, "The constraint as a regex");
  cmd->add_option("--json-schema", o.json_schema, "The constraint as a JSON schema (its text)");
  cmd->add_flag("--json-object", o.json_object, "Any JSON object (response_format json_object)");
  cmd->add_option("--walks", o.walks, "Random walks through the grammar")->capture_default_str();
  cmd->add_option("--max-tokens", o.max_tokens, "Tokens per walk at most")->capture_default_str();
  cmd->add_option("--seed", o.seed, "Seed of the walks")->capture_default_str();
  cmd->callback([run] {
    *run = [] {
      auto r = run_grammar_bench(o);
      if (!r.is_ok()) {
        std::fprintf(stderr, "radix bench grammar: %s\n", r.status().to_string().c_str());
        return 1;
      }
      std::fputs(r->table().c_str(), stdout);
      return 0;
    };
  });
}

}  // namespace radix::cli
