// cuda::sync_probe (kernels/cuda/common/sync_probe.cu), the diagnostic behind
// bench_kernels_gpu --sync-probe: it refuses malformed programs before any CUDA call
// (runs without a GPU), runs well-formed ones to the end (grid syncs, dataflow by chunks,
// per-CTA peer counters, launches that reuse the counters) and, when a wait can never be
// satisfied, gives up after 20 ms and says so instead of hanging the GPU. There is no
// CPU twin: the probe computes nothing.
#include <chrono>
#include <vector>

#include "tests/kernels/gpu/gpu_test_util.h"

#ifdef RADIX_HAS_CUDA_KERNELS
#include "kernels/cuda/cuda_ops.h"

namespace radix::testing {
namespace {

using St = cuda::SyncProbeStep;

St flow_step(int64_t items, int publish, int await, St::Flow flow = St::kPerWarp) {
  St st{St::kStream, 0, items};
  st.publish = publish;
  st.await = await;
  st.flow = flow;
  return st;
}

// The buffers a probe needs, as host memory: the checks read only their sizes, and a
// malformed program is refused before any CUDA call, so this runs without a GPU.
// The five buffers a probe reads and writes, and a program over them.
struct ProbeBuffers {
  OwnedTensor weights, kv, xbuf, counters, out;

  cuda::SyncProbe program(const std::vector<St>& steps, int grid, int group, int layers = 1) const {
    cuda::SyncProbe p;
    p.num_steps = static_cast<int>(steps.size());
    for (size_t i = 0; i < steps.size(); ++i) p.steps[i] = steps[i];
    p.grid = grid;
    p.group = group;
    p.layers = layers;
    p.weights = weights.view();
    p.kv = kv.view();
    p.xbuf = xbuf.view();
    p.counters = counters.view();
    p.out = out.view();
    return p;
  }
};

class SyncProbeChecks : public ::testing::Test {
 protected:
  cuda::SyncProbe probe(const std::vector<St>& steps) const { return buf_.program(steps, 128, 16); }
  // The call fails and its message names the problem.
  static void refused(const cuda::SyncProbe& p, const char* why) {
    const Status s = cuda::sync_probe(OpContext{}, p, nullptr);
    EXPECT_FALSE(s.is_ok()) << why;
    EXPECT_NE(s.message().find(why), std::string::npos) << s.message();
  }

  ProbeBuffers buf_{OwnedTensor::host({int64_t{1} << 20}, DType::kBF16),  // 1024 items
                    OwnedTensor::host({int64_t{1} << 19}, DType::kBF16),
                    OwnedTensor::host({2 * 65536}, DType::kF32),
                    OwnedTensor::host({8 * 16 * 64 + 8 * 16 * 16 + 8 * 16 * 128}, DType::kI64),
                    OwnedTensor::host({133}, DType::kI32)};
};

TEST_F(SyncProbeChecks, MalformedProgramsAreRefusedBeforeAnyCudaCall) {
  const std::vector<St> ok = {{St::kStream, 0, 256}, {St::kGrid, 8, 64}};
  cuda::SyncProbe p = probe(ok);
  p.num_steps = 0;
  refused(p, "1..16 steps");
  p = probe(ok);
  p.cluster = 3;
  refused(p, "cluster 1, 8 or 16");
  p = probe(ok);
  p.layers = 9;
  refused(p, "1..8 layers");
  p = probe(ok);
  p.group = 48;  // does not divide 128
  refused(p, "groups dividing the grid");
  p = probe(ok);
  p.weights = buf_.weights.view().slice_rows(0, 1000);
  refused(p, "whole 2 KB items");
  p = probe(ok);
  p.counters = buf_.counters.view().slice_rows(0, 16);
  refused(p, "counters too small");
  p = probe(ok);
  p.chunk_stride = 1024;  // the counters hold chunk counters 1 apart only
  refused(p, "counters too small");
  refused(probe({{St::kStream, 0, 256}, {St::kGrid, 600, 64}}), "at most 512 words out");
  refused(probe({{St::kStream, 0, 256}, {St::kGrid, 0, 64}}), "stages words needs words stored");
  refused(probe({{St::kStream, 0, 256}, {St::kGrid, -1, 0}}), "negative");
  refused(probe({{St::kStream, 0, 256}, {St::kCluster, 8, 64}}), "cluster exchanges need clusters");
  refused(probe({{St::kStream, 0, 256}, {St::kSleep, 0, 2000000}}), "pauses up to 1 ms");
  refused(probe({{St::kGrid, 8, 64}}), "no items to stream");
  refused(probe({{St::kStream, 0, 4096}}), "weights smaller than one layer");
  refused(probe({flow_step(256, 17, 0)}), "at most 16 chunks published");
  // An awaited step must count its chunks, and count them as the awaiting phase reads.
  refused(probe({flow_step(256, 0, 0), flow_step(256, 0, 2)}), "counts the same way");
  refused(probe({flow_step(256, 2, 0, St::kPerWarpNoCount), flow_step(256, 0, 2)}), "counts the same way");
  refused(probe({flow_step(256, 2, 0, St::kPerCta), flow_step(256, 0, 2)}), "counts the same way");
  refused(probe({flow_step(256, 2, 0, St::kPeers), flow_step(256, 0, 2, St::kPeers)}),
          "peers publish one chunk");
  p = probe({flow_step(256, 1, 0, St::kPeers), flow_step(256, 0, 16, St::kPeers)});
  p.grid = p.group = 132;
  p.out = buf_.out.view();  // grid + 1 = 133 words
  refused(p, "at most 128 CTAs");
  refused(probe({{St::kStream, 0, 256}, {St::kLoads, 0, 100}}), "loads of whole 16-byte vectors");
  refused(probe({{St::kStream, 0, 256}, {St::kLoads, 0, 16384}}), "kv holding a layer's loads");
}

class SyncProbeGpu : public GpuKernelTest {
 protected:
  void SetUp() override {
    GpuKernelTest::SetUp();
    if (IsSkipped()) return;
    cudaDeviceGetAttribute(&sms_, cudaDevAttrMultiProcessorCount, 0);
    buf_.weights = zeros({int64_t{4} << 20}, DType::kBF16);  // 8 MB: whole layers of the programs below
    buf_.kv = zeros({int64_t{1} << 20}, DType::kBF16);
    buf_.xbuf = zeros({2 * 65536}, DType::kF32);
    buf_.counters = zeros({8 * 16 * 64 + 8 * 16 * 16 + 8 * 16 * 128}, DType::kI64);
    buf_.out = zeros({sms_ + 1}, DType::kI32);
  }

