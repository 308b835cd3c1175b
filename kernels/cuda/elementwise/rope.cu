// Rotary position embedding in place on q [T, Hq, D] and k [T, Hk, D] from the model's
// f32 cos/sin table [max_pos, R] (row p: cos(p f_i) for i < R/2, then sin(p f_i)).
// One thread per rotated pair, so the in-place update never races. Positions outside
// the table leave the row untouched (the host owns their range).
#include "kernels/cuda/common/cuda_utils.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace radix::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T, bool kNeox>
__global__ void __launch_bounds__(kThreads)
    rope_kernel(T* __restrict__ q, T* __restrict__ k, const int32_t* __restrict__ positions,
                const float* __restrict__ cos_sin, int64_t tokens, int hq, int hk, int d, int r,
                int max_pos) {
  const int half = r / 2;
  const int heads = hq + hk;
  const int64_t n = tokens * heads * half;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; idx < n;
       idx += static_cast<int64_t>(gridDim.x) * kThreads) {
    const int i = static_cast<int>(idx % half);
    const int head = static_cast<int>((idx / half) % heads);
    const int64_t t = idx / (static_cast<int64_t>(half) * heads);
    const int pos = positions[t];
    if (pos < 0 || pos >= max_pos) continue;
    T* v = head < hq ? q + (t * hq + head) * d : k + (t * hk + (head - hq)) * d;
    const int i0 = kNeox ? i : 2 * i;
    const int i1 = kNeox ? i + half : 2 * i + 1;
    const float* cs = cos_sin + static_cast<int64_t>(pos) * r;
    const float c = cs[i], s = cs[half + i];
    const float a = to_f32(v[i0]), b = to_f32(v[i1]);
    v[i0] = from_f32<T>(a * c - b * s);
    v[i1] = from_f32<T>(b * c + a * s);
  }
}

}  // namespace

Status rope(const OpContext& ctx, const Tensor& q, const Tensor& k, const Tensor& positions,
            const Tensor& cos_sin, RopeStyle style) {
  if (k.dtype() != q.dtype()) return unimplemented("rope: q and k must share one dtype on CUDA");
  const int64_t tokens = q.size(0);
  const int hq = static_cast<int>(q.size(1)), hk = static_cast<int>(k.size(1));
  const int d = static_cast<int>(q.size(2)), r = static_cast<int>(cos_sin.size(1));
  const int64_t n = tokens * (hq + hk) * (r / 2);
  if (n == 0) return Status::ok();
  const auto blocks =
      static_cast<unsigned>(std::min<int64_t>((n + kThreads - 1) / kThreads, 132 * 32));
  auto stream = static_cast<cudaStream_t>(ctx.stream);
  const int max_pos = static_cast<int>(cos_sin.size(0));
  return dispatch_float(q.dtype(), "rope", [&](auto tag) -> Status {
    using T = decltype(tag);
    if (style == RopeStyle::kNeox) {
      rope_kernel<T, true><<<blocks, kThreads, 0, stream>>>(
          q.data_as<T>(), k.data_as<T>(), positions.data_as<const int32_t>(),
          cos_sin.data_as<const float>(), tokens, hq, hk, d, r, max_pos);
    } else {
      rope_kernel<T, false><<<blocks, kThreads, 0, stream>>>(
          q.data_as<T>(), k.data_as<T>(), positions.data_as<const int32_t>(),
          cos_sin.data_as<const float>(), tokens, hq, hk, d, r, max_pos);
    }
    return check_launch("rope");
  });
}

}  // namespace radix::cuda
