// CPU reference ops::apply_penalties and ops::logprobs (semantics in kernels/ops.h):
// plain loops written to give bit for bit what runtime/sampler.h's
// SamplerState::apply_penalties and token_logprob give, so the CUDA kernels
// (kernels/cuda/sampling/) are checked against the host sampler's own numbers.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "kernels/cpu/cpu_ops.h"

namespace radix::cpu {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

float clean(float x) {
  return std::isnan(x) ? kNegInf : x;
}

// log(sum exp(x)) of a row in f64, NaN as -inf: -inf when nothing is finite, +inf when
// some x is +inf.
double log_sum_exp(const float* x, int64_t v) {
  float m = kNegInf;
  for (int64_t i = 0; i < v; ++i) m = std::max(m, clean(x[i]));
  if (m == kNegInf) return -std::numeric_limits<double>::infinity();
  if (std::isinf(m)) return std::numeric_limits<double>::infinity();
  double s = 0.0;
  for (int64_t i = 0; i < v; ++i) s += std::exp(static_cast<double>(clean(x[i])) - m);
  return m + std::log(s);
}

}  // namespace

Status apply_penalties(const Tensor& logits, const ops::PenaltyTensors& p) {
  const int64_t n = logits.size(0), v = logits.size(1);
  const int32_t* ptr = p.row_indptr.data_as<const int32_t>();
  const int32_t* ids = p.token_ids.data_as<const int32_t>();
  const int32_t* counts = p.counts.data_as<const int32_t>();
  const int32_t* flags = p.flags.data_as<const int32_t>();
  for (int64_t r = 0; r < n; ++r) {
    float* row = logits.data_as<float>() + r * v;
    const float rp = p.repetition.data_as<const float>()[r];
    const float fp = p.frequency.data_as<const float>()[r];
    const float pp = p.presence.data_as<const float>()[r];
    for (int32_t e = ptr[r]; e < ptr[r + 1]; ++e) {
      if (ids[e] < 0 || ids[e] >= v) continue;
      float& x = row[ids[e]];
      if (flags[e] & ops::kPenaltySeen) x = x > 0.0f ? x / rp : x * rp;
      if (counts[e] > 0) x -= fp * static_cast<float>(counts[e]) + pp;
      if (flags[e] & ops::kPenaltyMasked) x = kNegInf;
    }
  }
  return Status::ok();
}

Status logprobs(const Tensor& logprob, const Tensor& top_ids, const Tensor& top_logprobs,
                const Tensor& logits, const Tensor& tokens) {
  const int64_t n = logits.size(0), v = logits.size(1), k = top_ids.size(1);
  std::vector<int32_t> idx(static_cast<size_t>(v));
#pragma omp parallel for firstprivate(idx) if (n > 1)
  for (int64_t r = 0; r < n; ++r) {
    const float* x = logits.data_as<const float>() + r * v;
    const double lse = log_sum_exp(x, v);
    const int32_t t = tokens.data_as<const int32_t>()[r];
    logprob.data_as<float>()[r] = t >= 0 && t < v ? static_cast<float>(clean(x[t]) - lse) : kNegInf;
    if (k == 0) continue;
    // Larger x first; equal ones by lower id.
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
      const float xa = clean(x[a]), xb = clean(x[b]);
      return xa != xb ? xa > xb : a < b;
    });
    for (int64_t j = 0; j < k; ++j) {
      const int32_t id = idx[static_cast<size_t>(j)];
      top_ids.data_as<int32_t>()[r * k + j] = id;
      top_logprobs.data_as<float>()[r * k + j] = static_cast<float>(clean(x[id]) - lse);
    }
  }
  return Status::ok();
}

}  // namespace radix::cpu
