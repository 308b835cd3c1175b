#include "bench/serving.h"

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

#include "bench/http_client.h"
#include "core/logging.h"
#include "tokenizer/tokenizer.h"

namespace radix::bench {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Worker threads created on demand, at most max_workers (0: unbounded); each runs one
// queued job at a time. A job waits in the queue only while every worker is busy.
class WorkerPool {
 public:
  WorkerPool(size_t max_workers, std::function<void(size_t)> job)
      : max_workers_(max_workers), job_(std::move(job)) {}
  ~WorkerPool() { join(); }

  void submit(size_t index) {
    std::lock_guard lock(mu_);
    queue_.push_back(index);
    if (queue_.size() > idle_ && (max_workers_ == 0 || threads_.size() < max_workers_)) {
      try {
        threads_.emplace_back([this] { loop(); });
      } catch (const std::system_error& e) {
        // Out of threads: the running workers drain the queue; say so once.
        if (threads_.empty()) throw;
        if (!spawn_warned_)
          RADIX_LOG_WARN("bench: cannot start more threads ({}); {} workers continue", e.what(),
                         threads_.size());
        spawn_warned_ = true;
      }
    }
    cv_.notify_one();
  }

  void join() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  size_t num_threads() {
    std::lock_guard lock(mu_);
    return threads_.size();
  }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [this] { return !queue_.empty() || closed_; });
      --idle_;
      if (queue_.empty()) return;  // closed
      const size_t index = queue_.front();
      queue_.pop_front();
      lock.unlock();
      job_(index);
      lock.lock();
    }
  }

  size_t max_workers_;
  std::function<void(size_t)> job_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<size_t> queue_;
  size_t idle_ = 0;
  bool closed_ = false;
  bool spawn_warned_ = false;
  std::vector<std::thread> threads_;
};

// One streamed request, timed from the moment it is sent.
RequestOutput run_request(const BaseUrl& base, const BackendSpec& backend, const std::string& body,
                          const HttpHeaders& headers, int prompt_len) {
  RequestOutput out;
  SseParser sse;
  StreamRecorder recorder(backend.format);
  std::vector<std::string> events;
  const Clock::time_point st = Clock::now();
  auto on_body = [&](const char* data, size_t n) {
    const double t = seconds_since(st);
    events.clear();
    sse.feed(std::string_view(data, n), &events);
    for (const auto& e : events) recorder.on_event(e, t);
    return true;
  };
  StreamResult r = http_post_stream(base, backend.path, body, headers, HttpTimeouts{}, on_body);
  const double t_end = seconds_since(st);
  if (r.status != 200 || !r.error.empty()) {
    out.success = false;
    out.error = r.error.empty() ? "HTTP " + std::to_string(r.status) : r.error;
    out.latency = t_end;
  } else {
    events.clear();
    sse.finish(&events);
    for (const auto& e : events) recorder.on_event(e, t_end);
    recorder.finish(t_end, &out);
  }
  out.prompt_len = prompt_len;
  return out;
}

// Prints "[bench serving] 12/100 done, 0 failed, 3.2 s" on stderr: in place on a
// terminal, otherwise a line per tenth of the run.
class Progress {
 public:
  Progress(int total, bool enabled)
      : total_(total), enabled_(enabled), tty_(isatty(STDERR_FILENO) != 0) {}

  void update(int done, int failed, double elapsed) {
    if (!enabled_) return;
    const bool last = done == total_;
    if (tty_) {
      if (!last && elapsed - last_time_ < 0.1) return;  // at most 10 redraws a second
    } else {
      const int step = std::max(1, (total_ + 9) / 10);
      if (!last && done / step == last_printed_ / step) return;
    }
    last_printed_ = done;
    last_time_ = elapsed;
    std::fprintf(stderr, "%s[bench serving] %d/%d done, %d failed, %.1f s%s", tty_ ? "\r" : "",
                 done, total_, failed, elapsed, tty_ ? "" : "\n");
    std::fflush(stderr);
  }
  void end() {
    if (enabled_ && tty_) std::fprintf(stderr, "\n");
  }

 private:
  int total_;
  bool enabled_;
  bool tty_;
  int last_printed_ = 0;
  double last_time_ = -1;
};

