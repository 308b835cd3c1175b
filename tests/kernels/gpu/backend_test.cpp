// CudaBackend and the RAII stream/event wrappers: creation errors are Status, not
// aborts; streams and events work and time.
#include "tests/kernels/gpu/gpu_test_util.h"

#ifdef RADIX_HAS_CUDA_KERNELS

namespace radix::testing {
namespace {

class BackendGpu : public GpuKernelTest {};

TEST_F(BackendGpu, CreatingOnAMissingDeviceIsAnError) {
  auto b = CudaBackend::create(cuda_device_count() + 3);
  EXPECT_FALSE(b.is_ok());
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(BackendGpu, ReportsTheDeviceAndOwnsAWorkspace) {
  EXPECT_GT(backend_->num_sms(), 0);
  EXPECT_NE(backend_->attention_workspace(), nullptr);
  EXPECT_GT(backend_->attention_workspace_bytes(), 0u);
}

TEST_F(BackendGpu, OpsRunOnAnOwnedStreamAndEventsTimeThem) {
  auto stream = CudaStream::create();
  ASSERT_TRUE(stream.is_ok());
  auto start = CudaEvent::create(), stop = CudaEvent::create();
  ASSERT_TRUE(start.is_ok() && stop.is_ok());
  OwnedTensor a = random_host({1 << 20}, -1, 1), b = random_host({1 << 20}, -1, 1);
  OwnedTensor d_a = to_device(a, DType::kBF16), d_b = to_device(b, DType::kBF16);
  OwnedTensor d_out = poisoned({1 << 20}, DType::kBF16);
  OpContext ctx = gpu();
  ctx.stream = stream->get();
  ASSERT_TRUE(start->record(stream->get()).is_ok());
  ASSERT_TRUE(ops::add(ctx, d_out, d_a, d_b).is_ok());
  ASSERT_TRUE(stop->record(stream->get()).is_ok());
  ASSERT_TRUE(stream->synchronize().is_ok());
  auto ms = stop->elapsed_ms_since(*start);
  ASSERT_TRUE(ms.is_ok());
  EXPECT_GE(*ms, 0.0f);
  OwnedTensor ref = OwnedTensor::host({1 << 20}, DType::kF32);
  ASSERT_TRUE(ops::add(cpu(), ref, a, b).is_ok());
  EXPECT_TRUE(all_close(to_host_f32(d_out), ref, 1e-5f, 1.0f / 128));
}

}  // namespace
}  // namespace radix::testing

#endif  // RADIX_HAS_CUDA_KERNELS
