// EngineImpl: the engine thread's loop (DESIGN.md §3): drain the inbox and aborts ->
// schedule one step -> run the model -> sample -> update requests -> publish events.
// HandleImpl is the thread-safe mailbox between the engine and one caller.
#include "runtime/engine.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "core/logging.h"
#include "runtime/model_runner.h"
#include "runtime/scheduler.h"
#include "runtime/step_trace.h"

namespace radix {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kAbort: return "abort";
    case FinishReason::kNone: break;
  }
  return "";
}

// ---------------------------------------------------------------------------------------
uint64_t WakeSignal::count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return count_;
}

void WakeSignal::notify() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++count_;
  }
  cv_.notify_all();
}

uint64_t WakeSignal::wait(uint64_t seen, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return count_ != seen; });
  return count_;
}

// ---------------------------------------------------------------------------------------
class HandleImpl final : public RequestHandle {
 public:
  // on_abort(rid, choice): choice -1 stops every choice.
  HandleImpl(std::string rid, int choices, std::function<void(const std::string&, int)> on_abort,
             std::shared_ptr<WakeSignal> wake)
      : rid_(std::move(rid)),
        choices_(choices),
        open_choices_(choices),
        on_abort_(std::move(on_abort)),
        wake_(std::move(wake)) {}

  const std::string& rid() const override { return rid_; }

  bool next(RequestEvent* event, std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !events_.empty() || open_choices_ == 0; });
    if (events_.empty()) return false;
    *event = std::move(events_.front());
    events_.pop_front();
    return true;
  }

  void abort() override {
    if (aborted_.exchange(true)) return;
    on_abort_(rid_, -1);
  }

  void abort_choice(int index) override {
    if (aborted_ || index < 0 || index >= choices_) return;  // not a choice: nothing to stop
    on_abort_(rid_, index);
  }

  void push(RequestEvent event) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (event.finished && open_choices_ > 0) --open_choices_;
      events_.push_back(std::move(event));
    }
    cv_.notify_all();
    if (wake_) wake_->notify();
  }

 private:
  std::string rid_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<RequestEvent> events_;
  const int choices_;
  int open_choices_;
  std::atomic<bool> aborted_{false};
  std::function<void(const std::string&, int)> on_abort_;
  std::shared_ptr<WakeSignal> wake_;
};

// Delivers the engine's events to request handles on its own thread: the engine thread
// pays one hand-off per step instead of one handle wake-up (mutex + futex) per request,
// which at 512 running requests was 2.5 ms of every decode step. Per handle, events
// keep the engine's order (one queue, one consumer).
class Publisher {
 public:
  Publisher() : thread_([this] { loop(); }) {}
  ~Publisher() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Engine thread: collect, then hand over everything collected in one go.
  void add(std::shared_ptr<HandleImpl> handle, RequestEvent event) {
    pending_.emplace_back(std::move(handle), std::move(event));
  }
  void flush() {
    if (pending_.empty()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& p : pending_) queue_.push_back(std::move(p));
      ++posted_;
    }
    pending_.clear();
    cv_.notify_all();
  }
  // Blocks until everything flushed so far reached its handle.
  void wait_delivered() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return delivered_ == posted_; });
  }

 private:
  using Item = std::pair<std::shared_ptr<HandleImpl>, RequestEvent>;
  void loop() {
    std::vector<Item> batch;
    while (true) {
      uint64_t upto = 0;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, nothing left
        batch.swap(queue_);
        upto = posted_;
      }
      for (auto& [handle, event] : batch) handle->push(std::move(event));
      batch.clear();
      {
        std::lock_guard<std::mutex> lock(mu_);
        delivered_ = upto;
      }
      cv_.notify_all();
    }
  }

  std::vector<Item> pending_;  // engine thread only
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Item> queue_;
  uint64_t posted_ = 0, delivered_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------
class EngineImpl final : public Engine {
 public:
  explicit EngineImpl(EngineOptions options) : options_(std::move(options)), rng_(options_.random_seed) {}
  ~EngineImpl() override { shutdown(std::chrono::milliseconds(0)); }

