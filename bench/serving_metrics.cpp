#include "bench/serving_metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string_view>

#include "tokenizer/tokenizer.h"

namespace radix::bench {

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (rank - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

LatencyStats latency_stats(const std::vector<double>& seconds) {
  LatencyStats s;
  if (seconds.empty()) return s;
  const double n = static_cast<double>(seconds.size());
  const double mean = std::accumulate(seconds.begin(), seconds.end(), 0.0) / n;
  double var = 0;
  for (double x : seconds) var += (x - mean) * (x - mean);
  s.mean_ms = mean * 1000;
  s.std_ms = std::sqrt(var / n) * 1000;  // numpy.std: population
  s.median_ms = percentile(seconds, 50) * 1000;
  s.p95_ms = percentile(seconds, 95) * 1000;
  s.p99_ms = percentile(seconds, 99) * 1000;
  s.max_ms = *std::max_element(seconds.begin(), seconds.end()) * 1000;
  return s;
}

BenchmarkMetrics compute_metrics(std::vector<RequestOutput>& outputs, double duration_s,
                                 const Tokenizer* tok) {
  BenchmarkMetrics m;
  m.duration_s = duration_s;
  std::vector<double> ttfts, tpots, itls, e2es;
  for (RequestOutput& o : outputs) {
    if (!o.success) {
      ++m.failed;
      continue;
    }
    const int retokenized =
        tok ? static_cast<int>(tok->encode(o.generated_text, /*add_special_tokens=*/false).size())
            : 0;
    if (!o.output_len_from_server) o.output_len = retokenized;
    ++m.completed;
    m.total_input += o.prompt_len;
    if (o.server_prompt_tokens >= 0)
      m.total_input_server = std::max(m.total_input_server, 0LL) + o.server_prompt_tokens;
    m.total_output += o.output_len;
    m.total_output_retokenized += retokenized;
    if (o.output_len > 1) tpots.push_back((o.latency - o.ttft) / (o.output_len - 1));
    itls.insert(itls.end(), o.itl.begin(), o.itl.end());
    ttfts.push_back(o.ttft);
    e2es.push_back(o.latency);
  }
  if (duration_s > 0) {
    m.request_throughput = m.completed / duration_s;
    m.input_throughput = static_cast<double>(m.total_input) / duration_s;
    m.output_throughput = static_cast<double>(m.total_output) / duration_s;
    m.output_throughput_retokenized = static_cast<double>(m.total_output_retokenized) / duration_s;
    m.total_throughput = static_cast<double>(m.total_input + m.total_output) / duration_s;
    m.concurrency = std::accumulate(e2es.begin(), e2es.end(), 0.0) / duration_s;
  }
  m.ttft = latency_stats(ttfts);
  m.tpot = latency_stats(tpots);
  m.itl = latency_stats(itls);
  m.e2e = latency_stats(e2es);
  return m;
}

std::string format_summary(const BenchmarkMetrics& m, const RunDescription& run) {
  std::string out;
  auto title = [&](std::string_view s, char fill) {  // Python's "{:c^50}": extra fill on the right
    const size_t pad = s.size() < 50 ? 50 - s.size() : 0;
    out += std::string(pad / 2, fill) + std::string(s) + std::string(pad - pad / 2, fill) + "\n";
  };
  auto row = [&](const std::string& label, const std::string& value) {
    out += fmt::format("{:<40} {:<10}\n", label, value);
  };
  auto num = [](double v) { return fmt::format("{:.2f}", v); };
  title(" Serving Benchmark Result ", '=');
  row("Backend:", run.backend);
  row("Traffic request rate:", run.request_rate);
  row("Max request concurrency:", run.max_concurrency);
  row("Successful requests:", std::to_string(m.completed));
  row("Failed requests:", std::to_string(m.failed));
  row("Benchmark duration (s):", num(m.duration_s));
  row("Total input tokens:", std::to_string(m.total_input));
  row("Total generated tokens:", std::to_string(m.total_output));
  row("Total generated tokens (retokenized):", std::to_string(m.total_output_retokenized));
  row("Request throughput (req/s):", num(m.request_throughput));
  row("Input token throughput (tok/s):", num(m.input_throughput));
  row("Output token throughput (tok/s):", num(m.output_throughput));
  row("Total token throughput (tok/s):", num(m.total_throughput));
  row("Concurrency:", num(m.concurrency));
  auto section = [&](std::string_view heading, std::string_view name, const LatencyStats& st,
                     bool tail) {
    title(heading, '-');
    row(fmt::format("Mean {} (ms):", name), num(st.mean_ms));
    row(fmt::format("Median {} (ms):", name), num(st.median_ms));
    if (tail) row(fmt::format("P95 {} (ms):", name), num(st.p95_ms));
    row(fmt::format("P99 {} (ms):", name), num(st.p99_ms));
    if (tail) row(fmt::format("Max {} (ms):", name), num(st.max_ms));
  };
  section("End-to-End Latency", "E2E Latency", m.e2e, false);
  section("Time to First Token", "TTFT", m.ttft, false);
  section("Time per Output Token (excl. 1st token)", "TPOT", m.tpot, false);
  section("Inter-Token Latency", "ITL", m.itl, true);
  out += std::string(50, '=') + "\n";
  return out;
}

nlohmann::json metrics_json(const BenchmarkMetrics& m) {
  nlohmann::json j = {
      {"duration", m.duration_s},
      {"completed", m.completed},
      {"failed", m.failed},
      {"total_input_tokens", m.total_input},
      {"total_input_tokens_server",
       m.total_input_server >= 0 ? nlohmann::json(m.total_input_server) : nlohmann::json()},
      {"total_output_tokens", m.total_output},
      {"total_output_tokens_retokenized", m.total_output_retokenized},
      {"request_throughput", m.request_throughput},
      {"input_throughput", m.input_throughput},
      {"output_throughput", m.output_throughput},
      {"output_throughput_retokenized", m.output_throughput_retokenized},
      {"total_throughput", m.total_throughput},
      {"concurrency", m.concurrency},
  };
  auto add = [&j](const std::string& name, const LatencyStats& s, bool with_tail) {
    j["mean_" + name + "_ms"] = s.mean_ms;
    j["median_" + name + "_ms"] = s.median_ms;
    j["std_" + name + "_ms"] = s.std_ms;
    j["p99_" + name + "_ms"] = s.p99_ms;
    if (with_tail) {
      j["p95_" + name + "_ms"] = s.p95_ms;
      j["max_" + name + "_ms"] = s.max_ms;
    }
  };
  add("ttft", m.ttft, false);
  add("tpot", m.tpot, false);
  add("itl", m.itl, true);
  add("e2e_latency", m.e2e, false);
  return j;
}

}  // namespace radix::bench
