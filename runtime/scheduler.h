// Scheduler: continuous batching over the KV pool and the radix cache (DESIGN.md §5).
// Each step it admits waiting requests (policy lpm/fcfs, token budgets, chunked prefill)
// next to every running decode (a ragged mixed batch), allocates their KV slots
// (evicting cached prefixes, retracting decodes when the pool runs dry), and after the
// forward commits sampled tokens and returns finished requests' KV to the cache.
// Engine thread only.
#pragma once

#include <deque>
#include <memory>
#include <vector>

#include "runtime/engine.h"
#include "runtime/kv_pool.h"
#include "runtime/model_runner.h"
#include "runtime/radix_cache.h"
#include "runtime/request.h"

namespace radix {

struct SchedulerOptions {
  int num_slots = 0;           // KV pool incl. dummy slot 0
  int context_len = 0;
  int max_running_requests = 0;
  int max_prefill_tokens = 16384;
  int chunked_prefill_size = 8192;  // <= 0: no chunking
  bool lpm = true;                  // longest prefix match first (else fcfs)
  bool disable_radix_cache = false;
  // > 0: decode steps group sequences sharing a cached prefix of at least this many
  // tokens (group_shared_prefixes) for cascade attention; 0: off.
  int cascade_min_prefix = 0;
};

// What one step runs: the requests and, per request, which rows of logits it reads.
struct ScheduledStep {
  std::vector<Req*> reqs;           // in batch order (extends first, then decodes)
  std::vector<int> sample_row;      // per req: logits row to sample from, or -1
  std::vector<int> prompt_lp_first_row;  // per req: first prompt-logprob row, or -1
  std::vector<int> prompt_lp_first_pos;  // per req: position those rows predict
  std::vector<int> fill_end;        // per req: positions with KV once the step ran (kv_len + extend_len)
  std::vector<char> completes;      // per req: the step reaches the end of its fill (a token follows)
  std::vector<int> device_sample;   // per req: its row of StepOutput::tokens (sampled by the runner), or -1
  int num_extend_tokens = 0;
  int num_decode = 0;
  int new_cached_tokens = 0;        // prompt tokens served from the cache this step
  StepInput input;
  // Empties the step but keeps its buffers' capacity, so a steady decode batch does not
  // reallocate its metadata (kv_indices above all) every step.
  void clear();
};

class Scheduler {
 public:
  explicit Scheduler(const SchedulerOptions& options);

  void add(std::unique_ptr<Req> req);   // to the waiting queue
  // Builds the next step; false when there is nothing to run. Requests that can no
  // longer run (retracted) go back to the waiting queue.
  bool schedule(ScheduledStep* step);
  // After the forward: releases finished requests' KV to the cache, keeps the prefix
  // of requests that finished their prefill, drops finished requests from the lists.
  // Returns the finished requests (the engine publishes their last events).
  // = advance(step) then finalize().
  std::vector<std::unique_ptr<Req>> commit(ScheduledStep* step);
  // The step's bookkeeping that needs no sampled token: KV lengths advance, finished
  // prefill chunks enter the radix cache, n > 1 leaders signal. With overlap scheduling
  // it runs right after the launch; `sample_index[i] >= 0` then gives request i a
  // kPendingToken output (the step samples its next token as row sample_index[i]).
  void advance(ScheduledStep* step, const std::vector<int>* sample_index = nullptr);
  // Releases finished requests that no running step holds; returns them.
  std::vector<std::unique_ptr<Req>> finalize();
  // Running requests that may decode next step (for the engine's overlap checks).
  const std::vector<std::unique_ptr<Req>>& running() const { return running_; }
  const std::deque<std::unique_ptr<Req>>& waiting() const { return waiting_; }
  // Whether the next schedule could have to retract (the pool cannot hold one more
  // token per decoding request without evicting everything).
  bool pool_tight() const;
  // Aborts by rid: waiting requests finish at once; running ones finish at commit.
  // choice >= 0 aborts only that choice of an n > 1 request; -1 all of them.
  void abort(const std::string& rid, int choice, std::vector<std::unique_ptr<Req>>* finished_now);

  // Ends every waiting and running request as aborted (shutdown).
  void abort_all(std::vector<std::unique_ptr<Req>>* finished_now);

  int num_running() const { return static_cast<int>(running_.size()); }
  int num_waiting() const { return static_cast<int>(waiting_.size()); }
  int64_t kv_capacity() const { return alloc_.capacity(); }
  int64_t kv_used() const { return alloc_.capacity() - alloc_.available() - cache_.evictable_size(); }
  bool idle() const { return running_.empty() && waiting_.empty(); }
  bool flush_cache();
  // Every slot is free or owned by the tree (valid only when idle).
  Status check_no_leak() const;
  int max_running() const { return options_.max_running_requests; }

 private:
  bool alloc_slots(int n, std::vector<int32_t>* out);
  void release(Req* r, bool keep_prefix);
  void cache_prefix(Req* r);
  void retract_for(int needed);
  int rem_total_tokens() const;

  SchedulerOptions options_;
  KvSlotAllocator alloc_;
  ReqToTokenTable table_;
  RadixCache cache_;
  std::deque<std::unique_ptr<Req>> waiting_;
  std::vector<std::unique_ptr<Req>> running_;
  double new_token_ratio_ = 0.7;
};

}  // namespace radix
