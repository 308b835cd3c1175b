// Generation driver (see generation.h).
#include "server/generation.h"

#include "core/logging.h"

namespace radix::server {

Result<std::unique_ptr<Generation>> Generation::start(Engine& engine,
                                                      std::shared_ptr<const Tokenizer> tokenizer,
                                                      std::vector<PreparedPrompt> prompts,
                                                      ServerMetrics* metrics,
                                                      Clock::time_point arrival) {
  std::unique_ptr<Generation> g(new Generation());
  g->tokenizer_ = std::move(tokenizer);
  g->metrics_ = metrics;
  g->arrival_ = arrival;
  int base = 0;
  for (auto& prompt : prompts) {
    PromptResult result;
    result.rid = prompt.rid;
    result.prompt_text = std::move(prompt.text);
    result.prompt_ids = prompt.ids;
    result.prompt_tokens = static_cast<int>(prompt.ids.size());
    PromptState state;
    state.base = base;
    state.n = prompt.params.n;
    state.left = prompt.params.n;
    for (int i = 0; i < prompt.params.n; ++i) {
      ChoiceResult choice;
      choice.prompt = static_cast<int>(g->states_.size());
      g->choices_.push_back(std::move(choice));
      g->processors_.push_back(
          std::make_unique<OutputProcessor>(g->tokenizer_, prompt.params, prompt.ids));
      g->started_.push_back(false);
    }
    GenerateInput input;
    input.rid = prompt.engine_rid.empty() ? prompt.rid : prompt.engine_rid;
    input.input_ids = std::move(prompt.ids);
    input.params = prompt.params;
    input.wake = g->wake_;
    auto handle = engine.submit(std::move(input));
    if (!handle.is_ok()) {
      g->abort();  // the ones submitted so far
      return handle.status();
    }
    state.handle = std::move(handle).value();
    base += state.n;
    g->choices_left_ += state.n;
    g->states_.push_back(std::move(state));
    g->prompt_results_.push_back(std::move(result));
  }
  return g;
}

Generation::~Generation() {
  abort();
}

void Generation::abort() {
  for (auto& s : states_) {
    if (s.left > 0 && s.handle) s.handle->abort();
    for (int i = 0; i < s.n && s.left > 0; ++i) {
      auto& c = choices_[s.base + i];
      if (!c.finished) {
        c.finished = true;
        c.finish_reason = FinishReason::kAbort;
        --s.left;
        --choices_left_;
      }
    }
  }
}

void Generation::poll(std::chrono::milliseconds timeout, std::vector<ChoiceUpdate>* updates) {
  if (finished()) return;
  const auto deadline = Clock::now() + timeout;
  constexpr int kMaxEventsPerPrompt = 256;  // keep one busy prompt from starving a batch
  RequestEvent event;
  bool woken = false;
  for (;;) {
    // Read the count before draining: an event delivered after the drain changes it, so
    // the wait below cannot sleep through it.
    const uint64_t seen = wake_->count();
    bool progressed = false;
    for (size_t p = 0; p < states_.size() && !finished(); ++p) {
      for (int k = 0; k < kMaxEventsPerPrompt && states_[p].left > 0; ++k) {
        if (!states_[p].handle->next(&event, std::chrono::milliseconds(0))) break;
        handle_event(p, event, updates);
        progressed = true;
      }
    }
    if (progressed || finished() || woken) return;  // woken with no event: from outside
    const auto now = Clock::now();
    if (now >= deadline) return;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    if (wake_->wait(seen, std::max(left, std::chrono::milliseconds(1))) == seen) return;
    woken = true;
  }
}

void Generation::handle_event(size_t p, const RequestEvent& event,
                              std::vector<ChoiceUpdate>* updates) {
  PromptState& s = states_[p];
  PromptResult& pr = prompt_results_[p];
  if (!event.error.is_ok()) {
    if (error_.is_ok()) error_ = event.error;
    RADIX_LOG_WARN("request {} failed in the engine: {}", pr.rid, event.error.to_string());
    abort();
    return;
  }
  if (event.prompt_tokens > 0) pr.prompt_tokens = event.prompt_tokens;
  pr.cached_tokens = std::max(pr.cached_tokens, event.cached_tokens);
  if (!event.prompt_logprobs.empty() && pr.prompt_logprobs.empty()) {
    pr.prompt_logprobs = event.prompt_logprobs;
  }
  if (event.index < 0 || event.index >= s.n) {
    RADIX_LOG_ERROR("request {}: engine event for choice {} of {}", pr.rid, event.index, s.n);
    return;
  }
  const size_t c = static_cast<size_t>(s.base + event.index);
  ChoiceResult& choice = choices_[c];
  if (choice.finished) return;  // a stop string already ended it

  auto now = Clock::now();
  if (!event.token_ids.empty() && metrics_) {
    if (!s.first_token_seen) {
      metrics_->observe_ttft(std::chrono::duration<double>(now - arrival_).count());
      s.first_token_seen = true;
    } else {
      double gap = std::chrono::duration<double>(now - s.last_token).count();
      metrics_->observe_itl(gap / static_cast<double>(event.token_ids.size()));
    }
    s.last_token = now;
  }

  TextDelta d = processors_[c]->process(event);
  ChoiceUpdate u;
  u.index = static_cast<int>(c);
  u.prompt = static_cast<int>(p);
  u.first = !started_[c];
  started_[c] = true;
  choice.text += d.text;
  choice.token_ids.insert(choice.token_ids.end(), d.token_ids.begin(), d.token_ids.end());
  choice.logprobs.insert(choice.logprobs.end(), d.logprobs.begin(), d.logprobs.end());
  choice.completion_tokens = event.completion_tokens;
  if (d.finished) {
    choice.finished = true;
    choice.finish_reason =
        d.finish_reason == FinishReason::kNone ? FinishReason::kStop : d.finish_reason;
    choice.matched_stop = d.matched_stop;
    choice.matched_stop_token = d.matched_stop_token;
    if (d.matched_stop && !event.finished) {
      s.stop_matched = true;
      if (!choice.token_ids.empty()) {
        choice.completion_tokens = static_cast<int>(choice.token_ids.size());
      }
      // The engine still runs this choice: stop it (and free its KV) now, not when the
      // last choice ends.
      if (s.left > 1) s.handle->abort_choice(event.index);
    }
    --s.left;
    --choices_left_;
    if (metrics_) metrics_->count_finished(choice.finish_reason);
    finish_prompt_if_done(p);
  }
  u.text = std::move(d.text);
  u.token_ids = std::move(d.token_ids);
  u.logprobs = std::move(d.logprobs);
  u.finished = choice.finished;
  u.finish_reason = choice.finish_reason;
  u.matched_stop = choice.matched_stop;
  u.matched_stop_token = choice.matched_stop_token;
  updates->push_back(std::move(u));
  if (finished() && metrics_ && error_.is_ok()) {
    metrics_->observe_e2e(std::chrono::duration<double>(Clock::now() - arrival_).count());
  }
}

void Generation::finish_prompt_if_done(size_t p) {
  PromptState& s = states_[p];
  // A stop string ended the last running choice before the engine did: stop the engine.
  if (s.left == 0 && s.stop_matched) s.handle->abort();
}

}  // namespace radix::server
