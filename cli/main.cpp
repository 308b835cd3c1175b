// radix: entry point. Parses the subcommand (DESIGN.md §1) and runs it.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"radix: a native LLM serving engine"};
  app.require_subcommand(1);
  radix::cli::Runner run;
  radix::cli::register_generate(app, &run);
  radix::cli::register_tokenize(app, &run);
  radix::cli::register_chat_template(app, &run);
  radix::cli::register_serve(app, &run);
  radix::cli::register_bench(app, &run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return run ? run() : 1;
}