  Status init() {
    RADIX_ASSIGN_OR_RETURN(runner_, ModelRunner::create(options_));
    const ModelConfig& c = runner_->config();
    info_.model_path = options_.model_path;
    info_.architecture = c.architecture;
    info_.context_length = runner_->context_len();
    info_.vocab_size = c.vocab_size;
    for (int id : c.eos_token_ids) info_.eos_token_ids.push_back(id);
    SchedulerOptions so;
    so.num_slots = runner_->num_slots();
    so.context_len = runner_->context_len();
    so.max_running_requests = options_.max_running_requests > 0
                                  ? options_.max_running_requests
                                  : std::clamp(runner_->num_slots() / 64, 16, 1024);
    so.max_prefill_tokens = options_.max_prefill_tokens;
    so.chunked_prefill_size = options_.chunked_prefill_size;
    if (options_.schedule_policy != "lpm" && options_.schedule_policy != "fcfs") {
      return invalid_argument("unknown --schedule-policy '" + options_.schedule_policy + "' (expected lpm or fcfs)");
    }
    so.lpm = options_.schedule_policy == "lpm";
    so.disable_radix_cache = options_.disable_radix_cache;
    if (options_.cascade_min_prefix_len < 0) {
      return invalid_argument("--cascade-min-prefix-len must be >= 0 (0 = off)");
    }
    so.cascade_min_prefix = options_.disable_radix_cache ? 0 : options_.cascade_min_prefix_len;
    RADIX_RETURN_IF_ERROR(trace_.open(options_.step_trace_path));
    scheduler_ = std::make_unique<Scheduler>(so);
    RADIX_LOG_INFO("{}", runner_->describe());
    if (const std::string g = runner_->describe_graphs(); !g.empty()) RADIX_LOG_INFO("{}", g);
    RADIX_LOG_INFO("max_running_requests={}, max_prefill_tokens={}, chunked_prefill_size={}, policy={}, radix cache {}, "
                   "cascade attention {}",
                   so.max_running_requests, so.max_prefill_tokens, so.chunked_prefill_size,
                   options_.schedule_policy, so.disable_radix_cache ? "off" : "on",
                   so.cascade_min_prefix > 0 ? ">= " + std::to_string(so.cascade_min_prefix) + " tokens" : "off");
    update_stats(false);
    thread_ = std::thread([this] { loop(); });
    return Status::ok();
  }

  Result<std::shared_ptr<RequestHandle>> submit(GenerateInput input) override {
    const int vocab = info_.vocab_size;
    RADIX_RETURN_IF_ERROR(input.params.validate(vocab));
    if (input.input_ids.empty()) return invalid_argument("the prompt is empty");
    for (int32_t id : input.input_ids) {
      if (id < 0 || id >= vocab) {
        return invalid_argument("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                std::to_string(vocab) + ")");
      }
    }
    const int prompt_len = static_cast<int>(input.input_ids.size());
    const int context = runner_->context_len();
    if (prompt_len >= context) {
      return out_of_range("the prompt is " + std::to_string(prompt_len) +
                          " tokens, but the model's context length is " + std::to_string(context) + " tokens");
    }
    const int capacity = runner_->num_slots() - 1;
    if (prompt_len + 1 > capacity) {
      return out_of_range("the prompt is " + std::to_string(prompt_len) + " tokens but the KV cache holds only " +
                          std::to_string(capacity) + "; it can never be scheduled");
    }
    SamplingParams params = input.params;
    params.max_new_tokens = std::min(params.max_new_tokens, std::min(context, capacity) - prompt_len);
    if (stopping_) return unavailable("the server is shutting down");
    if (queued_.load() >= options_.max_queued_requests) {
      return resource_exhausted("too many queued requests (" + std::to_string(options_.max_queued_requests) + ")");
    }
    std::string rid = input.rid.empty() ? "req-" + std::to_string(next_rid_.fetch_add(1)) : input.rid;
    std::weak_ptr<Inbox> inbox = inbox_;
    auto handle = std::make_shared<HandleImpl>(rid, params.n, [inbox](const std::string& r, int choice) {
      if (auto in = inbox.lock()) in->abort(r, choice);
    }, input.wake);
    std::vector<std::unique_ptr<Req>> reqs;
    auto ready = params.n > 1 ? std::make_shared<bool>(false) : nullptr;
    uint64_t base_seed;
    {
      std::lock_guard<std::mutex> lock(rng_mu_);
      base_seed = params.seed.has_value() ? *params.seed : rng_();
    }
    for (int i = 0; i < params.n; ++i) {
      auto r = std::make_unique<Req>();
      r->rid = rid;
      r->index = i;
      r->handle = handle;
      r->input_ids = input.input_ids;
      r->params = params;
      r->sampler = std::make_unique<SamplerState>(params, base_seed + static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull,
                                                  input.input_ids, info_.eos_token_ids);
      r->prompt_ready = ready;
      r->is_leader = i == 0;
      reqs.push_back(std::move(r));
    }
    queued_ += params.n;
    inbox_->push(std::move(reqs));
    return std::shared_ptr<RequestHandle>(handle);
  }

