// Shared device helpers for the CUDA backend: dtype traits (load/store as f32),
// 16-byte vector access, warp/block reductions, cp.async, and the launch-error check
// every launcher ends with. Included by kernels/cuda/**/*.cu only.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/dtype.h"
#include "core/status.h"

namespace radix::cuda {

using bf16 = __nv_bfloat16;
using f16 = __half;

// ---- host: CUDA error -> Status ----
inline Status cuda_status(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return Status::ok();
  return internal_error(std::string(what) + ": " + cudaGetErrorString(err));
}
// After a launch: configuration errors surface here (asynchronous faults surface at
// the next synchronizing call, as with every CUDA program).
inline Status check_launch(const char* kernel) {
  return cuda_status(cudaGetLastError(), kernel);
}

inline int ceil_div(int64_t a, int64_t b) {
  return static_cast<int>((a + b - 1) / b);
}

// ---- device: scalar conversion ----
template <typename T>
__device__ __forceinline__ float to_f32(T v);
template <>
__device__ __forceinline__ float to_f32<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ float to_f32<bf16>(bf16 v) {
  return __bfloat162float(v);
}
template <>
__device__ __forceinline__ float to_f32<f16>(f16 v) {
  return __half2float(v);
}

template <typename T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ float from_f32<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ bf16 from_f32<bf16>(float v) {
  return __float2bfloat16_rn(v);
}
template <>
__device__ __forceinline__ f16 from_f32<f16>(float v) {
  return __float2half_rn(v);
}

// A 16-byte vector of T: kVec elements moved with one load/store.
template <typename T>
struct alignas(16) Vec16 {
  static constexpr int kSize = 16 / sizeof(T);
  T v[kSize];
};

// ---- device: reductions ----
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
// Sum over the block (blockDim.x a multiple of 32, <= 1024); every thread gets it.
__device__ __forceinline__ float block_sum(float v) {
  __shared__ float partial[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // partial may be in use by a previous call
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  const int warps = blockDim.x >> 5;
  v = lane < warps ? partial[lane] : 0.0f;
  return warp_sum(v);
}

// ---- device: cp.async (16 bytes, zero-filled when !valid) ----
__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem, bool valid) {
  const uint32_t dst = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  const int src_size = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(gmem),
               "r"(src_size));
}
// An L2 policy that marks lines evict-first (data read once: streamed weights).
__device__ __forceinline__ unsigned long long l2_evict_first_policy() {
  unsigned long long policy;
  asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;\n" : "=l"(policy));
  return policy;
}
// cp_async_16 with an L2 cache policy (l2_evict_first_policy).
__device__ __forceinline__ void cp_async_16_policy(void* smem, const void* gmem, bool valid,
                                                   unsigned long long policy) {
  const uint32_t dst = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  const int src_size = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global.L2::cache_hint [%0], [%1], 16, %2, %3;\n" ::"r"(dst), "l"(gmem),
               "r"(src_size), "l"(policy));
}
// cp_async_16 with the given policy when kPolicy, plain otherwise (policy unused).
template <bool kPolicy>
__device__ __forceinline__ void cp_async_16_maybe_policy(void* smem, const void* gmem, bool valid,
                                                         unsigned long long policy) {
  if constexpr (kPolicy) {
    cp_async_16_policy(smem, gmem, valid, policy);
  } else {
    cp_async_16(smem, gmem, valid);
  }
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::);
}
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
}

}  // namespace radix::cuda

namespace radix::cuda {

// Calls f(T{}) for the float activation dtypes (f32, bf16, f16); other dtypes are an
// unimplemented error naming the op.
template <typename F>
Status dispatch_float(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::kF32:
      return f(float{});
    case DType::kBF16:
      return f(bf16{});
    case DType::kF16:
      return f(f16{});
    default:
      return unimplemented(std::string(op) + ": no CUDA kernel for dtype " + dtype_name(t));
  }
}

inline bool aligned16(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) & 15u) == 0;
}

