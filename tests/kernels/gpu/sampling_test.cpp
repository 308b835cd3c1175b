// CUDA ops::sample against the CPU op, on random logits and random per-row params
// (greedy, temperature, top_k, top_p, min_p), vocabularies from 37 to 152K; and the
// GPU's draws against the exact truncated distribution.
//
// Tolerance: thresholds are compared on y = x / T, computed identically on both sides,
// so the kept set matches except where top_p's cut-off mass (summed in f32 on the GPU,
// f64 on the CPU) lands within rounding of a token's boundary; the draw can likewise
// differ only when uniform * total is within rounding of a running sum. A mismatch is
// accepted only if the CPU op picks the GPU's token from a uniform within 1e-4 of u, with
// top_p nudged by up to 1e-4, and at most 1% of rows may need that.
#include "tests/kernels/gpu/gpu_test_util.h"

#ifdef RADIX_HAS_CUDA_KERNELS
#include "kernels/cuda/cuda_ops.h"
#endif

#ifdef RADIX_HAS_CUDA_KERNELS

#include <cmath>

namespace radix::testing {
namespace {

struct Params {
  std::vector<float> t, p, mp, u;
  std::vector<int32_t> k;
  void resize(size_t n) {
    t.resize(n);
    p.resize(n);
    mp.resize(n);
    u.resize(n);
    k.resize(n);
  }
};

SamplingTensors host_tensors(Params& q) {
  const auto n = static_cast<int64_t>(q.t.size());
  SamplingTensors s;
  s.temperature = Tensor(q.t.data(), DType::kF32, {n});
  s.top_k = Tensor(q.k.data(), DType::kI32, {n});
  s.top_p = Tensor(q.p.data(), DType::kF32, {n});
  s.min_p = Tensor(q.mp.data(), DType::kF32, {n});
  s.uniform = Tensor(q.u.data(), DType::kF32, {n});
  return s;
}

struct DeviceParams {
  OwnedTensor t, k, p, mp, u;
  SamplingTensors view() const { return {t.view(), k.view(), p.view(), mp.view(), u.view()}; }
};

int32_t cpu_one(const float* row, int64_t v, float t, int k, float p, float mp, float u) {
  std::vector<float> l(row, row + v), tt = {t}, pp = {p}, mpp = {mp}, uu = {u};
  std::vector<int32_t> kk = {k}, out = {-7};
  SamplingTensors s{Tensor(tt.data(), DType::kF32, {1}), Tensor(kk.data(), DType::kI32, {1}),
                    Tensor(pp.data(), DType::kF32, {1}), Tensor(mpp.data(), DType::kF32, {1}),
                    Tensor(uu.data(), DType::kF32, {1})};
  EXPECT_TRUE(ops::sample(OpContext{}, Tensor(out.data(), DType::kI32, {1}), Tensor(l.data(), DType::kF32, {1, v}), s)
                  .is_ok());
  return out[0];
}

class SamplingGpu : public GpuKernelTest {
 protected:
  DeviceParams to_device_params(Params& q) {
    const SamplingTensors h = host_tensors(q);
    DeviceParams d;
    d.t = to_device(h.temperature, DType::kF32);
    d.k = i32_device(q.k);
    d.p = to_device(h.top_p, DType::kF32);
    d.mp = to_device(h.min_p, DType::kF32);
    d.u = to_device(h.uniform, DType::kF32);
    return d;
  }