  static OwnedTensor zeros(const Shape& shape, DType dt) {
    auto t = OwnedTensor::empty(shape, dt, Device::cuda(0));
    RADIX_CHECK(t.is_ok());
    RADIX_CHECK(cudaMemset(t->view().data(), 0, t->view().nbytes()) == cudaSuccess);
    return std::move(t).value();
  }

  cuda::SyncProbe probe(const std::vector<St>& steps, int layers) const {
    return buf_.program(steps, sms_, sms_, layers);
  }

  // The watchdog's word (out[grid]): 1 once some wait gave up.
  uint32_t gave_up() const {
    uint32_t v = 0;
    EXPECT_EQ(cudaMemcpy(&v, buf_.out.view().data_as<uint32_t>() + sms_, 4, cudaMemcpyDeviceToHost), cudaSuccess);
    return v;
  }

  int sms_ = 0;
  ProbeBuffers buf_;
};

TEST_F(SyncProbeGpu, ProgramsRunToTheEndAcrossLaunches) {
  // Grid syncs, a gate/up-like phase published in 4 chunks and a down-like phase that
  // waits for them chunk by chunk, a pause and an attention's loads; two layers per
  // launch, three launches on the same counters (epochs 0, 1, 2).
  const std::vector<St> steps = {{St::kStream, 0, 512},  {St::kGrid, 8, 64}, flow_step(1024, 4, 0),
                                 flow_step(512, 0, 4),     {St::kSleep, 0, 500}, {St::kGrid, 4, 32},
                                 {St::kLoads, 0, 2048},    {St::kStream, 0, 256}};
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
  // Flow::kPeers: ranks of 16 CTAs; each CTA publishes once (a stream phase, the loads) and the
  // next phase awaits its 15 peers. Per-CTA counters cover at most 128 CTAs.
  if (sms_ < 128) GTEST_SKIP() << "fewer than 128 SMs";
  auto P = [](int64_t items, int pub, int awt) { return flow_step(items, pub, awt, St::kPeers); };
  St loads{St::kLoads, 0, 2048};
  loads.publish = 1;
  cuda::SyncProbe p = probe({P(512, 1, 0), P(256, 0, 16), loads, P(512, 0, 16), {St::kGrid, 8, 256}, P(512, 1, 0),
                             P(256, 0, 16), {St::kGrid, 8, 256}},
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
  ASSERT_EQ(cudaMemcpy(&v, buf_.out.view().data_as<uint32_t>() + 128, 4, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(v, 0u) << "a wait of a well-formed program gave up";
  p.grid = sms_;
  p.group = sms_;
  if (sms_ > 128) {
    EXPECT_FALSE(cuda::sync_probe(gpu(), p, nullptr).is_ok()) << "per-CTA counters past 128 CTAs";
  }
}

TEST_F(SyncProbeGpu, AWaitNothingWillSatisfyGivesUpAndSaysSo) {
  // Counters zeroed but an epoch of 5: the grid sync waits for six launches' arrivals
  // where only this one's come.
  cuda::SyncProbe p = probe({{St::kStream, 0, 256}, {St::kGrid, 8, 64}}, 1);
  p.epoch = 5;
  const auto t0 = std::chrono::steady_clock::now();
  const Status s = cuda::sync_probe(gpu(), p, nullptr);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(gave_up(), 1u);
  EXPECT_LT(seconds, 5.0) << "the launch should end within a 20 ms wait";
}

}  // namespace
}  // namespace radix::testing

#endif  // RADIX_HAS_CUDA_KERNELS
