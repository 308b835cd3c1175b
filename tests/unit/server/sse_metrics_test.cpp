// SSE framing, the task queue's concurrency, and Prometheus rendering.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "server/metrics.h"
#include "server/sse.h"
#include "server/task_queue.h"

namespace radix::server {
namespace {

TEST(Sse, FramesEachEventAsOneDataLineAndEndsWithDone) {
  EXPECT_EQ(sse_event(nlohmann::json{{"a", 1}}), "data: {\"a\":1}\n\n");
  EXPECT_EQ(sse_done(), "data: [DONE]\n\n");
  std::string err = sse_error(bad_request("nope"));
  EXPECT_EQ(err.rfind("data: {\"error\":", 0), 0u) << err;
  EXPECT_EQ(err.substr(err.size() - 2), "\n\n");
}

TEST(Sse, InvalidUtf8InTextIsReplacedNotThrown) {
  nlohmann::json j = {{"text", std::string("a\xff"
                                           "b")}};
  std::string s = sse_event(j);
  EXPECT_NE(s.find("a\xEF\xBF\xBD"
                   "b"),
            std::string::npos);
}

TEST(Sse, WriterStopsAfterTheFirstFailedWrite) {
  int calls = 0;
  SseWriter w([&](const std::string&) { return ++calls < 2; });
  EXPECT_TRUE(w.event(nlohmann::json::object()));
  EXPECT_FALSE(w.event(nlohmann::json::object()));
  EXPECT_FALSE(w.done());
  EXPECT_EQ(calls, 2);
  EXPECT_FALSE(w.ok());
}

TEST(ElasticTaskQueue, RunsMoreBlockingTasksAtOnceThanItKeepsIdle) {
  // 64 tasks that each wait until all 64 have started: a fixed pool of 4 would deadlock.
  ElasticTaskQueue q(/*max_threads=*/1000, /*keep_idle=*/4, std::chrono::milliseconds(50));
  const int kTasks = 64;
  std::mutex mu;
  std::condition_variable cv;
  int started = 0;
  std::atomic<int> finished{0};
  for (int i = 0; i < kTasks; ++i) {
    q.enqueue([&] {
      std::unique_lock<std::mutex> l(mu);
      ++started;
      cv.notify_all();
      cv.wait(l, [&] { return started == kTasks; });
      finished.fetch_add(1);
    });
  }
  q.shutdown();
  EXPECT_EQ(finished.load(), kTasks);
  EXPECT_EQ(q.num_threads(), 0u);
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Histogram h({0.1, 1.0});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5.0);
  std::string out;
  h.render("x", "help", &out);
  EXPECT_NE(out.find("x_bucket{le=\"0.1\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_bucket{le=\"1\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_count 3\n"), std::string::npos) << out;
}

TEST(Metrics, RendersEngineGaugesAndLatencyHistograms) {
  ServerMetrics m;
  m.observe_ttft(0.02);
  EngineStats s;
  s.num_running = 3;
  s.num_queued = 2;
  s.kv_total_slots = 100;
  s.kv_used_slots = 25;
  s.prompt_tokens_total = 11;
  s.generation_tokens_total = 22;
  s.decode_steps_total = 7;
  s.decode_host_seconds_total = 0.5;
  s.decode_forward_seconds_total = 2.25;
  std::string out = m.render(s, "tiny");
  EXPECT_NE(out.find("radix:num_running_reqs{model_name=\"tiny\"} 3\n"), std::string::npos);
  EXPECT_NE(out.find("radix:num_queue_reqs{model_name=\"tiny\"} 2\n"), std::string::npos);
  EXPECT_NE(out.find("radix:token_usage{model_name=\"tiny\"} 0.25\n"), std::string::npos);
  EXPECT_NE(out.find("radix:prompt_tokens_total{model_name=\"tiny\"} 11\n"), std::string::npos);
  EXPECT_NE(out.find("radix:generation_tokens_total{model_name=\"tiny\"} 22\n"), std::string::npos);
  EXPECT_NE(out.find("radix:decode_steps_total{model_name=\"tiny\"} 7\n"), std::string::npos);
  EXPECT_NE(out.find("radix:decode_host_seconds_total{model_name=\"tiny\"} 0.5\n"), std::string::npos);
  EXPECT_NE(out.find("radix:decode_forward_seconds_total{model_name=\"tiny\"} 2.25\n"), std::string::npos);
  EXPECT_NE(out.find("radix:time_to_first_token_seconds_count 1\n"), std::string::npos);
  EXPECT_NE(out.find("# TYPE radix:inter_token_latency_seconds histogram"), std::string::npos);
  EXPECT_NE(out.find("# TYPE radix:e2e_request_latency_seconds histogram"), std::string::npos);
}

}  // namespace
}  // namespace radix::server