  EngineStats stats() const override {
    std::lock_guard<std::mutex> lock(stats_mu_);
    return stats_;
  }
  const ModelInfo& model_info() const override { return info_; }

  bool flush_cache() override {
    auto p = std::make_shared<std::promise<bool>>();
    auto f = p->get_future();
    inbox_->command([p](Scheduler& s) { p->set_value(s.flush_cache()); });
    return f.get();
  }

  Status check_kv_invariants() override {
    auto p = std::make_shared<std::promise<Status>>();
    auto f = p->get_future();
    inbox_->command([p](Scheduler& s) { p->set_value(s.check_no_leak()); });
    return f.get();
  }

  void shutdown(std::chrono::milliseconds timeout) override {
    if (!thread_.joinable()) return;
    stopping_ = true;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline && (stats().num_running + stats().num_queued) > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    inbox_->stop();
    thread_.join();
    publisher_.wait_delivered();
  }

 private:
  // The engine's inbox: new requests, aborts and commands from other threads.
  class Inbox {
   public:
    void push(std::vector<std::unique_ptr<Req>> reqs) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& r : reqs) reqs_.push_back(std::move(r));
      }
      cv_.notify_one();
    }
    void abort(const std::string& rid, int choice) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        aborts_.emplace_back(rid, choice);
      }
      cv_.notify_one();
    }
    void command(std::function<void(Scheduler&)> fn) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        commands_.push_back(std::move(fn));
      }
      cv_.notify_one();
    }
    void stop() {
      {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
      }
      cv_.notify_one();
    }
    // Waits (when `block`) until something arrives; moves everything out.
    bool drain(bool block, std::vector<std::unique_ptr<Req>>* reqs, std::vector<std::pair<std::string, int>>* aborts,
               std::vector<std::function<void(Scheduler&)>>* commands) {
      std::unique_lock<std::mutex> lock(mu_);
      if (block) {
        cv_.wait_for(lock, std::chrono::milliseconds(100),
                     [&] { return stop_ || !reqs_.empty() || !aborts_.empty() || !commands_.empty(); });
      }
      for (auto& r : reqs_) reqs->push_back(std::move(r));
      reqs_.clear();
      aborts->insert(aborts->end(), aborts_.begin(), aborts_.end());
      aborts_.clear();
      for (auto& c : commands_) commands->push_back(std::move(c));
      commands_.clear();
      return !stop_;
    }

   private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::unique_ptr<Req>> reqs_;
    std::vector<std::pair<std::string, int>> aborts_;
    std::vector<std::function<void(Scheduler&)>> commands_;
    bool stop_ = false;
  };

  void loop();
  void finish_and_publish(std::vector<std::unique_ptr<Req>>& done);
  void plan_device_sampling(ScheduledStep& step);
  void process_outputs(ScheduledStep& step, const StepOutput& out);
  void update_stats(bool log_decode);

  EngineOptions options_;
  ModelInfo info_;
  std::unique_ptr<ModelRunner> runner_;
  std::unique_ptr<Scheduler> scheduler_;
  std::shared_ptr<Inbox> inbox_ = std::make_shared<Inbox>();
  Publisher publisher_;  // outlives the engine thread (declared before it)
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> queued_{0};
  std::atomic<uint64_t> next_rid_{0};
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
  mutable std::mutex stats_mu_;
  EngineStats stats_;
  // Lifetime counters (engine thread).
  int64_t prompt_tokens_ = 0, cached_tokens_ = 0, gen_tokens_ = 0;
  int64_t gen_tokens_since_log_ = 0;
  std::chrono::steady_clock::time_point last_log_ = std::chrono::steady_clock::now();
  StepTrace trace_;
  void drop_pending_token(Req* r);
  void fail_step(ScheduledStep& step, const Status& st);
  bool overlap_must_sync() const;
  void complete(ScheduledStep& step, StepOutput& out);
  int decode_steps_ = 0;
  // Since the last Decode batch log line: engine-thread time of decode steps, split.
  double decode_host_s_ = 0, decode_forward_s_ = 0, decode_schedule_s_ = 0, decode_outputs_s_ = 0;
  int decode_timed_ = 0;
};

