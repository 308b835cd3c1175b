// bench one-batch on the CPU backend with the bundled model: it runs, reports
// consistent numbers and refuses impossible sizes.
#include "bench/one_batch.h"

#include <gtest/gtest.h>

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

TEST(OneBatch, RejectsNonPositiveSizesAndTooSmallPools) {
  OneBatchOptions o = small();
  o.batch_size = 0;
  EXPECT_EQ(run_one_batch(o).status().code(), StatusCode::kInvalidArgument);
  o = small();
  o.engine.max_total_tokens = 10;
  EXPECT_EQ(run_one_batch(o).status().code(), StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace radix