void raise_open_file_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  const rlim_t want = std::min<rlim_t>(lim.rlim_max, 65535);
  if (lim.rlim_cur < want) {
    lim.rlim_cur = want;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

bool has_tokenizer_json(const std::string& dir) {
  std::error_code ec;
  return !dir.empty() &&
         std::filesystem::is_regular_file(std::filesystem::path(dir) / "tokenizer.json", ec);
}

// --tokenizer, else the server's model (or tokenizer) path when it is a local directory
// with a tokenizer.json, else --model when it is one.
Result<std::string> resolve_tokenizer(const ServingOptions& o, const BaseUrl& base,
                                      const HttpHeaders& headers, const std::string& model) {
  if (!o.tokenizer.empty()) return o.tokenizer;
  std::vector<std::string> candidates;
  for (const char* route : {"/get_model_info", "/get_server_info"}) {
    auto info = http_get_json(base, route, headers, HttpTimeouts{10, 30});
    if (!info.is_ok() || !info->is_object()) continue;
    for (const char* key : {"tokenizer_path", "model_path"}) {
      if (info->contains(key) && (*info)[key].is_string())
        candidates.push_back((*info)[key].get<std::string>());
    }
  }
  candidates.push_back(model);
  for (const auto& c : candidates) {
    if (has_tokenizer_json(c)) return c;
  }
  return invalid_argument(
      "cannot find the tokenizer: the server's model path is not a local directory with a "
      "tokenizer.json; "
      "pass --tokenizer DIR (or DIR/tokenizer.json)");
}

Result<std::shared_ptr<Tokenizer>> load_tokenizer(const std::string& path) {
  if (path.ends_with(".json")) return Tokenizer::from_file(path);
  return Tokenizer::from_dir(path);
}

std::string first_model_id(const json& models) {
  if (!models.is_object() || !models.contains("data") || !models["data"].is_array() ||
      models["data"].empty()) {
    return "";
  }
  const json& first = models["data"][0];
  return first.is_object() && first.contains("id") && first["id"].is_string()
             ? first["id"].get<std::string>()
             : "";
}

std::string rate_string(double rate) {
  if (std::isinf(rate)) return "inf";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%g", rate);
  return buf;
}

}  // namespace

Result<BackendSpec> find_backend(const std::string& name) {
  static const std::vector<BackendSpec> kBackends = {
      {"radix", StreamFormat::kGenerate, "/generate"},
      {"sglang-native", StreamFormat::kGenerate, "/generate"},
      {"sglang", StreamFormat::kCompletions, "/v1/completions"},
      {"sglang-oai", StreamFormat::kCompletions, "/v1/completions"},
      {"vllm", StreamFormat::kCompletions, "/v1/completions"},
      {"lmdeploy", StreamFormat::kCompletions, "/v1/completions"},
      {"openai", StreamFormat::kCompletions, "/v1/completions"},
      {"openai-chat", StreamFormat::kChatCompletions, "/v1/chat/completions"},
      {"sglang-oai-chat", StreamFormat::kChatCompletions, "/v1/chat/completions"},
      {"vllm-chat", StreamFormat::kChatCompletions, "/v1/chat/completions"},
      {"lmdeploy-chat", StreamFormat::kChatCompletions, "/v1/chat/completions"},
  };
  std::string names;
  for (const auto& b : kBackends) {
    if (b.name == name) return b;
    names += (names.empty() ? "" : ", ") + b.name;
  }
  return invalid_argument("--backend '" + name + "' is not one of " + names);
}

json request_body(StreamFormat format, const DatasetRow& row, int output_len,
                  const RequestBodyOptions& o) {
  json body;
  switch (format) {
    case StreamFormat::kGenerate:
      if (o.tokenize_prompt) {
        body["input_ids"] = row.prompt_ids;
      } else {
        body["text"] = row.prompt;
      }
      body["sampling_params"] = {
          {"temperature", 0.0}, {"max_new_tokens", output_len}, {"ignore_eos", o.ignore_eos}};
      body["stream"] = true;
      break;
    case StreamFormat::kCompletions:
    case StreamFormat::kChatCompletions:
      body = {{"model", o.model},           {"temperature", 0.0},
              {"max_tokens", output_len},   {"stream", true},
              {"ignore_eos", o.ignore_eos}, {"stream_options", {{"include_usage", true}}}};
      if (format == StreamFormat::kCompletions) {
        body["prompt"] = row.prompt;
      } else {
        body["messages"] = json::array({{{"role", "user"}, {"content", row.prompt}}});
      }
      break;
  }
  if (!o.extra.empty()) body.merge_patch(o.extra);
  return body;
}

std::vector<double> arrival_times(int n, double rate, uint64_t seed) {
  std::vector<double> t(static_cast<size_t>(std::max(n, 0)), 0.0);
  if (std::isinf(rate)) return t;
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> gap(rate);
  for (size_t i = 1; i < t.size(); ++i) t[i] = t[i - 1] + gap(rng);
  return t;
}