void EngineImpl::finish_and_publish(std::vector<std::unique_ptr<Req>>& done) {
  for (auto& r : done) {
    if (r->finish_published) continue;  // its last token event already said finished
    r->finish_published = true;
    RequestEvent ev;
    ev.index = r->index;
    ev.finished = true;
    ev.finish_reason = r->finish_reason == FinishReason::kNone ? FinishReason::kAbort : r->finish_reason;
    ev.matched_stop_token = r->matched_stop_token;
    ev.error = r->error;
    ev.prompt_tokens = static_cast<int>(r->input_ids.size());
    ev.cached_tokens = r->prefix_hits;
    ev.completion_tokens = static_cast<int>(r->output_ids.size());
    if (!r->prompt_logprobs.empty()) ev.prompt_logprobs = std::move(r->prompt_logprobs);
    publisher_.add(r->handle, std::move(ev));
  }
  done.clear();
  publisher_.flush();
}

// On a device that samples (CUDA), every request's next token is sampled there:
// penalties and the min_new_tokens mask go with it as sparse entries, and decode-token
// logprobs come back per row; only prompt-logprob rows come back as logits (to
// token_logprob on the host). On the CPU backend the host sampler does everything.
void EngineImpl::plan_device_sampling(ScheduledStep& step) {
  step.device_sample.assign(step.reqs.size(), -1);
  // Overlap scheduling needs the next token where the next step reads it: the runner.
  if (!runner_->samples_on_device() && !options_.enable_overlap_schedule) return;
  for (size_t i = 0; i < step.reqs.size(); ++i) {
    const Req* r = step.reqs[i];
    if (step.sample_row[i] < 0) continue;
    const SamplingParams& p = r->params;
    step.device_sample[i] = static_cast<int>(step.input.sample_rows.size());
    // The output count (a pending token included) is the index of the token to sample.
    const double u = r->sampler->uniform(static_cast<uint64_t>(r->output_ids.size()));
    step.input.add_sample(step.sample_row[i], p.is_greedy() ? 0.0f : p.temperature, p.top_k, p.top_p, p.min_p,
                          static_cast<float>(u));
    if (r->sampler->has_penalties()) step.input.add_penalties(*r->sampler, info_.vocab_size);
    // Structured output: its bitmask goes with the row (ops::apply_token_mask after the
    // penalties), 16 KB for a 128K vocabulary instead of the row's logits coming back.
    if (r->sampler->constrained()) step.input.add_grammar_mask(*r->sampler, info_.vocab_size);
    if (p.return_logprob) step.input.add_logprobs(p.top_logprobs_num);
  }
}

