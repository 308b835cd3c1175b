// bench serving metrics on synthetic timings: numpy's percentiles, SGLang's TPOT (first
// token excluded, single-token outputs skipped), ITL pooled over requests, throughputs,
// concurrency, failures, and the re-tokenized fallback for output counts.
#include "bench/serving_metrics.h"

#include <gtest/gtest.h>

#include "tokenizer/tokenizer.h"

namespace radix::bench {
namespace {

TEST(Percentile, InterpolatesLinearlyLikeNumpy) {
  EXPECT_DOUBLE_EQ(percentile({}, 50), 0.0);
  EXPECT_DOUBLE_EQ(percentile({7}, 99), 7.0);
  EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2}, 50), 2.5);  // unsorted input
  EXPECT_DOUBLE_EQ(percentile({10, 20, 30}, 95), 29.0);
  std::vector<double> hundred;
  for (int i = 1; i <= 100; ++i) hundred.push_back(i);
  EXPECT_NEAR(percentile(hundred, 99), 99.01, 1e-9);  // numpy.percentile(range(1, 101), 99)
  EXPECT_DOUBLE_EQ(percentile(hundred, 0), 1.0);
  EXPECT_DOUBLE_EQ(percentile(hundred, 100), 100.0);
}

TEST(LatencyStats, UsesPopulationStdAndMilliseconds) {
  LatencyStats s = latency_stats({0.001, 0.003});
  EXPECT_DOUBLE_EQ(s.mean_ms, 2.0);
  EXPECT_DOUBLE_EQ(s.median_ms, 2.0);
  EXPECT_DOUBLE_EQ(s.std_ms, 1.0);
  EXPECT_DOUBLE_EQ(s.max_ms, 3.0);
}

RequestOutput ok_request(double ttft, std::vector<double> itl, double latency, int prompt_len,
                         int output_len) {
  RequestOutput r;
  r.success = true;
  r.ttft = ttft;
  r.itl = std::move(itl);
  r.latency = latency;
  r.prompt_len = prompt_len;
  r.output_len = output_len;
  r.output_len_from_server = true;
  return r;
}

