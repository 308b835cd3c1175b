// Per-request timings of `radix bench serving` and the summary metrics computed from
// them with sglang.bench_serving's definitions (docs/bench-serving.md, "Metrics"):
// TTFT, TPOT = (latency - ttft) / (output_len - 1) over requests with output_len > 1,
// ITL = every gap between token-carrying chunks, E2E latency, throughputs over the
// whole run, and concurrency = sum of latencies / duration. Percentiles interpolate
// linearly between order statistics, as numpy.percentile does.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace radix {

class Tokenizer;

namespace bench {

// What one request saw. Times are seconds from the moment its HTTP request was sent.
struct RequestOutput {
  bool success = false;
  std::string error;                    // set when !success
  std::string generated_text;           // concatenated (or, for /generate, final cumulative) text
  double ttft = 0;                      // first chunk carrying output
  double latency = 0;                   // last chunk of the stream ([DONE] included)
  std::vector<double> itl;              // gaps between output-carrying chunks
  int prompt_len = 0;                   // from the dataset row
  int output_len = 0;                   // completion tokens as the server reported them
  bool output_len_from_server = false;  // false: the client re-tokenized the text
  int server_prompt_tokens = -1;  // prompt tokens as the server reported them; -1: not reported
};

struct LatencyStats {
  double mean_ms = 0, median_ms = 0, std_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0;
};

struct BenchmarkMetrics {
  int completed = 0;
  int failed = 0;
  double duration_s = 0;
  long long total_input = 0;               // the dataset's prompt lengths (SGLang's definition)
  long long total_input_server = -1;       // the server's prompt token counts; -1: none reported
  long long total_output = 0;              // server counts where reported, else re-tokenized
  long long total_output_retokenized = 0;  // always the client's re-tokenized count
  double request_throughput = 0;           // completed / duration
  double input_throughput = 0;             // tokens / s
  double output_throughput = 0;
  double output_throughput_retokenized = 0;
  double total_throughput = 0;  // (input + output) / duration
  LatencyStats ttft, tpot, itl, e2e;
  double concurrency = 0;  // sum of e2e latencies / duration
};

// numpy.percentile(values, p) with linear interpolation; 0 for an empty list.
double percentile(std::vector<double> values, double p);
LatencyStats latency_stats(const std::vector<double>& seconds);

// Fills output_len of successful outputs that lack a server count with the re-tokenized
// count (tok may be null: then those keep 0) and computes the summary.
BenchmarkMetrics compute_metrics(std::vector<RequestOutput>& outputs, double duration_s,
                                 const Tokenizer* tok);

// SGLang's summary table ("============ Serving Benchmark Result ============").
struct RunDescription {
  std::string backend;
  std::string request_rate;     // "inf" or a number
  std::string max_concurrency;  // "not set" or a number
};
std::string format_summary(const BenchmarkMetrics& m, const RunDescription& run);

// The metrics as the JSON object of one --output-file line (SGLang's key names).
nlohmann::json metrics_json(const BenchmarkMetrics& m);

}  // namespace bench
}  // namespace radix
