// Prometheus text rendering of server and engine metrics (see metrics.h).
#include "server/metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace radix::server {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double seconds) {
  size_t b = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), seconds) -
                                 bounds_.begin());
  std::lock_guard<std::mutex> lock(mu_);
  counts_[b] += 1;
  sum_ += seconds;
  count_ += 1;
}

void Histogram::render(const std::string& name, const std::string& help, std::string* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  *out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    *out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i], cumulative);
  }
  cumulative += counts_.back();
  *out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
  *out += fmt::format("{}_sum {}\n{}_count {}\n", name, sum_, name, count_);
}

ServerMetrics::ServerMetrics()
    : ttft_({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
             10.0, 20.0, 40.0, 80.0}),
      itl_({0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05,
            0.075, 0.1,    0.15,  0.2,    0.3,  0.4,   0.5,  0.75,  1.0,  2.5}),
      e2e_({0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0, 60.0, 120.0, 300.0, 600.0}) {}

void ServerMetrics::count_finished(FinishReason reason) {
  size_t i = static_cast<size_t>(reason);
  if (i < finished_.size()) finished_[i].fetch_add(1, std::memory_order_relaxed);
}

void ServerMetrics::count_error(int http_status) {
  (http_status >= 500 ? server_errors_ : client_errors_).fetch_add(1, std::memory_order_relaxed);
}

std::string ServerMetrics::render(const EngineStats& s, const std::string& model_name) const {
  std::string out;
  std::string label = fmt::format("{{model_name=\"{}\"}}", model_name);
  auto gauge = [&](const char* name, const char* help, double v) {
    out += fmt::format("# HELP radix:{} {}\n# TYPE radix:{} gauge\nradix:{}{} {}\n", name, help,
                       name, name, label, v);
  };
  auto counter = [&](const char* name, const char* help, double v) {
    out += fmt::format("# HELP radix:{} {}\n# TYPE radix:{} counter\nradix:{}{} {}\n", name, help,
                       name, name, label, v);
  };
  gauge("num_running_reqs", "Requests in the running batch.", s.num_running);
  gauge("num_queue_reqs", "Requests waiting to be scheduled.", s.num_queued);
  gauge("kv_used_slots", "KV cache slots held by running requests (unlocked radix-cache entries count as free).",
        static_cast<double>(s.kv_used_slots));
  gauge("kv_total_slots", "KV cache slots in the pool.", static_cast<double>(s.kv_total_slots));
  gauge("token_usage", "Fraction of KV cache slots in use.",
        s.kv_total_slots > 0 ? static_cast<double>(s.kv_used_slots) / s.kv_total_slots : 0.0);
  gauge("cache_hit_rate", "Prompt tokens served from the radix cache / prompt tokens.",
        s.cache_hit_rate);
  gauge("gen_throughput", "Generated tokens per second over the last interval.", s.gen_throughput);
  counter("prompt_tokens_total", "Prompt tokens processed.",
          static_cast<double>(s.prompt_tokens_total));
  counter("generation_tokens_total", "Tokens generated.",
          static_cast<double>(s.generation_tokens_total));
  counter("num_requests_total", "Generation requests received.",
          static_cast<double>(requests_total_.load()));
  counter("decode_steps_total", "Decode steps run by the engine.", static_cast<double>(s.decode_steps_total));
  counter("cascade_decode_steps_total", "Decode steps that read shared prefixes once per group (cascade attention).",
          static_cast<double>(s.cascade_decode_steps_total));
  counter("decode_host_seconds_total",
          "Engine-thread time of decode steps outside the forward (schedule, outputs, commit).",
          s.decode_host_seconds_total);
  counter("decode_forward_seconds_total", "Time of decode steps in the model forward (staging, GPU, sync).",
          s.decode_forward_seconds_total);
  out +=
      "# HELP radix:num_finished_requests_total Finished generation choices by reason.\n"
      "# TYPE radix:num_finished_requests_total counter\n";
  const char* reasons[] = {"none", "stop", "length", "abort"};
  for (size_t i = 1; i < finished_.size(); ++i) {
    out += fmt::format("radix:num_finished_requests_total{{model_name=\"{}\",reason=\"{}\"}} {}\n",
                       model_name, reasons[i], finished_[i].load());
  }
  counter("num_client_errors_total", "Requests answered with a 4xx status.",
          static_cast<double>(client_errors_.load()));
  counter("num_server_errors_total", "Requests answered with a 5xx status.",
          static_cast<double>(server_errors_.load()));
  ttft_.render("radix:time_to_first_token_seconds", "Time to first token.", &out);
  itl_.render("radix:inter_token_latency_seconds", "Time between consecutive output tokens.", &out);
  e2e_.render("radix:e2e_request_latency_seconds", "End-to-end request latency.", &out);
  return out;
}

}  // namespace radix::server
