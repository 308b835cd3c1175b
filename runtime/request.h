// Req: the engine's per-request state and the single source of truth about one choice
// of one submitted request (nano-vllm style). Owned by the engine thread; the caller
// sees it only through RequestHandle events.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "runtime/radix_cache.h"
#include "runtime/sampler.h"

namespace radix {

class HandleImpl;

enum class ReqState { kWaiting, kRunning, kFinished };

// Overlap scheduling: an output token sampled by a step that is still running. The
// next step reads it on the runner's side (StepInput::prev_token_src); the engine puts
// the real id in its place when the step's results come back.
constexpr int32_t kPendingToken = -1;

struct Req {
  std::string rid;
  int index = 0;                     // choice index (n > 1)
  std::shared_ptr<HandleImpl> handle;
  std::vector<int32_t> input_ids;    // the prompt
  std::vector<int32_t> output_ids;   // generated so far
  SamplingParams params;
  std::unique_ptr<SamplerState> sampler;
  uint64_t arrival = 0;              // submission order (fcfs)

  ReqState state = ReqState::kWaiting;
  FinishReason finish_reason = FinishReason::kNone;
  int32_t matched_stop_token = -1;
  Status error;
  bool finish_published = false;     // the caller has seen finished=true for this choice

  // KV bookkeeping. Positions [0, kv_len) of fill_ids() have KV in the pool; the slot
  // of position p is req_to_token[row][p]. Positions [0, cached_len) are owned by the
  // radix tree (locked through last_node); the rest belong to this request.
  int row = -1;
  int kv_len = 0;
  int cached_len = 0;
  RadixNode* last_node = nullptr;
  int prefix_hits = 0;               // prompt tokens served from the cache (first match)
  bool prefix_reported = false;

  // This step: how many tokens of fill_ids() are extended (prefill chunk or 1 decode).
  int extend_len = 0;
  bool is_prefill_chunk_last = false;  // this step finishes the prefill -> sample
  int retractions = 0;

  // Overlap scheduling (EngineOptions::enable_overlap_schedule): steps launched and not
  // yet completed that hold this request (it is released only at 0), and the pending
  // output token, if any: its index in output_ids and its sample row in that step.
  int in_flight = 0;
  int pending_out_index = -1;
  int pending_sample = -1;

  // n > 1: the choices share one flag; non-leaders wait until the leader's prompt is
  // in the radix cache (or the leader ended), then hit the cache instead of recomputing.
  std::shared_ptr<bool> prompt_ready;
  bool is_leader = true;

  // Prompt logprobs are produced progressively (prefill chunks).
  std::vector<TokenLogprob> prompt_logprobs;
  int logprob_next_pos = 0;

  int fill_len() const { return static_cast<int>(input_ids.size() + output_ids.size()); }
  int32_t fill_token(int pos) const {
    const int n = static_cast<int>(input_ids.size());
    return pos < n ? input_ids[pos] : output_ids[pos - n];
  }
  // After every complete step kv_len == fill_len() - 1: the last token is the next input.
  bool decode_ready() const { return !output_ids.empty() && kv_len == fill_len() - 1; }
  bool finished() const { return state == ReqState::kFinished; }
};

}  // namespace radix
