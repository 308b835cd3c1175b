// `radix bench one-batch`: one static batch through the model runner, measured like
// SGLang's bench_latency — a prefill of batch_size x input_len tokens, then output_len
// decode steps (greedy) — reporting latency and throughput of each phase.
#pragma once

#include <string>

#include "core/status.h"
#include "runtime/engine.h"

namespace radix {

struct OneBatchOptions {
  EngineOptions engine;
  int batch_size = 1;
  int input_len = 128;
  int output_len = 512;
  int warmup_steps = 8;     // decode steps run (and discarded) before measuring
  std::string result_file;  // JSON lines appended when set
};

struct OneBatchResult {
  double prefill_latency_s = 0;
  double prefill_throughput = 0;      // tokens/s
  double median_decode_latency_s = 0;
  double median_decode_throughput = 0;  // tokens/s = batch / step latency
  double total_latency_s = 0;
  double overall_throughput = 0;
  int decode_steps = 0;        // measured decode steps
  int decode_graph_steps = 0;  // of those, run as CUDA graphs
  std::string device;
};

Result<OneBatchResult> run_one_batch(const OneBatchOptions& options);

}  // namespace radix
