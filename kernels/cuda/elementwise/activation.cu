// Gated activations of the MLP (silu_and_mul for Llama/Qwen/Mistral, gelu_tanh_and_mul
// for Gemma) and the elementwise add. f32 math; 16-byte vectors when the row allows.
#include "kernels/cuda/common/cuda_utils.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace radix::cuda {
namespace {

constexpr int kThreads = 256;

struct Silu {
  __device__ static float apply(float g) { return g / (1.0f + __expf(-g)); }
};
struct GeluTanh {
  __device__ static float apply(float g) {
    const float k0 = 0.7978845608028654f;  // sqrt(2/pi)
    return 0.5f * g * (1.0f + tanhf(k0 * (g + 0.044715f * g * g * g)));
  }
};

// out [T, I] = act(x[:, :I]) * x[:, I:]; x [T, 2I]. One thread per kN outputs.
template <typename T, typename Act, int kN>
__global__ void __launch_bounds__(kThreads)
    gated_kernel(T* __restrict__ out, const T* __restrict__ x, int64_t rows, int inter) {
  const int64_t per_row = inter / kN;
  const int64_t n = rows * per_row;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; idx < n;
       idx += static_cast<int64_t>(gridDim.x) * kThreads) {
    const int64_t r = idx / per_row;
    const int c = static_cast<int>(idx % per_row) * kN;
    const T* xr = x + r * 2 * inter;
    T g[kN], u[kN], o[kN];
    if constexpr (kN > 1) {
      *reinterpret_cast<Vec16<T>*>(g) = *reinterpret_cast<const Vec16<T>*>(xr + c);
      *reinterpret_cast<Vec16<T>*>(u) = *reinterpret_cast<const Vec16<T>*>(xr + inter + c);
    } else {
      g[0] = xr[c];
      u[0] = xr[inter + c];
    }
#pragma unroll
    for (int j = 0; j < kN; ++j) o[j] = from_f32<T>(Act::apply(to_f32(g[j])) * to_f32(u[j]));
    if constexpr (kN > 1) {
      *reinterpret_cast<Vec16<T>*>(out + r * inter + c) = *reinterpret_cast<Vec16<T>*>(o);
    } else {
      out[r * inter + c] = o[0];
    }
  }
}

// Enough CTAs to fill the machine several times over; the kernels grid-stride.
unsigned grid_for(int64_t work) {
  const int64_t blocks = (work + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(blocks, 132 * 32)));
}

template <typename Act>
Status gated(const OpContext& ctx, const char* op, const Tensor& out, const Tensor& x) {
  if (out.dtype() != x.dtype())
    return unimplemented(std::string(op) + ": out dtype must equal x dtype");
  const int64_t rows = x.size(0);
  const int inter = static_cast<int>(out.size(1));
  if (rows == 0 || inter == 0) return Status::ok();
  auto stream = static_cast<cudaStream_t>(ctx.stream);
  return dispatch_float(x.dtype(), op, [&](auto tag) -> Status {
    using T = decltype(tag);
    constexpr int kN = Vec16<T>::kSize;
    if (inter % kN == 0 && aligned16(x.data()) && aligned16(out.data())) {
      gated_kernel<T, Act, kN><<<grid_for(rows * inter / kN), kThreads, 0, stream>>>(
          out.data_as<T>(), x.data_as<const T>(), rows, inter);
    } else {
      gated_kernel<T, Act, 1><<<grid_for(rows * inter), kThreads, 0, stream>>>(
          out.data_as<T>(), x.data_as<const T>(), rows, inter);
    }
    return check_launch(op);
  });
}

template <typename T>
__global__ void __launch_bounds__(kThreads) add_kernel(T* out, const T* a, const T* b, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    out[i] = from_f32<T>(to_f32(a[i]) + to_f32(b[i]));
  }
}

}  // namespace

Status silu_and_mul(const OpContext& ctx, const Tensor& out, const Tensor& x) {
  return gated<Silu>(ctx, "silu_and_mul", out, x);
}

Status gelu_tanh_and_mul(const OpContext& ctx, const Tensor& out, const Tensor& x) {
  return gated<GeluTanh>(ctx, "gelu_tanh_and_mul", out, x);
}

Status add(const OpContext& ctx, const Tensor& out, const Tensor& a, const Tensor& b) {
  if (out.dtype() != a.dtype() || b.dtype() != a.dtype()) {
    return unimplemented("add: out, a and b must share one dtype on CUDA");
  }
  const int64_t n = out.numel();
  if (n == 0) return Status::ok();
  auto stream = static_cast<cudaStream_t>(ctx.stream);
  return dispatch_float(a.dtype(), "add", [&](auto tag) -> Status {
    using T = decltype(tag);
    add_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(out.data_as<T>(), a.data_as<const T>(),
                                                        b.data_as<const T>(), n);
    return check_launch("add");
  });
}

}  // namespace radix::cuda
