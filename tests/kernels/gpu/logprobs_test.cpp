// CUDA ops::logprobs against the CPU op: up to 64 rows of vocabularies from 3 to 152064
// (16-byte and scalar loads), top widths 0..20 (each TopList instantiation and widths
// below it), bf16-rounded logits (many ties), peaked rows, NaN/-inf sprinkled, rows
// with a +inf or nothing finite, tokens outside the vocabulary.
//
// Tolerance: the selection compares the same f32 values, so top ids must match exactly.
// The log-sum-exp differs only by the kernel's f32 exp (<= 2 ulp) and f32 x - max
// (weighted by exp(x - max), so at most ~1e-8 of the sum) against the CPU's f64 exp:
// ~3e-7 on lse, plus one f32 rounding of the result (|logprob| < 64: ulp 4e-6) ->
// |gpu - cpu| <= 1e-5 + 1e-6 |cpu|. Non-finite results (NaN, -inf) must match exactly.
#include "tests/kernels/gpu/gpu_test_util.h"

#ifdef RADIX_HAS_CUDA_KERNELS

#include <cmath>

namespace radix::testing {
namespace {

class LogprobsGpu : public GpuKernelTest {};

bool close(float g, float c) {
  if (std::isnan(c)) return std::isnan(g);
  if (std::isinf(c)) return g == c;
  return std::isfinite(g) && std::fabs(g - c) <= 1e-5f + 1e-6f * std::fabs(c);
}

TEST_F(LogprobsGpu, MatchesTheCpuOpOnRandomRows) {
  int64_t checked = 0;
  for (auto [n, v] : {std::pair{64, 152064}, std::pair{64, 128256}, std::pair{33, 1001},
                      std::pair{7, 37}, std::pair{5, 3}, std::pair{16, 32000}}) {
    for (int k : {0, 1, 3, 5, 7, 20}) {
      if (k > v) continue;
      OwnedTensor logits = random_host({n, v}, -8, 8);  // bf16-rounded: ties
      float* x = logits.data_as<float>();
      std::vector<int32_t> tokens(static_cast<size_t>(n));
      for (int r = 0; r < n; ++r) {
        float* row = x + static_cast<int64_t>(r) * v;
        switch (r % 8) {
          case 1:  // peaked
            for (int i = 0; i < v; ++i) row[i] *= 6.0f;
            break;
          case 2:  // NaN and -inf sprinkled
            for (int i = 0; i < v; i += rng().randint(1, 9))
              row[i] = i % 2 ? std::nanf("") : -INFINITY;
            break;
          case 3:  // nothing finite
            for (int i = 0; i < v; ++i) row[i] = i % 3 ? -INFINITY : std::nanf("");
            break;
          case 4:  // a +inf
            row[rng().randint(0, v - 1)] = INFINITY;
            break;
          case 5:  // every value equal: the top is ids 0..K-1
            for (int i = 0; i < v; ++i) row[i] = 0.5f;
            break;
          default:
            break;
        }
        const int t = rng().randint(0, 15);
        tokens[static_cast<size_t>(r)] = t == 0 ? -1 : t == 1 ? v : rng().randint(0, v - 1);
      }
      OwnedTensor ref_lp = OwnedTensor::host({n}, DType::kF32);
      OwnedTensor ref_ids = OwnedTensor::host({n, k}, DType::kI32);
      OwnedTensor ref_top = OwnedTensor::host({n, k}, DType::kF32);
      OwnedTensor h_tokens = i32_host(tokens);
      ASSERT_TRUE(ops::logprobs(cpu(), ref_lp, ref_ids, ref_top, logits, h_tokens).is_ok());

      OwnedTensor d_lp = poisoned({n}, DType::kF32);
      OwnedTensor d_ids = k > 0 ? poisoned({n, k}, DType::kI32) : OwnedTensor();
      OwnedTensor d_top = k > 0 ? poisoned({n, k}, DType::kF32) : OwnedTensor();
      const Tensor ids_view =
          k > 0 ? d_ids.view() : Tensor(d_lp.view().data(), DType::kI32, {n, 0}, Device::cuda(0));
      const Tensor top_view =
          k > 0 ? d_top.view() : Tensor(d_lp.view().data(), DType::kF32, {n, 0}, Device::cuda(0));
      OwnedTensor d_logits = to_device(logits, DType::kF32);
      const Status st =
          ops::logprobs(gpu(), d_lp, ids_view, top_view, d_logits, i32_device(tokens));
      ASSERT_TRUE(st.is_ok()) << st.to_string();
      OwnedTensor lp = to_host_f32(d_lp);
      OwnedTensor ids = k > 0 ? to_host_f32(d_ids) : OwnedTensor();
      OwnedTensor top = k > 0 ? to_host_f32(d_top) : OwnedTensor();
      for (int r = 0; r < n; ++r) {
        SCOPED_TRACE("n " + std::to_string(n) + " v " + std::to_string(v) + " k " +
                     std::to_string(k) + " row " + std::to_string(r) + " token " +
                     std::to_string(tokens[static_cast<size_t>(r)]));
        EXPECT_TRUE(close(lp.data_as<float>()[r], ref_lp.data_as<float>()[r]))
            << "logprob gpu " << lp.data_as<float>()[r] << " cpu " << ref_lp.data_as<float>()[r];
        for (int j = 0; j < k; ++j) {
          const int64_t at = static_cast<int64_t>(r) * k + j;
          ASSERT_EQ(ids.data_as<int32_t>()[at], ref_ids.data_as<int32_t>()[at]) << "rank " << j;
          EXPECT_TRUE(close(top.data_as<float>()[at], ref_top.data_as<float>()[at]))
              << "rank " << j << " gpu " << top.data_as<float>()[at] << " cpu "
              << ref_top.data_as<float>()[at];
        }
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 1000);
}

}  // namespace
}  // namespace radix::testing

#endif  // RADIX_HAS_CUDA_KERNELS
