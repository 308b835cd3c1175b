// `radix bench tokenizer`: encode throughput of radix's tokenizer against Hugging Face
// `tokenizers` on the same corpus (bench/tokenizer_bench.h).
//
//   radix bench tokenizer --tokenizer DIR [--corpus-mb 20] [--iterations 3]
//                         [--corpus FILE] [--no-reference] [--output-file results.jsonl]
#include <cstdio>

#include "bench/tokenizer_bench.h"
#include "cli/commands.h"

namespace radix::cli {

void register_bench_tokenizer(CLI::App* bench, Runner* run) {
  auto* cmd = bench->add_subcommand(
      "tokenizer",
      "Single-thread encode throughput (MB/s) vs Hugging Face tokenizers, same corpus");
  static TokenizerBenchOptions o;
  static bool no_reference = false, no_special = false;
  cmd->add_option("--tokenizer", o.tokenizer, "Directory with tokenizer.json, or the file")
      ->required();
  cmd->add_option("--corpus-mb", o.corpus_mb, "Size of the built mixed corpus in MB")
      ->capture_default_str();
  cmd->add_option("--iterations", o.iterations, "Passes over the corpus (median reported)")
      ->capture_default_str();
  cmd->add_option("--corpus", o.corpus_file, "Your own corpus: JSONL of strings, or plain text");
  cmd->add_option("--source-dir", o.source_dir,
                  "The radix checkout (found from the cwd or the binary)");
  cmd->add_option("--seed", o.seed, "Seed of the corpus shuffle")->capture_default_str();
  cmd->add_option("--node", o.node, "node executable for the reference")->capture_default_str();
  cmd->add_flag("--no-reference", no_reference, "Do not run HF tokenizers (no node needed)");
  cmd->add_flag("--no-special", no_special, "Encode without special tokens (no BOS)");
  cmd->add_option("--output-file", o.output_file, "Append the result as one JSON line");
  cmd->add_option("--save-corpus", o.save_corpus,
                  "Write the corpus as JSONL (rerun it with --corpus)");
  cmd->callback([run] {
    *run = [] {
      o.reference = !no_reference;
      o.add_special_tokens = !no_special;
      auto r = run_tokenizer_bench(o);
      if (!r.is_ok()) {
        std::fprintf(stderr, "radix bench tokenizer: %s\n", r.status().to_string().c_str());
        return 1;
      }
      std::fputs(r->table().c_str(), stdout);
      return r->mismatched_docs > 0 ? 3 : 0;
    };
  });
}

}  // namespace radix::cli
