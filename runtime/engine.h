// Engine: the public C++ API of the serving runtime (DESIGN.md §3). HTTP threads (or
// `radix generate`) submit token-id requests and read their events from a handle; one
// engine thread owns the scheduler, the KV pool, the radix cache and the model.
// Text never enters the engine: detokenization and stop strings happen in
// runtime/output_processor.h on the caller's thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/sampling_params.h"

namespace radix {

struct EngineOptions {
  std::string model_path;
  std::string tokenizer_path;        // default: model_path
  std::string device = "auto";       // "cpu", "cuda", "auto" (cuda when available)
  std::string dtype = "auto";        // activations/weights: "auto" (bf16 on cuda, f32 on cpu)
  std::string load_format = "auto";  // auto | safetensors | dummy
  std::string kv_cache_dtype = "auto";
  int context_length = 0;            // 0 = from config
  int max_running_requests = 0;      // 0 = derived from memory
  int max_total_tokens = 0;          // KV slots; 0 = derived from memory
  float mem_fraction_static = 0.88f;
  int chunked_prefill_size = 8192;   // -1 disables chunking
  int max_prefill_tokens = 16384;
  std::string schedule_policy = "lpm";  // lpm | fcfs
  bool disable_radix_cache = false;
  // > 0: decode steps attend to prefixes of at least this many tokens that running
  // requests share in the radix cache once per group (cascade attention); 0: off.
  // (H200, 64 groups x 16 requests on a 2048-token prefix: 1.87x the decode throughput.)
  int cascade_min_prefix_len = 256;
  std::string step_trace_path;       // non-empty: one JSON line per step (runtime/step_trace.h)
  // Schedule step N + 1 while step N runs (its sampled tokens stay on the runner's side
  // as the next inputs; finishes are seen one step later). docs/runtime.md.
  bool enable_overlap_schedule = false;
  // With overlap on, steps of fewer rows (requests) than this run synchronously: at small
  // batches the host time overlap hides is ~0.01-0.05 ms while a step scheduled ahead
  // costs a newly arrived request one step of TTFT (docs/perf.md, session 5). 0: every
  // step is overlapped.
  int overlap_min_batch = 32;
  bool disable_cuda_graph = false;
  int cuda_graph_max_bs = 160;
  uint64_t random_seed = 0;
  int max_queued_requests = 4096;    // beyond this submit() fails with ResourceExhausted
};

enum class FinishReason { kNone, kStop, kLength, kAbort };
const char* finish_reason_name(FinishReason r);  // "stop", "length", "abort"

struct TokenLogprob {
  int32_t id = 0;
  float logprob = 0.0f;
  std::vector<std::pair<int32_t, float>> top;  // top_logprobs_num alternatives
};

// One message from the engine about one choice of a request.
struct RequestEvent {
  int index = 0;                     // choice index (0..n-1)
  std::vector<int32_t> token_ids;    // output ids new since the previous event
  std::vector<TokenLogprob> logprobs;         // one per new token when requested
  std::vector<TokenLogprob> prompt_logprobs;  // in the first event, when requested
  bool finished = false;
  FinishReason finish_reason = FinishReason::kNone;
  int32_t matched_stop_token = -1;   // eos or stop_token_ids hit
  Status error;                      // set when the request failed inside the engine
  int prompt_tokens = 0;
  int cached_tokens = 0;             // prompt tokens served from the radix cache
  int completion_tokens = 0;         // so far
};

// Wakes a caller that follows several handles at once, or waits for something besides
// engine events (its HTTP client leaving): each event delivered to a handle submitted
// with the signal, and each notify(), bumps a counter and wakes wait(). With it, a
// waiting thread sleeps until something happens instead of waking on a timer.
class WakeSignal {
 public:
  uint64_t count() const;
  void notify();
  // Waits up to `timeout` until count() differs from `seen`; returns count().
  uint64_t wait(uint64_t seen, std::chrono::milliseconds timeout);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t count_ = 0;
};

struct GenerateInput {
  std::string rid;                   // empty: the engine assigns one
  std::vector<int32_t> input_ids;
  SamplingParams params;
  std::shared_ptr<WakeSignal> wake = nullptr;  // optional: notified after each event is delivered
};

// The caller's end of a submitted request. Thread-safe.
class RequestHandle {
 public:
  virtual ~RequestHandle() = default;
  virtual const std::string& rid() const = 0;
  // Waits up to `timeout` for the next event; false on timeout. After an event with
  // finished=true for every choice, next() returns false immediately.
  virtual bool next(RequestEvent* event, std::chrono::milliseconds timeout) = 0;
  // Stops generation (client gone, stop string matched). Idempotent.
  virtual void abort() = 0;
  // Stops one choice of an n > 1 request (a stop string ended it) and frees its KV; the
  // other choices go on. Idempotent; an index outside [0, n) does nothing; abort()
  // still stops them all.
  virtual void abort_choice(int index) = 0;
};

struct EngineStats {
  int num_running = 0;
  int num_queued = 0;
  int64_t kv_total_slots = 0;
  int64_t kv_used_slots = 0;         // held by running requests (evictable cache is free)
  double cache_hit_rate = 0.0;       // cached prompt tokens / prompt tokens, lifetime
  int64_t prompt_tokens_total = 0;
  int64_t generation_tokens_total = 0;
  double gen_throughput = 0.0;       // tokens/s over the last log interval
  // Decode steps and the engine thread's time in them, lifetime: host = its own work
  // (inbox, schedule, outputs, commit), forward = the model runner's call (staging, GPU,
  // sync). host / forward is the scheduler overhead.
  int64_t decode_steps_total = 0;
  int64_t cascade_decode_steps_total = 0;  // of those, steps with shared-prefix groups
  int64_t overlapped_steps_total = 0;      // steps scheduled while the previous one was in flight
  double decode_host_seconds_total = 0.0;
  double decode_forward_seconds_total = 0.0;
};

struct ModelInfo {
  std::string model_path;
  std::string architecture;
  int context_length = 0;
  int vocab_size = 0;
  std::vector<int32_t> eos_token_ids;
};

class Engine {
 public:
  virtual ~Engine() = default;
  static Result<std::unique_ptr<Engine>> create(const EngineOptions& options);

  // Validates (params, prompt length vs context, ids in vocab) and enqueues.
  virtual Result<std::shared_ptr<RequestHandle>> submit(GenerateInput input) = 0;
  virtual EngineStats stats() const = 0;
  virtual const ModelInfo& model_info() const = 0;
  // Drops every unlocked radix-cache entry (the /flush_cache endpoint); false if busy.
  virtual bool flush_cache() = 0;
  // Waits for the engine thread and checks that every KV slot is free or owned by the
  // radix cache (meaningful when idle; for tests and debugging).
  virtual Status check_kv_invariants() = 0;
  // Stops accepting requests, finishes (or after `timeout` aborts) in-flight ones, joins.
  virtual void shutdown(std::chrono::milliseconds timeout) = 0;
};

}  // namespace radix
