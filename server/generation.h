// Generation: one HTTP request's prompts submitted to the engine and followed to the end
// on the HTTP thread. Per choice it runs an OutputProcessor (incremental detokenization,
// stop strings), accumulates the results for non-streamed answers, hands out updates for
// streams, aborts the engine request when a stop string ends it or the client leaves,
// and records TTFT / inter-token / end-to-end latency.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/engine.h"
#include "runtime/output_processor.h"
#include "server/generation_types.h"
#include "server/metrics.h"
#include "tokenizer/tokenizer.h"

namespace radix::server {

// A tokenized prompt ready to submit.
struct PreparedPrompt {
  std::string rid;         // the request id clients see (X-Request-Id, SGLang rid)
  std::string engine_rid;  // the engine's id: unique per submission; empty: rid
  std::string text;        // prompt text (for echo)
  std::vector<int32_t> ids;
  SamplingParams params;
};

class Generation {
 public:
  using Clock = std::chrono::steady_clock;

  // Submits every prompt (n choices each, prompt-major global indices). When a submit
  // fails, the ones already submitted are aborted and the engine's Status returned.
  static Result<std::unique_ptr<Generation>> start(Engine& engine,
                                                   std::shared_ptr<const Tokenizer> tokenizer,
                                                   std::vector<PreparedPrompt> prompts,
                                                   ServerMetrics* metrics,
                                                   Clock::time_point arrival);
  ~Generation();  // aborts whatever is unfinished

  // Waits up to `timeout` for engine events and appends the resulting updates. Returns
  // early, possibly with no updates, when wake() is notified from outside.
  void poll(std::chrono::milliseconds timeout, std::vector<ChoiceUpdate>* updates);
  // Notified by every engine event of this generation; notify it to end a poll() early
  // (the HTTP layer does when the client leaves).
  const std::shared_ptr<WakeSignal>& wake() const { return wake_; }
  bool finished() const { return choices_left_ == 0; }
  // The first error an engine event carried (the generation is then finished).
  const Status& error() const { return error_; }
  // Stops every prompt (client gone); finished() is true afterwards.
  void abort();

  const std::vector<PromptResult>& prompts() const { return prompt_results_; }
  const std::vector<ChoiceResult>& choices() const { return choices_; }

 private:
  struct PromptState {
    std::shared_ptr<RequestHandle> handle;
    int base = 0;  // global index of choice 0
    int n = 1;
    int left = 0;               // unfinished choices
    bool stop_matched = false;  // a stop string ended a choice the engine still runs
    bool first_token_seen = false;
    Clock::time_point last_token;
  };

  Generation() = default;
  void handle_event(size_t p, const RequestEvent& event, std::vector<ChoiceUpdate>* updates);
  void finish_prompt_if_done(size_t p);

  std::shared_ptr<const Tokenizer> tokenizer_;
  ServerMetrics* metrics_ = nullptr;
  Clock::time_point arrival_;
  std::vector<PromptState> states_;
  std::vector<PromptResult> prompt_results_;
  std::vector<ChoiceResult> choices_;
  std::vector<std::unique_ptr<OutputProcessor>> processors_;
  std::vector<bool> started_;
  int choices_left_ = 0;
  std::shared_ptr<WakeSignal> wake_ = std::make_shared<WakeSignal>();
  Status error_;
};

}  // namespace radix::server
