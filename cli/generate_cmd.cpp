// `radix generate`: offline generation without a server (placeholder until the model lands).
#include <cstdio>
#include <string>

#include "cli/commands.h"

namespace radix::cli {

void register_generate(CLI::App& app, Runner* run) {
  auto* cmd = app.add_subcommand("generate", "Generate text offline (no server)");
  static std::string model_path;
  cmd->add_option("--model-path", model_path, "Model directory")->required();
  cmd->callback([run] {
    *run = [] {
      std::fprintf(stderr, "generate: not implemented yet\n");
      return 1;
    };
  });
}

}  // namespace radix::cli
