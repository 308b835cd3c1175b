// The decode chain's flow pair (decode_chain.cu; opt-in RADIX_DECODE_CHAIN_FLOW=1): how the
// SiLU phase (producer) and the down phase after it (consumer) split their work, shared by
// the kernel and its plan. Header-only, no CUDA headers: tests/unit/core checks it on the
// CPU.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define RADIX_CHAIN_HD __host__ __device__ __forceinline__
#else
#define RADIX_CHAIN_HD inline
#endif

namespace radix::cuda::chain_flow {

constexpr int kWarps = 16;      // per CTA
constexpr int kChunk = 1024;    // act elements per counted chunk (one 1024-column item)
constexpr int kMaxUnits = 4;    // a consumer warp's units (its accumulators live in registers)

// Producer: CTA k of S owns the global units k, k + S, k + 2S, ... of n.
RADIX_CHAIN_HD int cta_units(int64_t n, int64_t k, int64_t ctas) {
  return n > k ? static_cast<int>((n - k + ctas - 1) / ctas) : 0;
}
// ... and its warp w the CTA's units w, w + kWarps, ...
RADIX_CHAIN_HD int warp_units(int units, int w) {
  return units > w ? (units - w + kWarps - 1) / kWarps : 0;
}

// Consumer: warp w's items [lo, hi) of the CTA's `items` (unit, chunk) items, contiguous,
// each warp's range shortened by the producer items it has above the average, so that
// producer + consumer items come out even (a warp whose producer share alone exceeds
// the average gets none).
struct Range {
  int lo, hi;
};
RADIX_CHAIN_HD Range consumer_range(int producer_units, int producer_items_per_unit, int items, int w) {
  const int64_t total = static_cast<int64_t>(producer_units) * producer_items_per_unit + items;
  int64_t produced = 0;
  int lo = 0;
  for (int v = 0;; ++v) {
    produced += static_cast<int64_t>(warp_units(producer_units, v)) * producer_items_per_unit;
    int64_t hi = total * (v + 1) / kWarps - produced;
    hi = v == kWarps - 1 ? items : (hi < lo ? lo : (hi > items ? items : hi));
    if (v == w) return {lo, static_cast<int>(hi)};
    lo = static_cast<int>(hi);
  }
}

// Whether a pair fits the kernel: act of `act` units from a `k_in`-wide input, a down
// phase of `down` units (its input is act), `ctas` CTAs; the act chunks (counters) at
// most max_chunks, every consumer warp at most kMaxUnits units, every consumer unit at
// most two warps (so its sum is the same in every run). On success: the chunks and the
// most consumer units of a CTA.
struct Fit {
  bool ok = false;
  int64_t chunks = 0;
  int64_t most_units = 0;
};
inline Fit fits(int64_t act, int64_t k_in, int64_t down, int64_t ctas, int64_t max_chunks) {
  Fit f;
  if (act < 1 || k_in < 1 || down < 1 || ctas < 1) return f;
  const int64_t producer_chunks = (k_in + kChunk - 1) / kChunk;
  const int64_t chunks = (act + kChunk - 1) / kChunk;
  if (chunks > max_chunks) return f;
  for (int64_t k = 0; k < ctas; ++k) {
    const int units = cta_units(act, k, ctas);
    const int64_t u0 = down * k / ctas, u1 = down * (k + 1) / ctas;
    f.most_units = f.most_units > u1 - u0 ? f.most_units : u1 - u0;
    int last_unit = -1, warps_on_last = 0;  // ranges are contiguous: count per unit in order
    for (int w = 0; w < kWarps; ++w) {
      const Range r = consumer_range(units, static_cast<int>(2 * producer_chunks), static_cast<int>((u1 - u0) * chunks), w);
      if (r.lo == r.hi) continue;
      const int ua = static_cast<int>(r.lo / chunks), ub = static_cast<int>((r.hi - 1) / chunks);
      if (ub - ua + 1 > kMaxUnits) return Fit{};
      for (int u = ua; u <= ub; ++u) {
        warps_on_last = u == last_unit ? warps_on_last + 1 : 1;
        last_unit = u;
        if (warps_on_last > 2) return Fit{};
      }
    }
  }
  f.ok = true;
  f.chunks = chunks;
  return f;
}

}  // namespace radix::cuda::chain_flow