void EngineImpl::process_outputs(ScheduledStep& step, const StepOutput& out) {
  const int64_t vocab = info_.vocab_size;
  const float* base = out.logits.data_as<float>();
  auto logits_row = [&](int row) { return base + static_cast<int64_t>(out.logits_index[static_cast<size_t>(row)]) * vocab; };
  // Sample every request that completed its fill this step and was not sampled on the
  // device, in one batch.
  std::vector<SamplerState*> states;
  std::vector<size_t> which;
  for (size_t i = 0; i < step.reqs.size(); ++i) {
    if (step.sample_row[i] >= 0 && step.device_sample[i] < 0 && !step.reqs[i]->finished()) {
      states.push_back(step.reqs[i]->sampler.get());
      which.push_back(i);
    }
  }
  std::vector<SampleOutput> samples;
  if (!states.empty()) {
    OwnedTensor rows = OwnedTensor::host({static_cast<int64_t>(states.size()), vocab}, DType::kF32);
    for (size_t k = 0; k < which.size(); ++k) {
      std::copy_n(logits_row(step.sample_row[which[k]]), vocab, rows.data_as<float>() + static_cast<int64_t>(k) * vocab);
    }
    // A row that cannot be sampled (no finite logit; a grammar dead end) ends only its
    // own request.
    std::vector<Status> row_errors;
    Status st = sample_batch(rows.view(), states, &samples, &row_errors);
    std::vector<SampleOutput> kept;
    std::vector<size_t> kept_which;
    for (size_t k = 0; k < which.size(); ++k) {
      const Status& e = st.is_ok() ? row_errors[k] : st;
      if (e.is_ok()) {
        kept.push_back(std::move(samples[k]));
        kept_which.push_back(which[k]);
        continue;
      }
      Req* r = step.reqs[which[k]];
      r->state = ReqState::kFinished;
      r->finish_reason = FinishReason::kAbort;
      r->error = e;
    }
    samples = std::move(kept);
    which = std::move(kept_which);
  }
  // Device-sampled tokens join the same list.
  for (size_t i = 0; i < step.reqs.size(); ++i) {
    if (step.device_sample[i] < 0 || step.reqs[i]->finished()) continue;
    const int32_t token = out.tokens[static_cast<size_t>(step.device_sample[i])];
    if (token < 0 || token >= vocab) {
      Req* r = step.reqs[i];
      r->state = ReqState::kFinished;
      r->finish_reason = FinishReason::kAbort;
      r->error = no_finite_logit(*r->sampler);  // a grammar dead end when constrained
      continue;
    }
    SampleOutput s;
    s.token = token;
    if (step.reqs[i]->params.return_logprob) {
      RADIX_CHECK(out.logprobs.size() ==
                  out.tokens.size());  // the runner fills every row it was asked for
      const TokenLogprob& lp = out.logprobs[static_cast<size_t>(step.device_sample[i])];
      s.logprob = lp.logprob;
      s.top = lp.top;
    }
    samples.push_back(std::move(s));
    which.push_back(i);
  }
  std::vector<int> sample_of(step.reqs.size(), -1);
  for (size_t k = 0; k < which.size(); ++k) sample_of[which[k]] = static_cast<int>(k);

  for (size_t i = 0; i < step.reqs.size(); ++i) {
    Req* r = step.reqs[i];
    // Prompt logprobs for the rows this chunk produced.
    if (step.prompt_lp_first_row[i] >= 0) {
      int pos = step.prompt_lp_first_pos[i];
      int row = step.prompt_lp_first_row[i];
      if (r->prompt_logprobs.empty() && r->params.logprob_start_len == 0) {
        TokenLogprob first;
        first.id = r->input_ids[0];
        first.logprob = std::nanf("");
        r->prompt_logprobs.push_back(first);
      }
      // This chunk's rows predict positions up to its last token + 1 (the next chunk's
      // first token), the prompt's end at most.
      const int end_pos = std::min<int>(static_cast<int>(r->input_ids.size()), step.fill_end[i] + 1);
      for (; pos < end_pos && pos > 0; ++pos, ++row) {
        std::span<const float> lg(logits_row(row), static_cast<size_t>(vocab));
        r->prompt_logprobs.push_back(token_logprob(lg, r->input_ids[pos], r->params.top_logprobs_num));
      }
      r->logprob_next_pos = pos;
    }
    if (r->finished()) {  // aborted mid-step; published at commit
      drop_pending_token(r);
      continue;
    }
    const bool completes = step.completes[i] != 0;
    RequestEvent ev;
    ev.index = r->index;
    ev.prompt_tokens = static_cast<int>(r->input_ids.size());
    ev.cached_tokens = r->prefix_hits;
    if (sample_of[i] >= 0) {
      const SampleOutput& s = samples[static_cast<size_t>(sample_of[i])];
      if (r->pending_out_index >= 0) {  // overlap scheduling: the token's place is held
        r->output_ids[static_cast<size_t>(r->pending_out_index)] = s.token;
        r->pending_out_index = -1;
        r->pending_sample = -1;
      } else {
        r->output_ids.push_back(s.token);
      }
      r->sampler->on_token(s.token);
      ++gen_tokens_;
      ++gen_tokens_since_log_;
      ev.token_ids.push_back(s.token);
      if (r->params.return_logprob) {
        TokenLogprob lp;
        lp.id = s.token;
        lp.logprob = s.logprob;
        lp.top = s.top;
        ev.logprobs.push_back(std::move(lp));
      }
      const int out = static_cast<int>(r->output_ids.size());
      const bool eos = std::find(info_.eos_token_ids.begin(), info_.eos_token_ids.end(), s.token) != info_.eos_token_ids.end();
      const bool stop_id = std::find(r->params.stop_token_ids.begin(), r->params.stop_token_ids.end(), s.token) !=
                           r->params.stop_token_ids.end();
      // (A grammar that matched a text which cannot go on ends it short of min_new_tokens.)
      const bool min_done = out >= r->params.min_new_tokens || (r->sampler->constrained() && !r->sampler->min_tokens_pending());
      if (((eos && !r->params.ignore_eos) || stop_id) && min_done) {
        r->finish_reason = FinishReason::kStop;
        r->matched_stop_token = s.token;
      } else if (out >= r->params.max_new_tokens || r->fill_len() >= runner_->context_len()) {
        r->finish_reason = FinishReason::kLength;
      }
    } else if (completes && r->params.max_new_tokens <= static_cast<int>(r->output_ids.size())) {
      r->finish_reason = FinishReason::kLength;  // max_new_tokens == 0: prompt only
    } else {
      continue;  // a prefill chunk: nothing to tell yet
    }
    if (!r->prompt_logprobs.empty() && (completes || r->finish_reason != FinishReason::kNone)) {
      ev.prompt_logprobs = std::move(r->prompt_logprobs);
      r->prompt_logprobs.clear();
    }
    ev.completion_tokens = static_cast<int>(r->output_ids.size());
    if (r->finish_reason != FinishReason::kNone) {
      r->state = ReqState::kFinished;
      ev.finished = true;
      ev.finish_reason = r->finish_reason;
      ev.matched_stop_token = r->matched_stop_token;
      r->finish_published = true;
    }
    publisher_.add(r->handle, std::move(ev));
  }
}

