// Structured output's token mask on the device (ops::apply_token_mask): a thread per
// 32-bit mask word sets the word's cleared logits to -inf. The engine uploads one
// bitmask row per constrained request (V / 8 bytes: 16 KB for Llama-3) instead of
// bringing the row's logits (V x 4 bytes) back to the host.
#include <cmath>

#include "kernels/cuda/common/cuda_utils.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace radix::cuda {
namespace {

constexpr int kThreads = 256;

// grid (rows, word blocks): word w of row r's mask covers logits [32 w, 32 w + 32).
__global__ void __launch_bounds__(kThreads)
    token_mask_kernel(float* __restrict__ logits, const uint32_t* __restrict__ masks, const int32_t* __restrict__ index,
                      int64_t vocab, int64_t words, int64_t mask_rows) {
  const int64_t r = blockIdx.x;
  const int32_t m = index[r];
  if (m < 0 || m >= mask_rows) return;
  const int64_t w = static_cast<int64_t>(blockIdx.y) * kThreads + threadIdx.x;
  if (w * 32 >= vocab) return;
  const uint32_t bits = masks[m * words + w];
  if (bits == 0xffffffffu) return;
  float* row = logits + r * vocab + w * 32;
  const int64_t left = vocab - w * 32;
  const int n = left < 32 ? static_cast<int>(left) : 32;
  for (int i = 0; i < n; ++i) {
    if (((bits >> i) & 1u) == 0) row[i] = -INFINITY;
  }
}

}  // namespace

Status apply_token_mask(const OpContext& ctx, const Tensor& logits, const Tensor& masks, const Tensor& index) {
  const int64_t rows = logits.size(0), vocab = logits.size(1);
  if (rows == 0 || vocab == 0) return Status::ok();
  const int64_t used_words = (vocab + 31) / 32;
  const dim3 grid(static_cast<unsigned>(rows), static_cast<unsigned>((used_words + kThreads - 1) / kThreads));
  token_mask_kernel<<<grid, kThreads, 0, static_cast<cudaStream_t>(ctx.stream)>>>(
      logits.data_as<float>(), reinterpret_cast<const uint32_t*>(masks.data()), index.data_as<const int32_t>(), vocab,
      masks.size(1), masks.size(0));
  return cuda_status(cudaGetLastError(), "apply_token_mask");
}

}  // namespace radix::cuda
