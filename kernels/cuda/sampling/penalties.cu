// ops::apply_penalties on the GPU: the sparse penalty entries (kernels/ops.h) applied in
// place to f32 logits [N, V] before ops::sample. One CTA per row, threads striding over
// that row's entries; a row names each id once, so entries never race. The CPU twin is
// cpu::apply_penalties; arithmetic is spelled with _rn intrinsics so nvcc cannot fuse
// frequency * count + presence into an FMA the host sampler does not do.
#include "kernels/cuda/common/cuda_utils.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace radix::cuda {
namespace {

constexpr int kThreads = 128;

__global__ void __launch_bounds__(kThreads)
    apply_penalties_kernel(float* __restrict__ logits,  // [N, V]
                           int v, int num_entries,
                           const int32_t* __restrict__ row_indptr,  // [N+1]
                           const int32_t* __restrict__ token_ids,   // [E]
                           const int32_t* __restrict__ counts,      // [E]
                           const int32_t* __restrict__ flags,       // [E]
                           const float* __restrict__ repetition,    // [N]
                           const float* __restrict__ frequency,     // [N]
                           const float* __restrict__ presence) {    // [N]
  const int row = blockIdx.x;
  // The indptr lives on the device and cannot be checked by the launcher: clamp it.
  const int lo = max(0, min(row_indptr[row], num_entries));
  const int hi = max(lo, min(row_indptr[row + 1], num_entries));
  if (lo == hi) return;
  const float rp = repetition[row], fp = frequency[row], pp = presence[row];
  float* x_row = logits + static_cast<int64_t>(row) * v;
  for (int e = lo + static_cast<int>(threadIdx.x); e < hi; e += kThreads) {
    const int32_t id = token_ids[e];
    if (id < 0 || id >= v) continue;
    float x = x_row[id];
    const int32_t f = flags[e];
    const int32_t c = counts[e];
    if (f & ops::kPenaltySeen) x = x > 0.0f ? __fdiv_rn(x, rp) : __fmul_rn(x, rp);
    if (c > 0) x = __fsub_rn(x, __fadd_rn(__fmul_rn(fp, static_cast<float>(c)), pp));
    if (f & ops::kPenaltyMasked) x = -INFINITY;
    x_row[id] = x;
  }
}

}  // namespace

Status apply_penalties(const OpContext& ctx, const Tensor& logits, const ops::PenaltyTensors& p) {
  const int64_t n = logits.size(0);
  if (n == 0 || p.token_ids.numel() == 0) return Status::ok();
  if (n > 0x7fffffff) return invalid_argument("apply_penalties: too many rows");
  apply_penalties_kernel<<<static_cast<unsigned>(n), kThreads, 0,
                           static_cast<cudaStream_t>(ctx.stream)>>>(
      logits.data_as<float>(), static_cast<int>(logits.size(1)),
      static_cast<int>(p.token_ids.numel()), p.row_indptr.data_as<const int32_t>(),
      p.token_ids.data_as<const int32_t>(), p.counts.data_as<const int32_t>(),
      p.flags.data_as<const int32_t>(), p.repetition.data_as<const float>(),
      p.frequency.data_as<const float>(), p.presence.data_as<const float>());
  return check_launch("apply_penalties");
}

}  // namespace radix::cuda
