// StepTrace (`--step-trace PATH`): one JSON line per engine step — when it ran, what it
// held and how long the forward and the engine thread's own work took — so a serving run
// can be taken apart afterwards (prefill vs decode time, batch sizes over the run, the
// tail; tools/bench/step_trace_summary.py). Engine thread only; buffered, flushed every
// 256 lines, whenever the engine goes idle (so a finished benchmark run is on disk) and
// when closed.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "core/status.h"

namespace radix {

struct StepRecord {
  int extend_seqs = 0;      // sequences extending (prefill chunks) this step
  int extend_tokens = 0;    // their new tokens
  int decode_rows = 0;      // sequences decoding one token
  int running = 0;          // requests running after the step
  int queued = 0;           // requests waiting after the step
  int64_t kv_used = 0;      // KV slots in use after the step
  double forward_ms = 0;    // runner forward: staging, GPU, sampling, copy back
  double host_ms = 0;       // the engine thread's own work for the step
  bool graph = false;       // the forward replayed a CUDA graph
  bool cascade = false;     // the step had shared-prefix groups
};

class StepTrace {
 public:
  StepTrace() = default;
  ~StepTrace();
  StepTrace(const StepTrace&) = delete;
  StepTrace& operator=(const StepTrace&) = delete;

  // Opens (truncates) `path`; an empty path leaves the trace off.
  Status open(const std::string& path);
  bool enabled() const { return file_ != nullptr; }
  void write(const StepRecord& r);
  void flush();  // no-op when nothing is pending
  void close();

 private:
  std::FILE* file_ = nullptr;
  std::chrono::steady_clock::time_point start_;
  int64_t steps_ = 0;
  bool dirty_ = false;
};

}  // namespace radix
