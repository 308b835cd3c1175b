// FakeEngine: scripted events on a thread per request (see fake_engine.h).
#include "tests/unit/server/fake_engine.h"

namespace radix::server::testing {

class FakeHandle : public RequestHandle {
 public:
  FakeHandle(FakeEngine* engine, GenerateInput input, FakeScript script)
      : engine_(engine), input_(std::move(input)), script_(std::move(script)) {
    rid_ = input_.rid.empty() ? "fake" : input_.rid;
    engine_->running_.fetch_add(1);
    {
      std::lock_guard<std::mutex> l(engine_->mu_);
      engine_->live_.push_back(this);
    }
    worker_ = std::thread([this] { run(); });
  }
  ~FakeHandle() override {
    {
      std::lock_guard<std::mutex> l(engine_->mu_);
      std::erase(engine_->live_, this);
    }
    stop();
    worker_.join();
  }

  const std::string& rid() const override { return rid_; }

  bool next(RequestEvent* event, std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> l(mu_);
    if (!cv_.wait_for(l, timeout, [&] { return !events_.empty(); })) return false;
    *event = std::move(events_.front());
    events_.pop_front();
    return true;
  }

  // Like the real engine: the abort goes by rid.
  void abort() override { engine_->abort_rid(rid_); }
  // Counted only: the fake's choices share one scripted stream.
  void abort_choice(int) override { engine_->choice_aborts_.fetch_add(1); }

  // Ends this request's output (counted as an abort unless it had ended already).
  void stop() {
    std::lock_guard<std::mutex> l(mu_);
    if (!aborted_ && !done_) engine_->aborts_.fetch_add(1);
    aborted_ = true;
    cv_.notify_all();
    engine_->cv_.notify_all();
  }

 private:
  void push(RequestEvent e) {
    {
      std::lock_guard<std::mutex> l(mu_);
      events_.push_back(std::move(e));
      cv_.notify_all();
    }
    if (input_.wake) input_.wake->notify();
  }

  void run() {
    const int n = input_.params.n;
    const int prompt_tokens = static_cast<int>(input_.input_ids.size());
    std::vector<int> produced(n, 0);
    std::vector<bool> finished(n, false);
    int left = n;
    int step = 0;
    auto base_event = [&](int i) {
      RequestEvent e;
      e.index = i;
      e.prompt_tokens = prompt_tokens;
      e.cached_tokens = script_.cached_tokens;
      return e;
    };
    while (left > 0) {
      {
        std::unique_lock<std::mutex> l(mu_);
        bool aborted = cv_.wait_for(l, script_.token_delay, [&] { return aborted_; });
        if (!aborted && script_.hang) {
          cv_.wait(l, [&] { return aborted_; });
          aborted = true;
        }
        if (aborted) break;
      }
      for (int i = 0; i < n; ++i) {
        if (finished[i]) continue;
        RequestEvent e = base_event(i);
        if (step == 0 && input_.params.logprob_start_len >= 0) {
          for (size_t k = 1; k < input_.input_ids.size(); ++k) {
            e.prompt_logprobs.push_back(TokenLogprob{input_.input_ids[k], -1.5f, {}});
          }
        }
        if (script_.error_after >= 0 && produced[i] >= script_.error_after) {
          e.error = internal_error("scripted engine failure");
          e.finished = true;
          e.finish_reason = FinishReason::kAbort;
          finished[i] = true;
          --left;
          push(std::move(e));
          continue;
        }
        if (input_.params.max_new_tokens == 0) {
          e.finished = true;
          e.finish_reason = FinishReason::kLength;
          finished[i] = true;
          --left;
          push(std::move(e));
          continue;
        }
        int32_t tok = script_.tokens[(produced[i] + i) % script_.tokens.size()];
        bool hit_eos = script_.eos >= 0 && produced[i] == script_.eos_after;
        if (hit_eos) tok = script_.eos;
        e.token_ids = {tok};
        if (input_.params.return_logprob) {
          TokenLogprob lp{tok, -0.25f, {}};
          for (int k = 0; k < input_.params.top_logprobs_num; ++k) {
            lp.top.push_back({static_cast<int32_t>(20 + k), -1.0f - k});
          }
          e.logprobs.push_back(lp);
        }
        ++produced[i];
        e.completion_tokens = produced[i];
        if (hit_eos && !input_.params.ignore_eos) {
          e.finished = true;
          e.finish_reason = FinishReason::kStop;
          e.matched_stop_token = tok;
        } else if (produced[i] >= input_.params.max_new_tokens) {
          e.finished = true;
          e.finish_reason = FinishReason::kLength;
        }
        if (e.finished) {
          finished[i] = true;
          --left;
        }
        push(std::move(e));
      }
      ++step;
    }
    for (int i = 0; i < n; ++i) {  // aborted: the remaining choices end with kAbort
      if (finished[i]) continue;
      RequestEvent e = base_event(i);
      e.finished = true;
      e.finish_reason = FinishReason::kAbort;
      e.completion_tokens = produced[i];
      push(std::move(e));
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      done_ = true;
    }
    engine_->running_.fetch_sub(1);
    engine_->cv_.notify_all();
  }

  FakeEngine* engine_;
  GenerateInput input_;
  FakeScript script_;
  std::string rid_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<RequestEvent> events_;
  bool aborted_ = false;
  bool done_ = false;
  std::thread worker_;
};

void FakeEngine::abort_rid(const std::string& rid) {
  std::lock_guard<std::mutex> l(mu_);
  for (FakeHandle* h : live_) {
    if (h->rid() == rid) h->stop();
  }
}

Result<std::shared_ptr<RequestHandle>> FakeEngine::submit(GenerateInput input) {
  if (!script.submit_error.is_ok()) return script.submit_error;
  if (input.input_ids.empty()) return invalid_argument("empty prompt");
  {
    std::lock_guard<std::mutex> l(mu_);
    submitted_.push_back(input);
  }
  prompt_tokens_.fetch_add(static_cast<int64_t>(input.input_ids.size()));
  return std::shared_ptr<RequestHandle>(
      std::make_shared<FakeHandle>(this, std::move(input), script));
}

bool FakeEngine::wait_for_aborts(int n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::unique_lock<std::mutex> l(mu_);
  while (aborts_.load() < n && std::chrono::steady_clock::now() < deadline) {
    cv_.wait_for(l, std::chrono::milliseconds(10));  // notified without mu_: poll as well
  }
  return aborts_.load() >= n;
}

}  // namespace radix::server::testing