TEST(ComputeMetrics, FollowsSglangDefinitions) {
  std::vector<RequestOutput> outs;
  outs.push_back(ok_request(0.100, {0.050, 0.050, 0.100}, 0.300, 10, 4));  // TPOT (0.3-0.1)/3
  outs.push_back(ok_request(0.200, {0.400}, 0.600, 20, 2));                // TPOT 0.4
  outs.push_back(ok_request(0.300, {}, 0.300, 30, 1));                     // no TPOT
  RequestOutput failed;
  failed.success = false;
  failed.error = "HTTP 500";
  failed.prompt_len = 1000;
  failed.latency = 5.0;
  outs.push_back(failed);

  BenchmarkMetrics m = compute_metrics(outs, 2.0, nullptr);
  EXPECT_EQ(m.completed, 3);
  EXPECT_EQ(m.failed, 1);
  EXPECT_EQ(m.total_input, 60);         // failed requests count no tokens
  EXPECT_EQ(m.total_input_server, -1);  // no server counts
  EXPECT_EQ(m.total_output, 7);
  EXPECT_DOUBLE_EQ(m.request_throughput, 1.5);
  EXPECT_DOUBLE_EQ(m.input_throughput, 30.0);
  EXPECT_DOUBLE_EQ(m.output_throughput, 3.5);
  EXPECT_DOUBLE_EQ(m.total_throughput, 33.5);
  EXPECT_DOUBLE_EQ(m.concurrency, (0.3 + 0.6 + 0.3) / 2.0);

  EXPECT_NEAR(m.ttft.mean_ms, 200.0, 1e-9);
  EXPECT_NEAR(m.ttft.median_ms, 200.0, 1e-9);
  EXPECT_NEAR(m.ttft.p99_ms, 298.0, 1e-9);  // 200 + 0.98 * (300 - 200)
  const double tpot_a = 0.2 / 3, tpot_b = 0.4;
  EXPECT_NEAR(m.tpot.mean_ms, 1000 * (tpot_a + tpot_b) / 2, 1e-9);
  EXPECT_NEAR(m.tpot.median_ms, 1000 * (tpot_a + tpot_b) / 2, 1e-9);
  // ITL pools every gap of every request: {50, 50, 100, 400} ms.
  EXPECT_NEAR(m.itl.mean_ms, 150.0, 1e-9);
  EXPECT_NEAR(m.itl.median_ms, 75.0, 1e-9);
  EXPECT_NEAR(m.itl.max_ms, 400.0, 1e-9);
  EXPECT_NEAR(m.itl.p95_ms, 100 + 0.85 * 300, 1e-9);
  EXPECT_NEAR(m.e2e.mean_ms, 400.0, 1e-9);
  EXPECT_NEAR(m.e2e.median_ms, 300.0, 1e-9);

  nlohmann::json j = metrics_json(m);
  EXPECT_EQ(j["completed"], 3);
  EXPECT_EQ(j["failed"], 1);
  EXPECT_DOUBLE_EQ(j["median_itl_ms"].get<double>(), 75.0);
  for (const char* key :
       {"mean_ttft_ms", "p99_tpot_ms", "p95_itl_ms", "std_e2e_latency_ms", "total_throughput"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  const std::string table = format_summary(m, {"radix", "inf", "not set"});
  EXPECT_EQ(table.rfind("============ Serving Benchmark Result ============\n", 0), 0u);
  EXPECT_NE(table.find("Successful requests:                     3"), std::string::npos) << table;
  EXPECT_NE(table.find("Failed requests:                         1"), std::string::npos);
  EXPECT_NE(table.find("Median ITL (ms):                         75.00"), std::string::npos);
  EXPECT_NE(table.find("---------------Time to First Token----------------"), std::string::npos);
}

TEST(ComputeMetrics, RetokenizesOutputsTheServerDidNotCount) {
  auto tok = Tokenizer::from_dir(std::string(RADIX_SOURCE_DIR) + "/models/default");
  ASSERT_TRUE(tok.is_ok());
  const std::string text = "def main():\n    return 0\n";
  const int count = static_cast<int>((*tok)->encode(text, false).size());
  ASSERT_GT(count, 2);
  std::vector<RequestOutput> outs;
  outs.push_back(ok_request(0.1, {}, 0.5, 3, 0));
  outs[0].output_len_from_server = false;
  outs[0].generated_text = text;
  outs.push_back(ok_request(0.1, {}, 0.5, 3, 100));
  outs[1].generated_text = text;  // server said 100: trusted for total_output
  BenchmarkMetrics m = compute_metrics(outs, 1.0, tok->get());
  EXPECT_EQ(outs[0].output_len, count);
  EXPECT_EQ(m.total_output, count + 100);
  EXPECT_EQ(m.total_output_retokenized, 2 * count);
  EXPECT_EQ(m.total_input_server, -1);
  outs[1].server_prompt_tokens = 4;
  EXPECT_EQ(compute_metrics(outs, 1.0, tok->get()).total_input_server, 4);
  EXPECT_TRUE(metrics_json(compute_metrics(outs, 1.0, tok->get()))["total_input_tokens_server"] ==
              4);
}

TEST(ComputeMetrics, AllFailedGivesZerosNotNans) {
  std::vector<RequestOutput> outs(3);
  BenchmarkMetrics m = compute_metrics(outs, 1.0, nullptr);
  EXPECT_EQ(m.completed, 0);
  EXPECT_EQ(m.failed, 3);
  EXPECT_EQ(m.ttft.mean_ms, 0.0);
  EXPECT_EQ(m.itl.p99_ms, 0.0);
  EXPECT_EQ(m.output_throughput, 0.0);
}

}  // namespace
}  // namespace radix::bench