void EngineImpl::update_stats(bool log_decode) {
  std::lock_guard<std::mutex> lock(stats_mu_);
  stats_.num_running = scheduler_->num_running();
  stats_.num_queued = scheduler_->num_waiting();
  stats_.kv_total_slots = scheduler_->kv_capacity();
  stats_.kv_used_slots = scheduler_->kv_used();
  stats_.prompt_tokens_total = prompt_tokens_;
  stats_.generation_tokens_total = gen_tokens_;
  stats_.cache_hit_rate = prompt_tokens_ > 0 ? static_cast<double>(cached_tokens_) / static_cast<double>(prompt_tokens_) : 0.0;
  if (log_decode) {
    const auto now = std::chrono::steady_clock::now();
    const double dt = std::chrono::duration<double>(now - last_log_).count();
    stats_.gen_throughput = dt > 0 ? static_cast<double>(gen_tokens_since_log_) / dt : 0.0;
    last_log_ = now;
    gen_tokens_since_log_ = 0;
  }
}

// Overlap scheduling: a request that ends without taking its pending token gives the
// place back — unless a launched step already reads that position as its input (a
// request that failed mid-flight), where a neutral id keeps the lengths consistent and
// the request's KV is not cached.
void EngineImpl::drop_pending_token(Req* r) {
  if (r->pending_out_index < 0) return;
  const int pos = static_cast<int>(r->input_ids.size()) + r->pending_out_index;
  if (r->kv_len + r->extend_len > pos) {
    r->output_ids[static_cast<size_t>(r->pending_out_index)] = 0;
    if (r->error.is_ok()) r->error = internal_error("the request ended while its next step was running");
  } else {
    r->output_ids.erase(r->output_ids.begin() + r->pending_out_index);
  }
  r->pending_out_index = -1;
  r->pending_sample = -1;
}

void EngineImpl::fail_step(ScheduledStep& step, const Status& st) {
  RADIX_LOG_ERROR("forward failed: {}", st.to_string());
  for (Req* r : step.reqs) {
    if (r->finished()) continue;
    r->state = ReqState::kFinished;
    r->finish_reason = FinishReason::kAbort;
    r->error = st;
  }
}

bool EngineImpl::overlap_must_sync() const {
  // Retraction picks among running requests; do it with none in flight.
  if (scheduler_->pool_tight()) return true;
  // Penalties, the min_new_tokens mask and a grammar's state are built from the output
  // so far; a structured-output request steps synchronously from its first step on.
  for (const auto& r : scheduler_->running()) {
    if (!r->finished() && (r->sampler->has_penalties() || r->sampler->constrained())) return true;
  }
  for (const auto& r : scheduler_->waiting()) {
    if (r->sampler->constrained()) return true;
  }
  return false;
}

void EngineImpl::complete(ScheduledStep& step, StepOutput& out) {
  Status st = runner_->wait(step.input, &out);
  for (Req* r : step.reqs) r->in_flight--;
  if (!st.is_ok()) {
    fail_step(step, st);
    for (Req* r : step.reqs) drop_pending_token(r);
  } else {
    process_outputs(step, out);
  }
  std::vector<std::unique_ptr<Req>> finished = scheduler_->finalize();
  finish_and_publish(finished);
}

