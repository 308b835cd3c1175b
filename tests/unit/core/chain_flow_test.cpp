// The decode chain's flow-pair split (kernels/cuda/gemm/chain_flow.h: header-only, no
// CUDA), checked on the CPU: the consumer ranges cover each CTA's items once, in order;
// producer + consumer items come out even per warp; the plan takes the real shapes and
// refuses what the kernel cannot hold.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cuda/gemm/chain_flow.h"

namespace radix::cuda::chain_flow {
namespace {

struct Pair {
  int64_t act, k_in, down;
};
constexpr Pair kLlama3{14336, 4096, 4096};
constexpr Pair kQwen2_7B{18944, 3584, 3584};
constexpr Pair kDefaultModel{512, 192, 192};  // models/default: one partial chunk
constexpr Pair kOdd{328, 136, 136};

TEST(ChainFlow, ProducerUnitsCoverEveryUnitOnce) {
  for (const Pair& p : {kLlama3, kQwen2_7B, kDefaultModel, kOdd}) {
    for (int64_t ctas : {132, 114, 7}) {
      std::vector<int> seen(static_cast<size_t>(p.act), 0);
      for (int64_t k = 0; k < ctas; ++k) {
        const int units = cta_units(p.act, k, ctas);
        int by_warps = 0;
        for (int w = 0; w < kWarps; ++w) by_warps += warp_units(units, w);
        EXPECT_EQ(by_warps, units);
        for (int i = 0; i < units; ++i) ++seen[static_cast<size_t>(k + i * ctas)];
      }
      EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int c) { return c == 1; })) << p.act << " / " << ctas;
    }
  }
}

TEST(ChainFlow, ConsumerRangesSplitTheItemsInOrderAndEvenTheWarps) {
  for (const Pair& p : {kLlama3, kQwen2_7B, kDefaultModel, kOdd}) {
    const int per_unit = static_cast<int>(2 * ((p.k_in + kChunk - 1) / kChunk));
    const int64_t chunks = (p.act + kChunk - 1) / kChunk;
    for (int64_t ctas : {132, 114}) {
      for (int64_t k = 0; k < ctas; ++k) {
        const int units = cta_units(p.act, k, ctas);
        const int items = static_cast<int>((p.down * (k + 1) / ctas - p.down * k / ctas) * chunks);
        const double average = (static_cast<double>(units) * per_unit + items) / kWarps;
        int next = 0;
        for (int w = 0; w < kWarps; ++w) {
          const Range r = consumer_range(units, per_unit, items, w);
          ASSERT_EQ(r.lo, next) << "CTA " << k << " warp " << w;
          ASSERT_GE(r.hi, r.lo);
          next = r.hi;
          const int produced = warp_units(units, w) * per_unit;
          // Even to within one producer unit (a warp over the average gets no consumer items).
          if (r.hi > r.lo && w < kWarps - 1) {
            EXPECT_LE(std::abs(produced + (r.hi - r.lo) - average), per_unit + 1.0) << "CTA " << k << " warp " << w;
          }
        }
        EXPECT_EQ(next, items) << "CTA " << k;
      }
    }
  }
}

TEST(ChainFlow, FitsTheRealShapesAndRefusesWhatTheKernelCannotHold) {
  for (const Pair& p : {kLlama3, kQwen2_7B, kDefaultModel, kOdd}) {
    const Fit f = fits(p.act, p.k_in, p.down, 132, 48);
    EXPECT_TRUE(f.ok) << p.act;
    EXPECT_EQ(f.chunks, (p.act + kChunk - 1) / kChunk);
    EXPECT_EQ(f.most_units, (p.down + 131) / 132);
  }
  EXPECT_EQ(fits(kLlama3.act, kLlama3.k_in, kLlama3.down, 132, 48).chunks, 14);
  EXPECT_FALSE(fits(65536, 8192, 8192, 132, 48).ok);  // 64 act chunks: more counters than there are
  // Qwen2-0.5B: 5-item units (4,864-wide act) over short consumer ranges put three warps
  // on one unit, whose sum would then depend on the order of their adds.
  EXPECT_FALSE(fits(4864, 896, 896, 132, 48).ok);
  // Few CTAs: a consumer warp would need more than kMaxUnits units of accumulators.
  EXPECT_FALSE(fits(kLlama3.act, kLlama3.k_in, kLlama3.down, 8, 48).ok);
  EXPECT_FALSE(fits(0, 4096, 4096, 132, 48).ok);
}

}  // namespace
}  // namespace radix::cuda::chain_flow
