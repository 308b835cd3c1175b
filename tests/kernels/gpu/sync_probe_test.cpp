// cuda::sync_probe (kernels/cuda/common/sync_probe.cu), the diagnostic behind
// bench_kernels_gpu --sync-probe: it refuses malformed programs, runs well-formed ones to
// the end (grid syncs, dataflow by chunks, launches that reuse the counters) and, when a
// program waits for something nothing will count, gives up after 20 ms and says so
// instead of hanging the GPU. There is no CPU twin: the probe computes nothing.
#include <chrono>
#include <vector>

#include "tests/kernels/gpu/gpu_test_util.h"

#ifdef RADIX_HAS_CUDA_KERNELS
#include "kernels/cuda/cuda_ops.h"

namespace radix::testing {
namespace {

using St = cuda::SyncProbeStep;

class SyncProbeGpu : public GpuKernelTest {
 protected:
  void SetUp() override {
    GpuKernelTest::SetUp();
    if (IsSkipped()) return;
    cudaDeviceGetAttribute(&sms_, cudaDevAttrMultiProcessorCount, 0);
    weights_ = zeros({int64_t{4} << 20}, DType::kBF16);  // 8 MB: whole layers of the programs below
    kv_ = zeros({int64_t{1} << 20}, DType::kBF16);
    xbuf_ = zeros({2 * 65536}, DType::kF32);
    counters_ = zeros({8 * 16 * 64 + 8 * 16 * 16 + 8 * 16 * 128}, DType::kI64);
    out_ = zeros({sms_ + 1}, DType::kI32);
  }

  static OwnedTensor zeros(const Shape& shape, DType dt) {
    auto t = OwnedTensor::empty(shape, dt, Device::cuda(0));
    RADIX_CHECK(t.is_ok());
    RADIX_CHECK(cudaMemset(t->view().data(), 0, t->view().nbytes()) == cudaSuccess);
    return std::move(t).value();
  }

  cuda::SyncProbe probe(const std::vector<St>& steps, int layers) const {
    cuda::SyncProbe p;
    p.num_steps = static_cast<int>(steps.size());
    for (size_t i = 0; i < steps.size(); ++i) p.steps[i] = steps[i];
    p.grid = sms_;
    p.group = sms_;
    p.layers = layers;
    p.weights = weights_.view();
    p.kv = kv_.view();
    p.xbuf = xbuf_.view();
    p.counters = counters_.view();
    p.out = out_.view();
    return p;
  }

  // The watchdog's word (out[grid]): 1 once some wait gave up.
  uint32_t gave_up() const {
    uint32_t v = 0;
    EXPECT_EQ(cudaMemcpy(&v, out_.view().data_as<uint32_t>() + sms_, 4, cudaMemcpyDeviceToHost), cudaSuccess);
    return v;
  }

  int sms_ = 0;
  OwnedTensor weights_, kv_, xbuf_, counters_, out_;
};

TEST_F(SyncProbeGpu, MalformedProgramsAreRefused) {
  const std::vector<St> ok = {{St::kStream, 0, 256}, {St::kGrid, 8, 64}};
  auto refused = [&](cuda::SyncProbe p, const char* what) {
    int clusters = 0;
    const Status s = cuda::sync_probe(gpu(), p, &clusters);
    EXPECT_FALSE(s.is_ok()) << what;
    EXPECT_NE(s.message().find("sync_probe"), std::string::npos) << what << ": " << s.message();
  };
  cuda::SyncProbe p = probe(ok, 1);
  p.num_steps = 0;
  refused(p, "no steps");
  p = probe(ok, 1);
  p.cluster = 3;
  refused(p, "cluster of 3");
  p = probe(ok, 1);
  p.weights = weights_.view().slice_rows(0, 1000);  // not whole 2 KB items
  refused(p, "partial item");
  p = probe(ok, 1);
  p.counters = counters_.view().slice_rows(0, 16);
  refused(p, "counters too small");
  p = probe({{St::kStream, 0, 256}, {St::kGrid, 600, 64}}, 1);
  refused(p, "more words out than threads");
  p = probe(ok, 9);
  refused(p, "more than 8 layers per launch");
}

TEST_F(SyncProbeGpu, ProgramsRunToTheEndAcrossLaunches) {
  // Grid syncs, a gate/up-like phase published in 4 chunks and a down-like phase that
  // waits for them chunk by chunk, a pause and an attention's loads; two layers per
  // launch, three launches on the same counters (epochs 0, 1, 2).
  const std::vector<St> steps = {{St::kStream, 0, 512},      {St::kGrid, 8, 64}, {St::kStream, 4, 1024},
                                 {St::kStream, 256 * 4, 512}, {St::kSleep, 0, 500}, {St::kGrid, 4, 32},
                                 {St::kLoads, 0, 2048},       {St::kStream, 0, 256}};
  cuda::SyncProbe p = probe(steps, 2);
  for (unsigned long long e = 0; e < 3; ++e) {
    p.epoch = e;
    p.first_layer = static_cast<int>(2 * e);
    int clusters = 0;
    const Status s = cuda::sync_probe(gpu(), p, e == 0 ? &clusters : nullptr);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
  }
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(gave_up(), 0u) << "a wait of a well-formed program gave up";
}

TEST_F(SyncProbeGpu, GroupsExchangeThroughPerCtaCountersToTheEnd) {
  // Mode 4: ranks of 16 CTAs; each CTA publishes once (a stream phase, the loads) and the
  // next phase awaits its 15 peers. Per-CTA counters cover at most 128 CTAs.
  if (sms_ < 128) GTEST_SKIP() << "fewer than 128 SMs";
  auto P = [](int64_t items, int pub, int awt) { return St{St::kStream, pub + 256 * awt + 65536 * 4, items}; };
  cuda::SyncProbe p = probe({P(512, 1, 0), P(256, 0, 16), {St::kLoads, 1, 2048}, P(512, 0, 16), {St::kGrid, 8, 256},
                             P(512, 1, 0), P(256, 0, 16), {St::kGrid, 8, 256}},
                            2);
  p.grid = 128;
  p.group = 16;
  for (unsigned long long e = 0; e < 3; ++e) {
    p.epoch = e;
    const Status s = cuda::sync_probe(gpu(), p, nullptr);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
  }
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  uint32_t v = 0;
  ASSERT_EQ(cudaMemcpy(&v, out_.view().data_as<uint32_t>() + 128, 4, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(v, 0u) << "a wait of a well-formed program gave up";
  p.grid = sms_;
  p.group = sms_;
  if (sms_ > 128) {
    EXPECT_FALSE(cuda::sync_probe(gpu(), p, nullptr).is_ok()) << "per-CTA counters past 128 CTAs";
  }
}

TEST_F(SyncProbeGpu, AWaitNothingWillSatisfyGivesUpAndSaysSo) {
  // The second phase awaits two chunks of a phase that publishes none.
  cuda::SyncProbe p = probe({{St::kStream, 0, 256}, {St::kStream, 256 * 2, 256}}, 1);
  const auto t0 = std::chrono::steady_clock::now();
  const Status s = cuda::sync_probe(gpu(), p, nullptr);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(gave_up(), 1u);
  EXPECT_LT(seconds, 5.0) << "the launch should end within a few 20 ms waits";
}

}  // namespace
}  // namespace radix::testing

#endif  // RADIX_HAS_CUDA_KERNELS
