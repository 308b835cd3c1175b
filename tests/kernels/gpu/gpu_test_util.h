// Helpers for the CUDA-vs-CPU kernel tests: fresh random inputs every run (the seed is
// printed on failure), host<->device copies with dtype conversion, NaN-poisoned
// device outputs, and closeness checks. Every test compares a CUDA op against the
// CPU op (the oracle) on inputs already rounded to the CUDA dtype, so only the
// kernels' arithmetic differs.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "core/dtype.h"
#include "kernels/ops.h"

#ifdef RADIX_HAS_CUDA_KERNELS
#include <cuda_runtime.h>

#include "kernels/cuda/backend.h"
#include "kernels/cuda/gemm/gemv_mma.h"

namespace radix::testing {

// xorshift64*: fast enough to fill 100M-element weights; seeded per test from
// std::random_device so every run draws fresh inputs.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed ? seed : 0x9e3779b97f4a7c15ull) {}
  uint64_t next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545f4914f6cdd1dull;
  }
  float uniform(float lo, float hi) {
    return lo + (hi - lo) * static_cast<float>(next() >> 40) * (1.0f / 16777216.0f);
  }
  int randint(int lo, int hi) {  // inclusive
    return lo + static_cast<int>(next() % static_cast<uint64_t>(hi - lo + 1));
  }

 private:
  uint64_t s_;
};

// The tensor-core small-batch GEMM off for a scope (it takes M 3..4 by default): tests of
// the SIMT GEMV at those rows.
class WithoutGemvMma {
 public:
  WithoutGemvMma() : was_(cuda::gemv_mma_enabled()) { cuda::set_gemv_mma_enabled(false); }
  ~WithoutGemvMma() { cuda::set_gemv_mma_enabled(was_); }
  WithoutGemvMma(const WithoutGemvMma&) = delete;
  WithoutGemvMma& operator=(const WithoutGemvMma&) = delete;

 private:
  bool was_;
};

class GpuKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_available()) {
      std::printf("[  SKIP    ] no CUDA device on this machine: GPU kernel tests skipped\n");
      GTEST_SKIP() << "no CUDA device";
    }
    auto b = CudaBackend::create(0);
    ASSERT_TRUE(b.is_ok()) << b.status().to_string();
    backend_ = std::move(b).value();
    seed_ = (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
    rng_ = std::make_unique<Rng>(seed_);
    trace_ = std::make_unique<::testing::ScopedTrace>(__FILE__, __LINE__,
                                                      "random seed " + std::to_string(seed_));
  }
  void TearDown() override {
    if (backend_) {
      EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess) << "asynchronous CUDA error";
    }
  }

  OpContext gpu() const { return OpContext{Device::cuda(0), nullptr, backend_.get()}; }
  static OpContext cpu() { return OpContext{}; }
  Rng& rng() { return *rng_; }

  // Host f32 tensor of uniform values in [lo, hi), rounded to `round_to` (so the
  // CPU oracle sees exactly what the device sees).
  OwnedTensor random_host(const Shape& shape, float lo, float hi, DType round_to = DType::kBF16) {
    OwnedTensor t = OwnedTensor::host(shape, DType::kF32);
    float* p = t.data_as<float>();
    for (int64_t i = 0; i < t.view().numel(); ++i) p[i] = round(rng().uniform(lo, hi), round_to);
    return t;
  }
  static float round(float v, DType dt) {
    if (dt == DType::kBF16) return bf16_to_f32(f32_to_bf16(v));
    if (dt == DType::kF16) return f16_to_f32(f32_to_f16(v));
    return v;
  }

  // Device copy of a host tensor in `dtype` (f32 values converted; i32 copied).
  static OwnedTensor to_device(const Tensor& host, DType dtype) {
    OwnedTensor staged = OwnedTensor::host(host.shape(), dtype);
    if (host.dtype() == dtype) {
      std::memcpy(staged.view().data(), host.data(), host.nbytes());
    } else {
      for (int64_t i = 0; i < host.numel(); ++i) {
        store_from_f32(staged.view().data(), dtype, static_cast<size_t>(i),
                       load_as_f32(host.data(), host.dtype(), static_cast<size_t>(i)));
      }
    }
    auto d = OwnedTensor::empty(host.shape(), dtype, Device::cuda(0));
    RADIX_CHECK(d.is_ok());
    RADIX_CHECK(copy_tensor(d->view(), staged.view()).is_ok());
    return std::move(d).value();
  }
  static OwnedTensor i32_device(const std::vector<int32_t>& v) {
    OwnedTensor h = OwnedTensor::host({static_cast<int64_t>(v.size())}, DType::kI32);
    if (!v.empty()) std::memcpy(h.view().data(), v.data(), v.size() * 4);
    return to_device(h, DType::kI32);
  }
  static OwnedTensor i32_host(const std::vector<int32_t>& v) {
    OwnedTensor h = OwnedTensor::host({static_cast<int64_t>(v.size())}, DType::kI32);
    if (!v.empty()) std::memcpy(h.view().data(), v.data(), v.size() * 4);
    return h;
  }
  // Device tensor filled with 0xFF bytes: NaN in every float dtype, -1 in i32.
  static OwnedTensor poisoned(const Shape& shape, DType dtype) {
    OwnedTensor h = OwnedTensor::host(shape, dtype);
    std::memset(h.view().data(), 0xff, h.view().nbytes());
    auto d = OwnedTensor::empty(shape, dtype, Device::cuda(0));
    RADIX_CHECK(d.is_ok());
    RADIX_CHECK(copy_tensor(d->view(), h.view()).is_ok());
    return std::move(d).value();
  }
  // Host f32 copy of a device tensor (synchronizes; fails the test on a CUDA error).
  static OwnedTensor to_host_f32(const Tensor& dev) {
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    OwnedTensor staged = OwnedTensor::host(dev.shape(), dev.dtype());
    RADIX_CHECK(copy_tensor(staged.view(), dev).is_ok());
    if (dev.dtype() == DType::kI32) return staged;
    OwnedTensor out = OwnedTensor::host(dev.shape(), DType::kF32);
    for (int64_t i = 0; i < dev.numel(); ++i) {
      out.data_as<float>()[i] =
          load_as_f32(staged.view().data(), dev.dtype(), static_cast<size_t>(i));
    }
    return out;
  }
  static OwnedTensor host_copy(const Tensor& h) {
    OwnedTensor c = OwnedTensor::host(h.shape(), h.dtype());
    std::memcpy(c.view().data(), h.data(), h.nbytes());
    return c;
  }

  std::unique_ptr<CudaBackend> backend_;

 private:
  uint64_t seed_ = 0;
  std::unique_ptr<Rng> rng_;
  std::unique_ptr<::testing::ScopedTrace> trace_;
};

