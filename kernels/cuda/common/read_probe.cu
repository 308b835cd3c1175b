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

// 2 KB items: lane l reads vectors j * 32 + l (j < 4), as a decode-chain item.
constexpr int kItemVecs = 128;

template <ReadPattern kP, int kDepth>
__global__ void __launch_bounds__(kThreads, 1) pattern_kernel(const uint4* __restrict__ x, int64_t items,
                                                              uint32_t* out) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps_per_cta = kThreads / 32;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * warps_per_cta;
  int64_t i0 = 0, i1 = items, step = 1;
  if constexpr (kP == ReadPattern::kFront) {
    i0 = static_cast<int64_t>(blockIdx.x) * warps_per_cta + warp;
    step = warps;
  } else if constexpr (kP == ReadPattern::kWarpBlocks || kP == ReadPattern::kRowGroups) {
    const int64_t g = static_cast<int64_t>(blockIdx.x) * warps_per_cta + warp;
    i0 = items * g / warps;
    i1 = items * (g + 1) / warps;
  } else {
    const int64_t c0 = items * blockIdx.x / gridDim.x, c1 = items * (blockIdx.x + 1) / gridDim.x;
    i0 = c0 + warp;
    i1 = c1;
    step = warps_per_cta;
  }
  uint32_t acc = 0;
  for (int64_t i = i0; i < i1; i += step * kDepth) {
    uint4 v[kDepth][4];
#pragma unroll
    for (int d = 0; d < kDepth; ++d) {
      const int64_t it = i + d * step;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        int64_t at = it * kItemVecs + j * 32 + lane;
        if constexpr (kP == ReadPattern::kRowGroups) {
          // 32 items per group of 8 rows of 512 vectors: item c of the group covers the
          // rows' vectors [16 c, 16 c + 16); lane l reads row l / 4, vectors 4 j + l % 4.
          const int64_t grp = it / 32, c = it % 32;
          at = (grp * 8 + lane / 4) * 512 + c * 16 + j * 4 + lane % 4;
        }
        v[d][j] = it < i1 ? __ldcs(x + at) : make_uint4(0, 0, 0, 0);
      }
    }
#pragma unroll
    for (int d = 0; d < kDepth; ++d) {
#pragma unroll
      for (int j = 0; j < 4; ++j) acc ^= v[d][j].x ^ v[d][j].y ^ v[d][j].z ^ v[d][j].w;
    }
  }
  if (acc == 0x9e3779b9u) out[blockIdx.x] = acc;
}

template <bool kEvictFirst>
__global__ void __launch_bounds__(kThreads, 1) ring_kernel(const uint4* __restrict__ x, int64_t items, uint32_t* out) {
  constexpr int kRing = 6;
  extern __shared__ __align__(16) uint4 ring[];  // vector j of slot s of thread i at [(s 4 + j) kThreads + i]
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps_per_cta = kThreads / 32;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * warps_per_cta;
  const int64_t g = static_cast<int64_t>(blockIdx.x) * warps_per_cta + warp;
  const int64_t i0 = items * g / warps, i1 = items * (g + 1) / warps;
  unsigned long long policy = 0;
  if constexpr (kEvictFirst) policy = l2_evict_first_policy();
  auto issue = [&](int64_t it, int slot) {
    const bool valid = it < i1;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      uint4* dst = ring + (slot * 4 + j) * kThreads + threadIdx.x;
      const uint4* src = x + (valid ? it * kItemVecs + j * 32 + lane : 0);
      cp_async_16_maybe_policy<kEvictFirst>(dst, src, valid, policy);
    }
    cp_async_commit();
  };
  for (int d = 0; d < kRing - 1; ++d) issue(i0 + d, d);
  uint32_t acc = 0;
  int slot = 0, issue_slot = kRing - 1;
  for (int64_t it = i0; it < i1; ++it) {
    issue(it + kRing - 1, issue_slot);
    issue_slot = issue_slot + 1 == kRing ? 0 : issue_slot + 1;
    cp_async_wait<kRing - 1>();
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const uint4 v = ring[(slot * 4 + j) * kThreads + threadIdx.x];
      acc ^= v.x ^ v.y ^ v.z ^ v.w;
    }
    slot = slot + 1 == kRing ? 0 : slot + 1;
  }
  cp_async_wait<0>();
  if (acc == 0x9e3779b9u) out[blockIdx.x] = acc;
}

template <bool kEvictFirst>
void launch_ring(int sms, cudaStream_t s, const uint4* x, int64_t items, uint32_t* out) {
  constexpr int kSmem = 6 * 4 * 16 * kThreads;
  static const bool attr = cudaFuncSetAttribute(ring_kernel<kEvictFirst>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                kSmem) == cudaSuccess;
  (void)attr;
  ring_kernel<kEvictFirst><<<sms, kThreads, kSmem, s>>>(x, items, out);
}

template <int kDepth>
void launch_pattern(ReadPattern p, int sms, cudaStream_t s, const uint4* x, int64_t items, uint32_t* out) {
  switch (p) {
    case ReadPattern::kFront: pattern_kernel<ReadPattern::kFront, kDepth><<<sms, kThreads, 0, s>>>(x, items, out); break;
    case ReadPattern::kWarpBlocks:
      pattern_kernel<ReadPattern::kWarpBlocks, kDepth><<<sms, kThreads, 0, s>>>(x, items, out);
      break;
    case ReadPattern::kCtaBlocks:
      pattern_kernel<ReadPattern::kCtaBlocks, kDepth><<<sms, kThreads, 0, s>>>(x, items, out);
      break;
    case ReadPattern::kRowGroups:
      pattern_kernel<ReadPattern::kRowGroups, kDepth><<<sms, kThreads, 0, s>>>(x, items, out);
      break;
    case ReadPattern::kRingAsync: launch_ring<false>(sms, s, x, items, out); break;
    case ReadPattern::kRingAsyncEvictFirst: launch_ring<true>(sms, s, x, items, out); break;
  }
}

}  // namespace

Status read_probe_pattern(const OpContext& ctx, const Tensor& x, const Tensor& scratch, ReadPattern pattern,
                          int depth) {
  if (x.nbytes() % (kItemVecs * 16) != 0 || scratch.nbytes() < 4 * 4096 || (depth != 5 && depth != 8) ||
      (pattern == ReadPattern::kRowGroups && x.nbytes() % (32 * kItemVecs * 16) != 0)) {
    return invalid_argument(
        "read_probe_pattern: x must be whole 2 KB items (64 KB groups for kRowGroups), scratch >= 16 KB, depth 5 or 8");
  }
  int sms = 132;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, x.device().index);
  const auto* p = static_cast<const uint4*>(x.data());
  const int64_t items = static_cast<int64_t>(x.nbytes() / (kItemVecs * 16));
  auto s = static_cast<cudaStream_t>(ctx.stream);
  if (depth == 5) {
    launch_pattern<5>(pattern, sms, s, p, items, scratch.data_as<uint32_t>());
  } else {
    launch_pattern<8>(pattern, sms, s, p, items, scratch.data_as<uint32_t>());
  }
  return check_launch("read_probe_pattern");
}

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
