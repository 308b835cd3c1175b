// `radix bench serving`: an online-serving benchmark client that measures like
// sglang.bench_serving. It builds a workload (bench/datasets.h), sends it to any server
// that speaks SGLang's /generate or the OpenAI completions/chat APIs with streaming, at
// Poisson arrival times and under an optional concurrency cap, records per-request
// timings (bench/stream_parser.h) and reports SGLang's metrics (bench/serving_metrics.h).
//
// Concurrency model: the dispatcher (the calling thread) releases each request at its
// arrival time into a queue; a pool of worker threads, grown on demand up to
// --max-concurrency (unbounded when unset), takes one request at a time and runs it as a
// blocking streaming HTTP call. So a thread exists per in-flight request, and a request
// that arrives while the cap is reached waits for a free worker, as SGLang's semaphore
// makes it wait. docs/bench-serving.md has the details.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "bench/datasets.h"
#include "bench/serving_metrics.h"
#include "bench/stream_parser.h"
#include "core/status.h"

namespace radix::bench {

struct ServingOptions {
  std::string backend = "radix";
  std::string base_url;  // overrides host/port
  std::string host = "127.0.0.1";
  int port = 30000;
  std::string model;      // empty: the first id of GET /v1/models
  std::string tokenizer;  // dir or tokenizer.json; empty: the server's model path, if local
  std::string api_key;    // sent as a Bearer token when set
  DatasetOptions dataset;
  double request_rate = std::numeric_limits<double>::infinity();  // requests/s
  int max_concurrency = 0;                                        // 0: not set
  int warmup_requests = 1;
  bool disable_ignore_eos = false;
  bool tokenize_prompt = false;    // native backend: send input_ids instead of text
  std::string extra_request_body;  // JSON object merged into every request (RFC 7396)
  bool flush_cache = false;        // POST /flush_cache before the run
  std::string output_file;         // one JSON line appended
  bool output_details = false;     // per-request arrays in that line
  bool disable_progress = false;
};

struct ServingResult {
  BenchmarkMetrics metrics;
  nlohmann::json record;  // the --output-file line
  std::string summary;    // the printed table
};

// Runs the whole benchmark; setup problems (bad flags, unreachable server, no tokenizer,
// failed warmup) are errors, failed benchmark requests are counted in the metrics.
Result<ServingResult> run_bench_serving(const ServingOptions& options);

// ---- pieces, exposed for tests ----

struct BackendSpec {
  std::string name;
  StreamFormat format;
  std::string path;  // route under the base URL
};
// radix and sglang-native: /generate; sglang, sglang-oai, vllm, lmdeploy, openai:
// /v1/completions; openai-chat, sglang-oai-chat, vllm-chat, lmdeploy-chat:
// /v1/chat/completions.
Result<BackendSpec> find_backend(const std::string& name);

struct RequestBodyOptions {
  std::string model;
  bool ignore_eos = true;
  bool tokenize_prompt = false;
  nlohmann::json extra = nlohmann::json::object();
};
// The streaming request for one row (SGLang's payloads; greedy; usage requested on the
// OpenAI routes), with options.extra merged in as an RFC 7396 merge patch.
nlohmann::json request_body(StreamFormat format, const DatasetRow& row, int output_len,
                            const RequestBodyOptions& options);

// Send times (seconds from the start) of n requests: all 0 for an infinite rate, else a
// Poisson process (exponential gaps of mean 1/rate after the first request at 0).
std::vector<double> arrival_times(int n, double rate, uint64_t seed);

}  // namespace radix::bench