// Every element finite and |actual - expected| <= atol + rtol * |expected|.
inline ::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected,
                                            float atol, float rtol) {
  if (actual.numel() != expected.numel()) return ::testing::AssertionFailure() << "size mismatch";
  const float* a = actual.data_as<const float>();
  const float* e = expected.data_as<const float>();
  int64_t bad = 0, first = -1;
  double worst = 0;
  for (int64_t i = 0; i < actual.numel(); ++i) {
    const double err = std::fabs(static_cast<double>(a[i]) - e[i]);
    const bool ok = std::isfinite(a[i]) && err <= atol + rtol * std::fabs(e[i]);
    if (!ok) {
      if (first < 0) first = i;
      ++bad;
    }
    if (std::isfinite(err)) worst = std::max(worst, err);
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << bad << " of " << actual.numel() << " elements off (atol " << atol << ", rtol " << rtol
         << "); first at " << first << ": " << a[first] << " vs " << e[first]
         << "; worst finite error " << worst;
}

// ||actual - expected|| / ||expected|| <= bound, and no NaN/inf in actual.
inline ::testing::AssertionResult rel_l2_below(const Tensor& actual, const Tensor& expected,
                                               double bound) {
  const float* a = actual.data_as<const float>();
  const float* e = expected.data_as<const float>();
  double num = 0, den = 0;
  for (int64_t i = 0; i < actual.numel(); ++i) {
    if (!std::isfinite(a[i])) {
      return ::testing::AssertionFailure() << "non-finite output at " << i << ": " << a[i];
    }
    num += (static_cast<double>(a[i]) - e[i]) * (static_cast<double>(a[i]) - e[i]);
    den += static_cast<double>(e[i]) * e[i];
  }
  const double rel = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  if (rel <= bound) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "relative L2 error " << rel << " > " << bound;
}

// Measured error, printed so docs/kernels.md can quote real numbers.
inline void print_error(const char* what, const Tensor& actual, const Tensor& expected) {
  const float* a = actual.data_as<const float>();
  const float* e = expected.data_as<const float>();
  double num = 0, den = 0, worst = 0;
  for (int64_t i = 0; i < actual.numel(); ++i) {
    const double diff = static_cast<double>(a[i]) - e[i];
    num += diff * diff;
    den += static_cast<double>(e[i]) * e[i];
    worst = std::max(worst, std::fabs(diff));
  }
  std::printf("[ measured ] %s: rel-L2 %.2e, max abs %.2e\n", what,
              den > 0 ? std::sqrt(num / den) : 0.0, worst);
}

// Both bounds: relative L2 below rel_l2, and every element within per_elem * max|ref| (the
// measured error printed first).
inline void expect_close(const char* what, const Tensor& got, const Tensor& ref, double rel_l2, float per_elem) {
  print_error(what, got, ref);
  float m = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) m = std::max(m, std::fabs(ref.data_as<const float>()[i]));
  EXPECT_TRUE(rel_l2_below(got, ref, rel_l2));
  EXPECT_TRUE(all_close(got, ref, per_elem * m, 0));
}

// A K (or V) cache [S, Hk, D] after a step that wrote rows `slots`: those rows against
// the reference cache (expect_close), every other row bit-identical to `before`.
inline void expect_slot_rows(const char* what, const Tensor& got, const Tensor& before, const Tensor& ref,
                             const std::vector<int32_t>& slots, double rel_l2, float per_elem) {
  const int64_t n = got.size(0), row = got.numel() / n, m = static_cast<int64_t>(slots.size());
  OwnedTensor rows = OwnedTensor::host({m, row}, DType::kF32), ref_rows = OwnedTensor::host({m, row}, DType::kF32);
  std::vector<char> written(static_cast<size_t>(n), 0);
  for (int64_t i = 0; i < m; ++i) {
    const int64_t off = slots[static_cast<size_t>(i)] * row;
    written[static_cast<size_t>(slots[static_cast<size_t>(i)])] = 1;
    std::copy_n(got.data_as<const float>() + off, row, rows.data_as<float>() + i * row);
    std::copy_n(ref.data_as<const float>() + off, row, ref_rows.data_as<float>() + i * row);
  }
  expect_close(what, rows, ref_rows, rel_l2, per_elem);
  int64_t changed = 0;
  for (int64_t sl = 0; sl < n; ++sl) {
    if (written[static_cast<size_t>(sl)]) continue;
    for (int64_t e = 0; e < row; ++e) {
      changed += got.data_as<const float>()[sl * row + e] != before.data_as<const float>()[sl * row + e];
    }
  }
  EXPECT_EQ(changed, 0) << what << ": rows outside the step's slots were written";
}

}  // namespace radix::testing

#endif  // RADIX_HAS_CUDA_KERNELS
