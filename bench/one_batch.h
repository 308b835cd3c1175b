// `radix bench one-batch`: one static batch through the model runner, measured like
// SGLang's bench_latency — a prefill of batch_size x input_len tokens, then output_len
// decode steps (greedy unless --temperature > 0) — reporting latency and throughput of
// each phase.
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
  // Sampling of every step (CUDA only: the runner samples on the device; the CPU
  // backend's steps stay greedy and refuse other values). temperature 0 is greedy.
  float temperature = 0.0f;
  int top_k = 0;  // 0: all tokens
  float top_p = 1.0f;
  std::string result_file;  // JSON lines appended when set
  size_t read_probe_bytes = size_t{2} << 30;  // CUDA: buffer of the read-rate measurement (0: skip)
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
  // --enable-overlap-schedule on a device that samples: step s + 1 queued before step s is
  // waited for (its input ids from step s's tokens, on the device), a step's latency the
  // interval between two steps' results. Otherwise each step runs synchronously, as
  // SGLang's bench_latency does.
  bool decode_overlapped = false;
  std::string device;
  // The decode roofline: bytes a measured step must read at least — the weights once
  // (of the embedding table only the batch's rows, unless tied) plus every sequence's K
  // and V (its mean context over the measured steps) — and, on
  // CUDA, the streaming-read rate measured after the run (read_bw_gbps; 0 when not
  // measured), its time at that rate and the median step's share of it.
  double decode_weight_bytes = 0;
  double decode_kv_bytes = 0;
  double read_bw_gbps = 0;
  double roofline_decode_latency_s = 0;
  double decode_roofline_ratio = 0;  // roofline / median step
  // The same with every weight counted once, the whole embedding table included (the
  // count of issue #6's "193 tok/s at 3107 GB/s" roofline and of gpt-fast's figures).
  double all_weight_bytes = 0;
  double decode_roofline_ratio_all_weights = 0;
};

Result<OneBatchResult> run_one_batch(const OneBatchOptions& options);

}  // namespace radix
