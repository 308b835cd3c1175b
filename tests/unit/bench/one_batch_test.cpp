// bench one-batch on the CPU backend with the bundled model: it runs, reports
// consistent numbers and refuses impossible sizes.
#include "bench/one_batch.h"
#include "models/config.h"

#include <gtest/gtest.h>

#include <tuple>

namespace radix {
namespace {

OneBatchOptions small() {
  OneBatchOptions o;
  o.engine.model_path = std::string(RADIX_SOURCE_DIR) + "/models/default";
  o.engine.device = "cpu";
  o.batch_size = 2;
  o.input_len = 8;
  o.output_len = 4;
  o.warmup_steps = 1;
  return o;
}

TEST(OneBatch, ReportsPrefillAndDecodeNumbersThatAddUp) {
  auto r = run_one_batch(small());
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->device, "cpu");
  EXPECT_GT(r->prefill_latency_s, 0);
  EXPECT_NEAR(r->prefill_throughput, 2 * 8 / r->prefill_latency_s, 1e-6 * r->prefill_throughput);
  EXPECT_GT(r->median_decode_latency_s, 0);
  EXPECT_NEAR(r->median_decode_throughput, 2 / r->median_decode_latency_s, 1e-6 * r->median_decode_throughput);
  EXPECT_GE(r->total_latency_s, r->prefill_latency_s + 2 * r->median_decode_latency_s * 0.5);
}

// --enable-overlap-schedule queues each decode step before the previous one's result
// only where the runner samples on the device (CUDA); the CPU runs them one by one and
// says so.
TEST(OneBatch, OverlapOnTheCpuRunsStepsOneByOne) {
  OneBatchOptions o = small();
  o.engine.enable_overlap_schedule = true;
  auto r = run_one_batch(o);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_FALSE(r->decode_overlapped);
  EXPECT_EQ(r->decode_steps, 3);
  EXPECT_GT(r->median_decode_latency_s, 0);
  EXPECT_FALSE(run_one_batch(small())->decode_overlapped);
}

// Sampled steps (--temperature) run where the runner samples on the device; the CPU
// backend's steps are greedy, so it refuses them, and bad values are refused everywhere.
TEST(OneBatch, RefusesSamplingWhereStepsAreGreedyAndBadSamplingValues) {
  OneBatchOptions o = small();
  o.temperature = 0.8f;
  o.top_p = 0.9f;
  auto r = run_one_batch(o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("needs a device that samples"), std::string::npos) << r.status().to_string();
  for (auto bad : {std::make_tuple(-1.0f, 0, 1.0f), std::make_tuple(0.8f, -1, 1.0f), std::make_tuple(0.8f, 0, 0.0f),
                   std::make_tuple(0.8f, 0, 1.5f)}) {
    OneBatchOptions b = small();
    std::tie(b.temperature, b.top_k, b.top_p) = bad;
    auto rb = run_one_batch(b);
    ASSERT_FALSE(rb.is_ok());
    EXPECT_NE(rb.status().message().find("--top-p in (0, 1]"), std::string::npos) << rb.status().to_string();
  }
}

TEST(OneBatch, CountsTheBytesADecodeStepReads) {
  // Weights once, plus K and V of every position each sequence has at the measured steps
  // (input 8, warm-up 1, output 4: steps 1..3 read 10, 11, 12 positions; mean 11). The
  // read rate is measured on CUDA only.
  auto r = run_one_batch(small());
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  auto cfg = load_model_config(std::string(RADIX_SOURCE_DIR) + "/models/default");
  ASSERT_TRUE(cfg.is_ok()) << cfg.status().to_string();
  const double per_token = 1.0 * cfg->num_hidden_layers * 2 * cfg->num_key_value_heads * cfg->head_dim * 4;  // f32 on CPU
  EXPECT_DOUBLE_EQ(r->decode_kv_bytes, 2 * 11 * per_token);
  // Tied embeddings: the table is the lm_head, read whole, plus the 2 rows gathered; then
  // the layers' matrices and norms and the final norm.
  ASSERT_TRUE(cfg->tie_word_embeddings);
  const double h = cfg->hidden_size, inter = cfg->intermediate_size, d = cfg->head_dim;
  const double layer = h * (cfg->num_attention_heads + 2 * cfg->num_key_value_heads) * d +
                       cfg->num_attention_heads * d * h + 3 * h * inter + 2 * h;
  EXPECT_DOUBLE_EQ(r->decode_weight_bytes, 4 * (cfg->vocab_size * h + 2 * h + cfg->num_hidden_layers * layer + h));
  // Every weight once, the table included once (tied: it is also the lm_head).
  EXPECT_DOUBLE_EQ(r->all_weight_bytes, 4 * (cfg->vocab_size * h + cfg->num_hidden_layers * layer + h));
  EXPECT_EQ(r->read_bw_gbps, 0);
  EXPECT_EQ(r->decode_roofline_ratio, 0);
  EXPECT_EQ(r->decode_roofline_ratio_all_weights, 0);
}

TEST(OneBatch, RejectsNonPositiveSizesAndTooSmallPools) {
  OneBatchOptions o = small();
  o.batch_size = 0;
  EXPECT_EQ(run_one_batch(o).status().code(), StatusCode::kInvalidArgument);
  o = small();
  o.read_probe_bytes = 4096;  // too small to time a read rate
  EXPECT_EQ(run_one_batch(o).status().code(), StatusCode::kInvalidArgument);
  o = small();
  o.engine.max_total_tokens = 10;
  EXPECT_EQ(run_one_batch(o).status().code(), StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace radix