  // Random rows and per-row params for each (rows, vocabulary) case, against the CPU op.
  void expect_matches_cpu(std::initializer_list<std::pair<int, int>> cases);
};

void SamplingGpu::expect_matches_cpu(std::initializer_list<std::pair<int, int>> cases) {
  int rows_total = 0, nudged = 0;
  for (auto [n, v] : cases) {
    // Peaked rows (scale 8) and flat rows (scale 1); bf16-rounded, so ties are common.
    OwnedTensor logits = random_host({n, v}, -1, 1);
    float* x = logits.data_as<float>();
    for (int r = 0; r < n; ++r) {
      const float scale = r % 2 ? 8.0f : 1.0f;
      for (int i = 0; i < v; ++i) x[static_cast<int64_t>(r) * v + i] *= scale;
      if (r % 17 == 3) x[static_cast<int64_t>(r) * v + rng().randint(0, v - 1)] = std::nanf("");
    }
    Params q;
    q.resize(static_cast<size_t>(n));
    const float temps[] = {0.0f, 0.3f, 0.7f, 1.0f, 1.5f};
    const int ks[] = {0, 1, 5, 50, v + 3, 1000};
    const float ps[] = {1.0f, 0.95f, 0.8f, 0.5f, 0.1f};
    const float mps[] = {0.0f, 0.0f, 0.05f, 0.3f};
    for (int r = 0; r < n; ++r) {
      q.t[r] = temps[rng().randint(0, 4)];
      q.k[r] = ks[rng().randint(0, 5)];
      q.p[r] = ps[rng().randint(0, 4)];
      q.mp[r] = mps[rng().randint(0, 3)];
      q.u[r] = rng().uniform(0, 1);
    }
    OwnedTensor ref = OwnedTensor::host({n}, DType::kI32);
    ASSERT_TRUE(ops::sample(cpu(), ref, logits, host_tensors(q)).is_ok());
    DeviceParams d = to_device_params(q);
    OwnedTensor d_out = poisoned({n}, DType::kI32);
    ASSERT_TRUE(ops::sample(gpu(), d_out, to_device(logits, DType::kF32), d.view()).is_ok());
    OwnedTensor got = to_host_f32(d_out);
    for (int r = 0; r < n; ++r) {
      ++rows_total;
      const int32_t g = got.data_as<int32_t>()[r], c = ref.data_as<int32_t>()[r];
      ASSERT_GE(g, 0) << "row " << r;
      ASSERT_LT(g, v);
      if (g == c) continue;
      // A rounding difference at a boundary: the CPU op draws g from some uniform within
      // 1e-4 of u, with top_p within 1e-4 of p. Its pick never decreases as u grows
      // (kept ids are walked in id order), so bisection over u finds such a u if there
      // is one; three fixed nudges would step over whole ids of a flat 128K row.
      const float* row = x + static_cast<int64_t>(r) * v;
      auto drawn = [&](float p, float u) { return cpu_one(row, v, q.t[r], q.k[r], p, q.mp[r], u); };
      auto reached = [&](float p) {
        float lo = std::max(q.u[r] - 1e-4f, 0.0f), hi = std::min(q.u[r] + 1e-4f, 0.99999f);
        int32_t a = drawn(p, lo), b = drawn(p, hi);
        while (a < g && g < b) {
          const float mid = 0.5f * (lo + hi);
          if (mid <= lo || mid >= hi) break;
          const int32_t c = drawn(p, mid);
          if (c == g) return true;
          (c < g ? lo : hi) = mid;
          (c < g ? a : b) = c;
        }
        return a == g || b == g;
      };
      bool explained = false;
      for (float dp : {-1e-4f, 0.0f, 1e-4f}) explained = explained || reached(q.p[r] < 1.0f ? q.p[r] + dp : 1.0f);
      EXPECT_TRUE(explained) << "row " << r << " v " << v << " T " << q.t[r] << " k " << q.k[r] << " p " << q.p[r]
                             << " min_p " << q.mp[r] << " u " << q.u[r] << ": gpu " << g << " cpu " << c;
      ++nudged;
    }
  }
  EXPECT_LE(nudged * 100, rows_total) << nudged << " of " << rows_total << " rows differ at a boundary";
}

TEST_F(SamplingGpu, MatchesTheCpuOpOnRandomRowsAndParams) {
  expect_matches_cpu({{64, 128256}, {16, 151936}, {200, 1000}, {64, 37}, {8, 32000}});
}

// Up to 16 rows, each spread over a cluster of 8 CTAs (the default; RADIX_SAMPLE_CLUSTER=0
// turns it off) and each in one CTA: slices of 16 elements (V = 37, some CTAs empty), of
// a few hundred, and of Llama-3's and Qwen2's vocabularies, plus V = 1001 (no 16-byte
// loads). By default 17-33 rows take clusters of 4 and 34-66 of 2 (132 SMs;
// RADIX_SAMPLE_CLUSTER_WIDE=0 keeps them to one CTA); the cases below cover each width
// and the widths ops::sample picks.
TEST_F(SamplingGpu, FewRowsMatchTheCpuOpOverAClusterAndInOneCta) {
  const bool was = cuda::sample_cluster_enabled(), wide_was = cuda::sample_cluster_wide_enabled();
  cuda::set_sample_cluster_wide_enabled(false);
  for (const bool cluster : {true, false}) {
    SCOPED_TRACE(cluster ? "cluster of 8" : "one CTA per row");
    cuda::set_sample_cluster_enabled(cluster);
    EXPECT_EQ(cuda::sample_cluster_width(16), cluster ? 8 : 1);
    EXPECT_EQ(cuda::sample_cluster_width(20), 1);
    expect_matches_cpu({{16, 37}, {16, 1000}, {13, 1001}, {16, 128256}, {5, 151936}, {1, 128256}, {16, 32000},
                        {16, 128256}, {16, 128256}});
  }
  cuda::set_sample_cluster_enabled(true);
  cuda::set_sample_cluster_wide_enabled(true);
  {
    SCOPED_TRACE("clusters of 4 and 2");
    EXPECT_EQ(cuda::sample_cluster_width(16), 8);
    EXPECT_EQ(cuda::sample_cluster_width(20), 4);
    EXPECT_EQ(cuda::sample_cluster_width(40), 2);
    EXPECT_EQ(cuda::sample_cluster_width(300), 1);
    expect_matches_cpu({{20, 37}, {24, 1001}, {33, 128256}, {17, 151936}, {40, 1000}, {34, 128256}, {64, 32000},
                        {66, 128256}});
  }
  cuda::set_sample_cluster_enabled(was);
  cuda::set_sample_cluster_wide_enabled(wide_was);
}

TEST_F(SamplingGpu, DrawsFollowTheTruncatedDistribution) {
  // One 6-token row repeated; probabilities 0.05 .. 0.3, top_k 4 and top_p 0.8 keep ids
  // 2..5 with renormalised mass; 40000 draws with uniform u must match within 5 sigma.
  const std::vector<float> prob = {0.05f, 0.1f, 0.12f, 0.18f, 0.25f, 0.3f};
  const int v = 6, n = 40000;
  OwnedTensor logits = OwnedTensor::host({n, v}, DType::kF32);
  for (int r = 0; r < n; ++r)
    for (int i = 0; i < v; ++i) logits.data_as<float>()[r * v + i] = std::log(prob[i]);
  Params q;
  q.resize(n);
  for (int r = 0; r < n; ++r) {
    q.t[r] = 1.0f;
    q.k[r] = 4;
    q.p[r] = 0.8f;  // 0.3 + 0.25 + 0.18 = 0.73 <= 0.8: id 2 (0.12) stays, id 1 goes
    q.mp[r] = 0.0f;
    q.u[r] = rng().uniform(0, 1);
  }
  DeviceParams d = to_device_params(q);
  OwnedTensor d_out = poisoned({n}, DType::kI32);
  ASSERT_TRUE(ops::sample(gpu(), d_out, to_device(logits, DType::kF32), d.view()).is_ok());
  OwnedTensor got = to_host_f32(d_out);
  std::vector<int> hist(v, 0);
  for (int r = 0; r < n; ++r) ++hist[got.data_as<int32_t>()[r]];
  const double kept = 0.12 + 0.18 + 0.25 + 0.3;
  for (int i = 0; i < v; ++i) {
    const double expect = i >= 2 ? prob[i] / kept : 0.0;
    const double sigma = std::sqrt(n * expect * (1 - expect)) + 1e-9;
    EXPECT_LE(std::fabs(hist[i] - n * expect), 5 * sigma + 0.5) << "id " << i << " got " << hist[i];
  }
}

TEST_F(SamplingGpu, RowWithoutFiniteLogitGivesMinusOne) {
  const int v = 5000;
  OwnedTensor logits = OwnedTensor::host({2, v}, DType::kF32);
  for (int i = 0; i < 2 * v; ++i) logits.data_as<float>()[i] = -INFINITY;
  Params q;
  q.resize(2);
  q.t = {0.0f, 1.0f};
  q.k = {0, 0};
  q.p = {1.0f, 0.9f};
  q.mp = {0.0f, 0.0f};
  q.u = {0.5f, 0.5f};
  DeviceParams d = to_device_params(q);
  OwnedTensor d_out = poisoned({2}, DType::kI32);
  ASSERT_TRUE(ops::sample(gpu(), d_out, to_device(logits, DType::kF32), d.view()).is_ok());
  OwnedTensor got = to_host_f32(d_out);
  EXPECT_EQ(got.data_as<int32_t>()[0], -1);
  EXPECT_EQ(got.data_as<int32_t>()[1], -1);
}

}  // namespace
}  // namespace radix::testing

#endif  // RADIX_HAS_CUDA_KERNELS