Result<ServingResult> run_bench_serving(const ServingOptions& o) {
  RADIX_ASSIGN_OR_RETURN(BackendSpec backend, find_backend(o.backend));
  if (!(o.request_rate > 0)) return invalid_argument("--request-rate must be > 0 (or inf)");
  if (o.max_concurrency < 0) return invalid_argument("--max-concurrency must be >= 1");
  if (o.warmup_requests < 0) return invalid_argument("--warmup-requests must be >= 0");
  RequestBodyOptions body_options;
  body_options.ignore_eos = !o.disable_ignore_eos;
  body_options.tokenize_prompt = o.tokenize_prompt;
  if (!o.extra_request_body.empty()) {
    body_options.extra = json::parse(o.extra_request_body, nullptr, /*allow_exceptions=*/false);
    if (body_options.extra.is_discarded() || !body_options.extra.is_object()) {
      return invalid_argument("--extra-request-body must be a JSON object");
    }
  }
  RADIX_ASSIGN_OR_RETURN(
      BaseUrl base,
      parse_base_url(o.base_url.empty() ? "http://" + o.host + ":" + std::to_string(o.port)
                                        : o.base_url));
  HttpHeaders headers;
  if (!o.api_key.empty()) headers.emplace_back("Authorization", "Bearer " + o.api_key);
  raise_open_file_limit();

  // Model, tokenizer, workload.
  std::string model = o.model;
  if (model.empty()) {
    auto models = http_get_json(base, "/v1/models", headers, HttpTimeouts{10, 60});
    if (!models.is_ok())
      return models.status().with_context("fetching the model id (or pass --model)");
    model = first_model_id(*models);
    if (model.empty())
      return not_found(base.to_string() + "/v1/models lists no model; pass --model");
  }
  body_options.model = model;
  RADIX_ASSIGN_OR_RETURN(std::string tokenizer_path, resolve_tokenizer(o, base, headers, model));
  auto tok = load_tokenizer(tokenizer_path);
  if (!tok.is_ok())
    return tok.status().with_context("loading the tokenizer from " + tokenizer_path);
  auto rows = build_dataset(o.dataset, **tok);
  if (!rows.is_ok()) return rows.status();
  const int n = static_cast<int>(rows->size());
  long long planned_in = 0, planned_out = 0;
  for (const auto& r : *rows) {
    planned_in += r.prompt_len;
    planned_out += r.output_len;
  }
  std::fprintf(stderr, "[bench serving] %s %s, model %s, tokenizer %s\n", backend.name.c_str(),
               (base.to_string() + backend.path).c_str(), model.c_str(), tokenizer_path.c_str());
  std::fprintf(stderr,
               "[bench serving] dataset %s: %d prompts, #input tokens %lld, #output tokens %lld\n",
               o.dataset.name.c_str(), n, planned_in, planned_out);

  std::vector<std::string> bodies;
  bodies.reserve(static_cast<size_t>(n));
  for (const auto& r : *rows)
    bodies.push_back(request_body(backend.format, r, r.output_len, body_options).dump());

  // Warmup: the first row, at most 32 output tokens, all at once.
  if (o.warmup_requests > 0 && n > 0) {
    const DatasetRow& first = (*rows)[0];
    const std::string body =
        request_body(backend.format, first, std::min(first.output_len, 32), body_options).dump();
    std::vector<RequestOutput> warm(static_cast<size_t>(o.warmup_requests));
    std::vector<std::thread> threads;
    for (auto& w : warm) {
      threads.emplace_back(
          [&, out = &w] { *out = run_request(base, backend, body, headers, first.prompt_len); });
    }
    for (auto& t : threads) t.join();
    bool any = false;
    for (const auto& w : warm) any = any || w.success;
    if (!any) return unavailable("warmup failed: " + warm[0].error);
  }
  if (o.flush_cache) {
    auto r = http_post_json(base, "/flush_cache", "", headers);
    if (!r.is_ok()) RADIX_LOG_WARN("bench: /flush_cache: {}", r.status().message());
  }

  // The run.
  std::vector<RequestOutput> outputs(static_cast<size_t>(n));
  std::mutex done_mu;
  std::condition_variable done_cv;
  int done = 0, failed = 0;
  std::atomic<int> in_flight{0}, peak_in_flight{0};
  const std::vector<double> arrivals = arrival_times(n, o.request_rate, o.dataset.seed + 1);
  const Clock::time_point start = Clock::now();
  {
    WorkerPool pool(static_cast<size_t>(o.max_concurrency), [&](size_t i) {
      const int now_in_flight = ++in_flight;
      for (int peak = peak_in_flight.load();
           now_in_flight > peak && !peak_in_flight.compare_exchange_weak(peak, now_in_flight);) {
      }
      RequestOutput out = run_request(base, backend, bodies[i], headers, (*rows)[i].prompt_len);
      --in_flight;
      std::lock_guard lock(done_mu);
      failed += out.success ? 0 : 1;
      outputs[i] = std::move(out);
      ++done;
      done_cv.notify_all();
    });
    Progress progress(n, !o.disable_progress);
    std::thread progress_thread([&] {
      std::unique_lock lock(done_mu);
      for (;;) {
        progress.update(done, failed, seconds_since(start));
        if (done == n) break;
        done_cv.wait_for(lock, std::chrono::milliseconds(500));
      }
    });
    for (int i = 0; i < n; ++i) {
      std::this_thread::sleep_until(
          start + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(arrivals[static_cast<size_t>(i)])));
      pool.submit(static_cast<size_t>(i));
    }
    progress_thread.join();
    progress.end();
    pool.join();
  }
  const double duration = seconds_since(start);

  // Results.
  ServingResult result;
  result.metrics = compute_metrics(outputs, duration, tok->get());
  RunDescription run{backend.name, rate_string(o.request_rate),
                     o.max_concurrency > 0 ? std::to_string(o.max_concurrency) : "not set"};
  result.summary = format_summary(result.metrics, run);
  int from_server = 0;
  std::string first_error;
  for (const auto& out : outputs) {
    from_server += out.success && out.output_len_from_server ? 1 : 0;
    if (!out.success && first_error.empty()) first_error = out.error;
  }
  if (!first_error.empty()) {
    std::fprintf(stderr, "[bench serving] %d requests failed; the first error: %s\n",
                 result.metrics.failed, first_error.c_str());
  }
  json rec = {
      {"backend", backend.name},
      {"base_url", base.to_string()},
      {"model", model},
      {"tokenizer", tokenizer_path},
      {"dataset_name", o.dataset.name},
      {"dataset_path", o.dataset.path},
      {"num_prompts", n},
      {"request_rate", std::isinf(o.request_rate) ? json("inf") : json(o.request_rate)},
      {"max_concurrency", o.max_concurrency > 0 ? json(o.max_concurrency) : json(nullptr)},
      {"random_input_len", o.dataset.random_input_len},
      {"random_output_len", o.dataset.random_output_len},
      {"random_range_ratio", o.dataset.random_range_ratio},
      {"sharegpt_output_len",
       o.dataset.sharegpt_output_len > 0 ? json(o.dataset.sharegpt_output_len) : json(nullptr)},
      {"seed", o.dataset.seed},
      {"ignore_eos", !o.disable_ignore_eos},
      {"output_tokens_source", from_server == result.metrics.completed ? "server"
                               : from_server == 0                      ? "retokenized"
                                                                       : "mixed"},
      {"first_error", first_error.empty() ? json(nullptr) : json(first_error)},
      {"peak_in_flight", peak_in_flight.load()},
  };
  if (o.dataset.name == "generated-shared-prefix") {
    rec["gsp_num_groups"] = o.dataset.gsp_num_groups;
    rec["gsp_prompts_per_group"] = o.dataset.gsp_prompts_per_group;
    rec["gsp_system_prompt_len"] = o.dataset.gsp_system_prompt_len;
    rec["gsp_question_len"] = o.dataset.gsp_question_len;
    rec["gsp_output_len"] = o.dataset.gsp_output_len;
  }
  rec.update(metrics_json(result.metrics));
  if (o.output_details) {
    json in = json::array(), out = json::array(), ttft = json::array(), itl = json::array(),
         text = json::array(), err = json::array();
    for (const auto& r : outputs) {
      in.push_back(r.prompt_len);
      out.push_back(r.success ? r.output_len : 0);
      ttft.push_back(r.ttft);
      itl.push_back(r.itl);
      text.push_back(r.generated_text);
      err.push_back(r.error);
    }
    rec["input_lens"] = in;
    rec["output_lens"] = out;
    rec["ttfts"] = ttft;
    rec["itls"] = itl;
    rec["generated_texts"] = text;
    rec["errors"] = err;
  }
  if (!o.output_file.empty()) {
    std::ofstream f(o.output_file, std::ios::app);
    f << rec.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    if (!f) return data_loss("cannot append to --output-file " + o.output_file);
  }
  result.record = std::move(rec);
  return result;
}

}  // namespace radix::bench
