// RMSNorm and the fused residual-add RMSNorm (SGLang's fused_add_rmsnorm), one CTA per
// row, f32 math. add_rms_norm rounds the new residual to its dtype and normalizes that
// stored value, so out == rms_norm(residual) exactly as the next layer will see it.
// weight_offset is 1 for Gemma ((1 + w) scaling), 0 otherwise.
#include "kernels/cuda/common/cuda_utils.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace radix::cuda {
namespace {

constexpr int kThreads = 256;

// x, out, residual [T, H]; weight [H]. kVec: rows are read in 16-byte vectors.
template <typename T, typename W, bool kAdd, bool kVec>
__global__ void __launch_bounds__(kThreads)
    rms_norm_kernel(T* out, T* residual, const T* x, const W* __restrict__ weight, int h, float eps,
                    float offset) {
  constexpr int kN = kVec ? Vec16<T>::kSize : 1;
  const int64_t row = blockIdx.x;
  const T* xr = x + row * h;
  T* rr = kAdd ? residual + row * h : nullptr;
  T* orow = out + row * h;
  float ss = 0.0f;
  for (int i = threadIdx.x * kN; i < h; i += kThreads * kN) {
    T xv[kN];
    if constexpr (kVec) {
      *reinterpret_cast<Vec16<T>*>(xv) = *reinterpret_cast<const Vec16<T>*>(xr + i);
    } else {
      xv[0] = xr[i];
    }
    if constexpr (kAdd) {
      T rv[kN];
      if constexpr (kVec) {
        *reinterpret_cast<Vec16<T>*>(rv) = *reinterpret_cast<const Vec16<T>*>(rr + i);
      } else {
        rv[0] = rr[i];
      }
#pragma unroll
      for (int j = 0; j < kN; ++j) xv[j] = from_f32<T>(to_f32(rv[j]) + to_f32(xv[j]));
      if constexpr (kVec) {
        *reinterpret_cast<Vec16<T>*>(rr + i) = *reinterpret_cast<Vec16<T>*>(xv);
      } else {
        rr[i] = xv[0];
      }
    }
#pragma unroll
    for (int j = 0; j < kN; ++j) {
      const float f = to_f32(xv[j]);
      ss += f * f;
    }
  }
  ss = block_sum(ss);
  const float inv = rsqrtf(ss / static_cast<float>(h) + eps);
  // Second pass re-reads what this same thread read (or wrote) above.
  const T* src = kAdd ? rr : xr;
  for (int i = threadIdx.x * kN; i < h; i += kThreads * kN) {
    T v[kN];
    if constexpr (kVec) {
      *reinterpret_cast<Vec16<T>*>(v) = *reinterpret_cast<const Vec16<T>*>(src + i);
    } else {
      v[0] = src[i];
    }
#pragma unroll
    for (int j = 0; j < kN; ++j) {
      v[j] = from_f32<T>(to_f32(v[j]) * inv * (offset + to_f32(weight[i + j])));
    }
    if constexpr (kVec) {
      *reinterpret_cast<Vec16<T>*>(orow + i) = *reinterpret_cast<Vec16<T>*>(v);
    } else {
      orow[i] = v[0];
    }
  }
}

template <bool kAdd>
Status launch(const OpContext& ctx, const char* op, const Tensor& out, const Tensor* residual,
              const Tensor& x, const Tensor& weight, float eps, float offset) {
  if (out.dtype() != x.dtype() || (residual && residual->dtype() != x.dtype())) {
    return unimplemented(std::string(op) + ": out/residual dtype must equal x dtype on CUDA");
  }
  const int h = static_cast<int>(x.size(-1));
  const int64_t rows = h == 0 ? 0 : x.numel() / h;
  if (rows == 0) return Status::ok();
  if (rows > 0x7fffffff) return invalid_argument(std::string(op) + ": too many rows");
  auto stream = static_cast<cudaStream_t>(ctx.stream);
  return dispatch_float(x.dtype(), op, [&](auto xt) -> Status {
    using T = decltype(xt);
    return dispatch_float(weight.dtype(), op, [&](auto wt) -> Status {
      using W = decltype(wt);
      T* res = residual ? residual->data_as<T>() : nullptr;
      const bool vec = h % Vec16<T>::kSize == 0 && aligned16(x.data()) && aligned16(out.data()) &&
                       (!residual || aligned16(residual->data()));
      if (vec) {
        rms_norm_kernel<T, W, kAdd, true><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(
            out.data_as<T>(), res, x.data_as<const T>(), weight.data_as<const W>(), h, eps, offset);
      } else {
        rms_norm_kernel<T, W, kAdd, false><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(
            out.data_as<T>(), res, x.data_as<const T>(), weight.data_as<const W>(), h, eps, offset);
      }
      return check_launch(op);
    });
  });
}

}  // namespace

Status rms_norm(const OpContext& ctx, const Tensor& out, const Tensor& x, const Tensor& weight,
                float eps, float weight_offset) {
  return launch<false>(ctx, "rms_norm", out, nullptr, x, weight, eps, weight_offset);
}

Status add_rms_norm(const OpContext& ctx, const Tensor& out, const Tensor& residual,
                    const Tensor& x, const Tensor& weight, float eps, float weight_offset) {
  return launch<true>(ctx, "add_rms_norm", out, &residual, x, weight, eps, weight_offset);
}

}  // namespace radix::cuda
