// Subcommands of the `radix` binary. Each registers itself on the CLI11 app and
// returns a callback that runs it (exit code) once flags are parsed.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace radix {
struct EngineOptions;
}

namespace radix::cli {

using Runner = std::function<int()>;

// Each adds a subcommand to `app` and stores its runner in `*run` when chosen.
void register_generate(CLI::App& app, Runner* run);
void register_bench(CLI::App& app, Runner* run);
void register_tokenize(CLI::App& app, Runner* run);
void register_chat_template(CLI::App& app, Runner* run);
void register_serve(CLI::App& app, Runner* run);
// Subcommands of `radix bench`, each in its own file (cli/bench_*_cmd.cpp).
void register_bench_serving(CLI::App* bench, Runner* run);
void register_bench_tokenizer(CLI::App* bench, Runner* run);
void register_bench_grammar(CLI::App* bench, Runner* run);

// The engine flags shared by generate, serve and bench one-batch (SGLang names).
void add_engine_flags(CLI::App* cmd, EngineOptions* options);

}  // namespace radix::cli
