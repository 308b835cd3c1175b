// ServerMetrics: Prometheus counters and latency histograms the HTTP layer measures
// (TTFT, inter-token latency, end-to-end latency, requests by outcome), rendered together
// with the engine's gauges (running/queued requests, KV usage, cache hit rate, token
// counters) as Prometheus text for GET /metrics. Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/engine.h"

namespace radix::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double seconds);
  // Appends `name_bucket{le=...}`, `name_sum`, `name_count` lines.
  void render(const std::string& name, const std::string& help, std::string* out) const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); last is +Inf
  double sum_ = 0.0;
  uint64_t count_ = 0;
};

class ServerMetrics {
 public:
  ServerMetrics();

  void observe_ttft(double seconds) { ttft_.observe(seconds); }
  void observe_itl(double seconds) { itl_.observe(seconds); }
  void observe_e2e(double seconds) { e2e_.observe(seconds); }
  void count_request() { requests_total_.fetch_add(1, std::memory_order_relaxed); }
  void count_finished(FinishReason reason);
  void count_error(int http_status);

  // The full /metrics body.
  std::string render(const EngineStats& stats, const std::string& model_name) const;

 private:
  Histogram ttft_, itl_, e2e_;
  std::atomic<uint64_t> requests_total_{0};
  std::array<std::atomic<uint64_t>, 4> finished_{};  // by FinishReason
  std::atomic<uint64_t> client_errors_{0}, server_errors_{0};
};

}  // namespace radix::server