// ---- programmatic dependent launch (PDL, sm_90) ----
// A kernel launched with launch_pdl may start while the previous kernel on the stream
// is still running (once that one has called pdl_launch_dependents in every CTA, or
// has exited). Its threads may do work that does not depend on the previous kernel
// (prefetch weights) and must call pdl_wait() before reading anything it wrote.
// Every thread of a PDL kernel calls pdl_wait() before exiting, so the kernel's
// completion still implies its predecessors' (the ordering later kernels rely on).
// Both instructions are no-ops for a kernel launched without the attribute.
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
__device__ __forceinline__ void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Whether launch_pdl sets the attribute: false unless RADIX_PDL=1 is in the environment
// at first use; set_pdl_enabled overrides it (benchmarks compare both). backend.cpp.
bool pdl_enabled();
void set_pdl_enabled(bool on);
// PDL for the decode layer's own sequence only: the decode attention (its slot indices
// read before the wait), its split merge (releasing its successor once its loads are in)
// and the decode chain (its first weight copies issued before the wait) overlap each
// other's launch and ramp. On unless RADIX_DECODE_PDL=0 at first use; the setter
// overrides it. Batch 1 on H200: 4.09 vs 4.13 ms per step (docs/perf.md, session 10).
// backend.cpp.
bool decode_pdl_enabled();
void set_decode_pdl_enabled(bool on);

// A kernel may start beside its predecessor (PDL) only if the SM's L1 / shared-memory
// split suits both: kernels that let the driver pick different splits (by their shared
// memory use) cannot share an SM, which has to drain before it is reconfigured. With
// RADIX_CARVEOUT=1 at first use (or the setter) every launch_pdl kernel asks for the
// largest shared-memory carveout (once per kernel). Off by default: it helped only the
// bulk-copy GEMV and cost the default one (docs/perf.md, session 4). backend.cpp.
bool max_shared_carveout_enabled();
void set_max_shared_carveout_enabled(bool on);
void prefer_max_shared(const void* kernel);

// Launches kernel<<<grid, block, smem, stream>>>(args...), with programmatic stream
// serialization allowed when `pdl`.
template <typename... KArgs, typename... Args>
cudaError_t launch_pdl_when(bool pdl, void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem,
                            cudaStream_t stream, Args... args) {
  prefer_max_shared(reinterpret_cast<const void*>(kernel));
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr{};
  attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr.val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = &attr;
  cfg.numAttrs = pdl ? 1 : 0;
  return cudaLaunchKernelEx(&cfg, kernel, static_cast<KArgs>(args)...);
}
// The same when pdl_enabled().
template <typename... KArgs, typename... Args>
cudaError_t launch_pdl(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
                       Args... args) {
  return launch_pdl_when(pdl_enabled(), kernel, grid, block, smem, stream, args...);
}
// The same when pdl_enabled() or decode_pdl_enabled(): the decode attention and merge.
template <typename... KArgs, typename... Args>
cudaError_t launch_decode_pdl(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
                              Args... args) {
  return launch_pdl_when(pdl_enabled() || decode_pdl_enabled(), kernel, grid, block, smem, stream, args...);
}

// SMs of the current device (queried once; 132 if the query fails).
inline int num_sms() {
  static const int sms = [] {
    int dev = 0, n = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) {
      cudaGetLastError();
      n = 132;
    }
    return n;
  }();
  return sms;
}

// CTAs of `kernel` (blocks of `threads`, `smem` dynamic bytes each) that fit on the GPU
// at once; `cache` (one per kernel) keeps the answer for the last smem size asked (the
// query is host-only).
inline int resident_ctas(const void* kernel, int threads, size_t smem, std::atomic<int64_t>* cache) {
  const int64_t c = cache->load(std::memory_order_relaxed);  // (smem << 16) | CTAs per SM
  int per_sm = 0;
  if (c >= 0 && static_cast<size_t>(c >> 16) == smem) {
    per_sm = static_cast<int>(c & 0xffff);
  } else {
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, smem) != cudaSuccess || per_sm < 1) {
      cudaGetLastError();
      per_sm = 1;
    }
    cache->store((static_cast<int64_t>(smem) << 16) | per_sm, std::memory_order_relaxed);
  }
  return num_sms() * per_sm;
}

}  // namespace radix::cuda
