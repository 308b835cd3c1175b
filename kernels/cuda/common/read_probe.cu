// cuda::read_probe: reads a whole buffer once with 16-byte loads and writes one value
// per CTA, the streaming-read ceiling the kernel benchmark compares against (a GEMV
// or decode attention can at best match it).
#include "kernels/cuda/common/cuda_utils.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace radix::cuda {
namespace {

constexpr int kThreads = 512;

__global__ void __launch_bounds__(kThreads) read_kernel(const uint4* __restrict__ x, int64_t n, uint32_t* out) {
  uint32_t acc = 0;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += stride) {
    const uint4 v = __ldcs(x + i);  // streaming: do not keep in L2
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  // Only a result that depends on every load keeps the loads alive.
  if (acc == 0x9e3779b9u) out[blockIdx.x] = acc;
}

}  // namespace

Status read_probe(const OpContext& ctx, const Tensor& x, const Tensor& scratch) {
  if (x.nbytes() % 16 != 0 || scratch.nbytes() < 4 * 4096) {
    return invalid_argument("read_probe: x must be a multiple of 16 bytes and scratch >= 16 KB");
  }
  int sms = 132;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, x.device().index);
  read_kernel<<<sms * 4, kThreads, 0, static_cast<cudaStream_t>(ctx.stream)>>>(
      static_cast<const uint4*>(x.data()), static_cast<int64_t>(x.nbytes() / 16), scratch.data_as<uint32_t>());
  return check_launch("read_probe");
}

}  // namespace radix::cuda