void EngineImpl::loop() {
  // Overlap scheduling keeps one step in flight: steps[cur ^ 1] when `pending`.
  ScheduledStep steps[2];
  StepOutput outs[2];
  int cur = 0;
  bool pending = false;
  const bool overlap = options_.enable_overlap_schedule;
  std::vector<std::unique_ptr<Req>> incoming;
  std::vector<std::pair<std::string, int>> aborts;
  std::vector<std::function<void(Scheduler&)>> commands;
  std::vector<std::unique_ptr<Req>> finished;
  bool running = true;
  while (running) {
    running = inbox_->drain(scheduler_->idle(), &incoming, &aborts, &commands);
    const auto t_begin = std::chrono::steady_clock::now();
    for (auto& r : incoming) {
      queued_ -= 1;
      prompt_tokens_ += static_cast<int64_t>(r->input_ids.size());
      scheduler_->add(std::move(r));
    }
    incoming.clear();
    for (const auto& [rid, choice] : aborts) scheduler_->abort(rid, choice, &finished);
    aborts.clear();
    finish_and_publish(finished);
    for (auto& c : commands) c(*scheduler_);
    commands.clear();
    if (pending && overlap_must_sync()) {
      complete(steps[cur ^ 1], outs[cur ^ 1]);
      pending = false;
    }

    ScheduledStep& step = steps[cur];
    StepOutput& out = outs[cur];
    if (!scheduler_->schedule(&step)) {
      if (pending) {  // nothing new to run: finish the step in flight
        complete(steps[cur ^ 1], outs[cur ^ 1]);
        pending = false;
        continue;
      }
      // Requests that ended outside a step (aborted while running) go now.
      finished = scheduler_->finalize();
      finish_and_publish(finished);
      update_stats(false);
      trace_.flush();  // idle: a finished run's steps are on disk
#ifndef NDEBUG
      const Status leak = scheduler_->check_no_leak();
      RADIX_CHECK(leak.is_ok());
#endif
      continue;
    }
    cached_tokens_ += step.new_cached_tokens;
    if (step.num_extend_tokens > 0) {
      const int64_t seen = static_cast<int64_t>(step.num_extend_tokens) + step.new_cached_tokens;
      RADIX_LOG_INFO(
          "Prefill batch. #new-seq: {}, #new-token: {}, #cached-token: {}, cache hit rate: {:.2f}%, token usage: {:.2f}, "
          "#decode: {}, #running-req: {}, #queue-req: {}",
          step.reqs.size() - static_cast<size_t>(step.num_decode), step.num_extend_tokens, step.new_cached_tokens,
          seen > 0 ? 100.0 * static_cast<double>(step.new_cached_tokens) / static_cast<double>(seen) : 0.0,
          scheduler_->kv_capacity() ? static_cast<double>(scheduler_->kv_used()) / static_cast<double>(scheduler_->kv_capacity()) : 0.0,
          step.num_decode, scheduler_->num_running(), scheduler_->num_waiting());
    }
    plan_device_sampling(step);
    if (pending) {
      std::lock_guard<std::mutex> lock(stats_mu_);
      ++stats_.overlapped_steps_total;
    }
    // A step with a structured-output row runs synchronously: the next step's mask needs
    // its token on the host.
    const bool overlap_step = overlap && std::none_of(step.reqs.begin(), step.reqs.end(), [](const Req* r) {
      return r->sampler->constrained();
    });
    // (overlap_must_sync drained the step in flight: a constrained request was waiting or running.)
    RADIX_CHECK(overlap_step || !pending);
    const auto t_forward = std::chrono::steady_clock::now();
    Status st = overlap_step ? runner_->launch(step.input, &out) : runner_->forward(step.input, &out);
    const auto t_forward_end = std::chrono::steady_clock::now();
    if (overlap_step) {
      // The previous step's results, while this one runs; then this one's bookkeeping
      // (its sampled tokens pending) so the next step can be scheduled before it ends.
      // This step holds its requests first (launched or not): one that finishes in the
      // previous step is released only once this step is done with it.
      for (Req* r : step.reqs) r->in_flight++;
      if (pending) complete(steps[cur ^ 1], outs[cur ^ 1]);
      if (st.is_ok()) {
        scheduler_->advance(&step, &step.device_sample);
        pending = true;
        cur ^= 1;
        // A small step is finished now, as without overlap: a request that arrives
        // while it runs then makes the next step.
        if (static_cast<int>(step.reqs.size()) < options_.overlap_min_batch) {
          complete(steps[cur ^ 1], outs[cur ^ 1]);
          pending = false;
        }
      } else {
        fail_step(step, st);
        scheduler_->advance(&step);
        for (Req* r : step.reqs) r->in_flight--;
        pending = false;
        finished = scheduler_->finalize();
        finish_and_publish(finished);
      }
    } else {
      if (!st.is_ok()) {
        fail_step(step, st);
      } else {
        process_outputs(step, out);
      }
      finished = scheduler_->commit(&step);
      finish_and_publish(finished);
    }
    const auto t_outputs_end = std::chrono::steady_clock::now();
    // The engine thread's own time for the step (inbox, schedule, sampling plan, outputs,
    // commit) next to the forward's (staging, GPU, sync).
    const double host_s = std::chrono::duration<double>((t_forward - t_begin) + (t_outputs_end - t_forward_end)).count();
    const double forward_s = std::chrono::duration<double>(t_forward_end - t_forward).count();
    if (trace_.enabled()) {
      StepRecord rec;
      rec.extend_seqs = static_cast<int>(step.reqs.size()) - step.num_decode;
      rec.extend_tokens = step.num_extend_tokens;
      rec.decode_rows = step.num_decode;
      rec.running = scheduler_->num_running();
      rec.queued = scheduler_->num_waiting();
      rec.kv_used = scheduler_->kv_used();
      rec.forward_ms = 1e3 * forward_s;
      rec.host_ms = 1e3 * host_s;
      rec.graph = st.is_ok() && out.graph;
      rec.cascade = !step.input.seq_group.empty();
      trace_.write(rec);
    }
    const bool decode_step = step.num_extend_tokens == 0;
    const bool log_decode = decode_step && ++decode_steps_ % 40 == 0;
    update_stats(log_decode);
    if (decode_step) {  // the scheduler overhead of docs/perf.md
      decode_host_s_ += host_s;
      decode_forward_s_ += forward_s;
      {
        std::lock_guard<std::mutex> lock(stats_mu_);
        ++stats_.decode_steps_total;
        if (!step.input.seq_group.empty()) ++stats_.cascade_decode_steps_total;
        stats_.decode_host_seconds_total += host_s;
        stats_.decode_forward_seconds_total += forward_s;
      }
      decode_schedule_s_ += std::chrono::duration<double>(t_forward - t_begin).count();
      decode_outputs_s_ += std::chrono::duration<double>(t_outputs_end - t_forward_end).count();
      ++decode_timed_;
    }
    if (log_decode) {
      const EngineStats s = stats();
      const double per_step = 1e3 / decode_timed_;
      const double host_ms = decode_host_s_ * per_step, sched_ms = decode_schedule_s_ * per_step;
      const double out_ms = decode_outputs_s_ * per_step;
      RADIX_LOG_INFO("Decode batch. #running-req: {}, #token: {}, token usage: {:.2f}, gen throughput (token/s): {:.2f}, "
                     "#queue-req: {}, host: {:.3f} ms/step (schedule {:.3f}, outputs {:.3f}, commit {:.3f}), "
                     "forward: {:.3f} ms/step",
                     s.num_running, s.kv_used_slots,
                     s.kv_total_slots ? static_cast<double>(s.kv_used_slots) / static_cast<double>(s.kv_total_slots) : 0.0,
                     s.gen_throughput, s.num_queued, host_ms, sched_ms, out_ms, host_ms - sched_ms - out_ms,
                     decode_forward_s_ * per_step);
      decode_host_s_ = decode_forward_s_ = decode_schedule_s_ = decode_outputs_s_ = 0;
      decode_timed_ = 0;
    }
  }
  if (pending) complete(steps[cur ^ 1], outs[cur ^ 1]);
  // Shutting down: everything still in flight (or still in the inbox) ends as aborted.
  inbox_->drain(false, &incoming, &aborts, &commands);
  for (auto& r : incoming) scheduler_->add(std::move(r));
  scheduler_->abort_all(&finished);
  finish_and_publish(finished);
  for (auto& c : commands) c(*scheduler_);
  trace_.close();
}

Result<std::unique_ptr<Engine>> Engine::create(const EngineOptions& options) {
  auto engine = std::make_unique<EngineImpl>(options);
  RADIX_RETURN_IF_ERROR(engine->init());
  return std::unique_ptr<Engine>(std::move(engine));
}

}  // namespace radix
