// CUDA ops::apply_penalties against the CPU op on random sparse entries: up to 64 rows of
// vocabularies from 7 to 152064, rows without entries, distinct ids per row plus ids
// outside [0, V), every flag combination and count, negative/zero/NaN/inf logits. Both
// sides do the same f32 operations (the kernel spells them with _rn intrinsics, so no
// FMA), so the rows must match bit for bit (NaN payloads aside).
#include "tests/kernels/gpu/gpu_test_util.h"

#ifdef RADIX_HAS_CUDA_KERNELS

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace radix::testing {
namespace {

class PenaltiesGpu : public GpuKernelTest {};

struct Entries {
  std::vector<int32_t> indptr = {0}, ids, counts, flags;
  std::vector<float> rep, freq, pres;
  ops::PenaltyTensors host() {
    const auto n = static_cast<int64_t>(rep.size()), e = static_cast<int64_t>(ids.size());
    return {Tensor(indptr.data(), DType::kI32, {n + 1}), Tensor(ids.data(), DType::kI32, {e}),
            Tensor(counts.data(), DType::kI32, {e}),     Tensor(flags.data(), DType::kI32, {e}),
            Tensor(rep.data(), DType::kF32, {n}),        Tensor(freq.data(), DType::kF32, {n}),
            Tensor(pres.data(), DType::kF32, {n})};
  }
};

TEST_F(PenaltiesGpu, MatchesTheCpuOpBitForBitOnRandomEntries) {
  const float reps[] = {1.0f, 1.3f, 0.7f, 2.0f, 0.05f};
  const float freqs[] = {0.0f, 0.5f, -1.5f, 2.0f, 0.1f};
  const float pres[] = {0.0f, 0.3f, -2.0f, 1.7f};
  int64_t changed = 0;
  for (auto [n, v] : {std::pair{64, 152064}, std::pair{13, 32003}, std::pair{40, 1001},
                      std::pair{3, 7}, std::pair{64, 128256}}) {
    OwnedTensor logits = random_host({n, v}, -6, 6, DType::kF32);
    float* x = logits.data_as<float>();
    for (int i = 0; i < 64; ++i) {
      const int64_t at =
          static_cast<int64_t>(rng().randint(0, n - 1)) * v + rng().randint(0, v - 1);
      x[at] = i % 4 == 0 ? std::nanf("") : i % 4 == 1 ? -INFINITY : i % 4 == 2 ? INFINITY : 0.0f;
    }
    Entries e;
    for (int r = 0; r < n; ++r) {
      e.rep.push_back(reps[rng().randint(0, 4)]);
      e.freq.push_back(freqs[rng().randint(0, 4)]);
      e.pres.push_back(pres[rng().randint(0, 3)]);
      const int want = r % 7 == 0 ? 0 : rng().randint(1, std::min(v, 400));
      std::unordered_set<int32_t> used;
      for (int k = 0; k < want; ++k) {
        // Mostly a small range (ids that also get sampled), some anywhere, a few outside.
        int32_t id = k % 3 ? rng().randint(0, std::min(v, 500) - 1) : rng().randint(0, v - 1);
        if (k % 50 == 49) id = k % 100 == 49 ? v + rng().randint(0, 9) : -1 - rng().randint(0, 9);
        if (!used.insert(id).second) continue;
        e.ids.push_back(id);
        e.counts.push_back(rng().randint(0, 2) ? 0 : rng().randint(1, 6));
        e.flags.push_back(rng().randint(0, 3));
      }
      e.indptr.push_back(static_cast<int32_t>(e.ids.size()));
    }
    OwnedTensor ref = host_copy(logits);
    ASSERT_TRUE(ops::apply_penalties(cpu(), ref, e.host()).is_ok());
    const ops::PenaltyTensors h = e.host();
    OwnedTensor d_indptr = to_device(h.row_indptr, DType::kI32),
                d_ids = to_device(h.token_ids, DType::kI32),
                d_counts = to_device(h.counts, DType::kI32),
                d_flags = to_device(h.flags, DType::kI32),
                d_rep = to_device(h.repetition, DType::kF32),
                d_freq = to_device(h.frequency, DType::kF32),
                d_pres = to_device(h.presence, DType::kF32);
    const ops::PenaltyTensors d{d_indptr.view(), d_ids.view(),  d_counts.view(), d_flags.view(),
                                d_rep.view(),    d_freq.view(), d_pres.view()};
    OwnedTensor d_logits = to_device(logits, DType::kF32);
    ASSERT_TRUE(ops::apply_penalties(gpu(), d_logits, d).is_ok());
    OwnedTensor got = to_host_f32(d_logits);
    int64_t bad = 0;
    for (int64_t i = 0; i < static_cast<int64_t>(n) * v; ++i) {
      const float g = got.data_as<float>()[i], c = ref.data_as<float>()[i];
      const bool same = (std::isnan(g) && std::isnan(c)) || std::memcmp(&g, &c, sizeof(float)) == 0;
      if (!same && bad++ < 5) {
        ADD_FAILURE() << "n " << n << " v " << v << " row " << i / v << " id " << i % v << ": gpu "
                      << g << " cpu " << c << " (logit " << x[i] << ")";
      }
      changed += !std::isnan(c) && c != x[i];
    }
    EXPECT_EQ(bad, 0) << "n " << n << " v " << v;
  }
  EXPECT_GT(changed, 1000);  // the entries did change many logits
}

TEST_F(PenaltiesGpu, StepWithoutEntriesLeavesTheLogitsAlone) {
  const int n = 4, v = 1000;
  OwnedTensor logits = random_host({n, v}, -3, 3);
  Entries e;
  for (int r = 0; r < n; ++r) {
    e.rep.push_back(2.0f);
    e.freq.push_back(1.0f);
    e.pres.push_back(1.0f);
    e.indptr.push_back(0);
  }
  const ops::PenaltyTensors h = e.host();
  OwnedTensor d_indptr = to_device(h.row_indptr, DType::kI32),
              d_rep = to_device(h.repetition, DType::kF32);
  const Tensor none(d_indptr.view().data(), DType::kI32, {0}, Device::cuda(0));
  const ops::PenaltyTensors d{d_indptr.view(), none,         none,        none,
                              d_rep.view(),    d_rep.view(), d_rep.view()};
  OwnedTensor d_logits = to_device(logits, DType::kF32);
  ASSERT_TRUE(ops::apply_penalties(gpu(), d_logits, d).is_ok());
  EXPECT_TRUE(all_close(to_host_f32(d_logits), logits, 0, 0));
}

}  // namespace
}  // namespace radix::testing

#endif  // RADIX_HAS_CUDA_KERNELS
