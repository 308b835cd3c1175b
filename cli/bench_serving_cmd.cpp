// `radix bench serving`: not registered yet (being written this session).
#include "cli/commands.h"

namespace radix::cli {

void register_bench_serving(CLI::App* /*bench*/, Runner* /*run*/) {}

}  // namespace radix::cli
