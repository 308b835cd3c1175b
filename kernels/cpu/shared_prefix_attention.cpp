// CPU reference ops::attention_shared_prefix (semantics in kernels/ops.h): one softmax
// per (sequence, query head) over the sequence's whole context — its group's prefix,
// then its own positions — written out directly rather than as the CUDA kernels'
// prefix/suffix partials and merge, so the oracle shares none of their algebra.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/cpu_ops.h"

namespace radix::cpu {
namespace {

// Rows `slots[0..n)` of a [S, Hk, D] cache, widened to f32: [n, Hk, D].
std::vector<float> gather_slots(const Tensor& cache, const int32_t* slots, int64_t n) {
  const int64_t row = cache.size(1) * cache.size(2);
  std::vector<float> rows(static_cast<size_t>(n * row));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t e = 0; e < row; ++e) {
      rows[static_cast<size_t>(i * row + e)] =
          load_as_f32(cache.data(), cache.dtype(), slots[i] * row + e);
    }
  }
  return rows;
}

}  // namespace

Status attention_shared_prefix(const Tensor& out, const Tensor& q, const Tensor& k_cache,
                               const Tensor& v_cache, const AttentionParams& p,
                               const SharedPrefix& sp) {
  const int64_t b = p.qo_indptr.numel() - 1, g = sp.num_groups;
  const int64_t hq = q.size(1), hk = k_cache.size(1), d = q.size(2), group = hq / hk;
  const int32_t* qo = p.qo_indptr.data_as<const int32_t>();
  const int32_t* kvp = p.kv_indptr.data_as<const int32_t>();
  const int32_t* kvi = p.kv_indices.data_as<const int32_t>();
  const int32_t* group_of = sp.group_of_seq.data_as<const int32_t>();
  const int32_t* pp = sp.prefix_indptr.data_as<const int32_t>();
  const int32_t* pi = sp.prefix_indices.data_as<const int32_t>();
  const float* qf = q.data_as<const float>();
  float* of = out.data_as<float>();

  // Sequences with a query row, by group (index g holds the ungrouped ones), so each
  // prefix is gathered once.
  std::vector<std::vector<int64_t>> members(static_cast<size_t>(g + 1));
  for (int64_t s = 0; s < b; ++s) {
    if (qo[s + 1] > qo[s])
      members[static_cast<size_t>(group_of[s] >= 0 ? group_of[s] : g)].push_back(s);
  }
  for (int64_t gi = 0; gi <= g; ++gi) {
    const int64_t prefix_len = gi < g ? pp[gi + 1] - pp[gi] : 0;
    const std::vector<float> pk = gather_slots(k_cache, pi + (gi < g ? pp[gi] : 0), prefix_len);
    const std::vector<float> pv = gather_slots(v_cache, pi + (gi < g ? pp[gi] : 0), prefix_len);
    for (const int64_t s : members[static_cast<size_t>(gi)]) {
      const int64_t own_len = kvp[s + 1] - kvp[s];
      const std::vector<float> sk = gather_slots(k_cache, kvi + kvp[s], own_len);
      const std::vector<float> sv = gather_slots(v_cache, kvi + kvp[s], own_len);
      // Context position pos < prefix_len is prefix row pos, else own row pos - prefix_len.
      const int64_t pos_q = prefix_len + own_len - 1;
      const int64_t lo =
          p.sliding_window > 0 ? std::max<int64_t>(0, pos_q - p.sliding_window + 1) : 0;
      auto key = [&](int64_t pos, int64_t kvh) {
        return pos < prefix_len ? pk.data() + (pos * hk + kvh) * d
                                : sk.data() + ((pos - prefix_len) * hk + kvh) * d;
      };
      auto value = [&](int64_t pos, int64_t kvh) {
        return pos < prefix_len ? pv.data() + (pos * hk + kvh) * d
                                : sv.data() + ((pos - prefix_len) * hk + kvh) * d;
      };
#pragma omp parallel for
      for (int64_t h = 0; h < hq; ++h) {
        const float* qv = qf + (qo[s] * hq + h) * d;
        std::vector<double> w(static_cast<size_t>(pos_q + 1 - lo));
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t pos = lo; pos <= pos_q; ++pos) {
          const float* kv = key(pos, h / group);
          double dot = 0;
          for (int64_t e = 0; e < d; ++e) dot += static_cast<double>(qv[e]) * kv[e];
          double logit = dot * p.scale;
          if (p.logit_softcap > 0) logit = p.logit_softcap * std::tanh(logit / p.logit_softcap);
          w[static_cast<size_t>(pos - lo)] = logit;
          mx = std::max(mx, logit);
        }
        double sum = 0;
        for (double& x : w) sum += (x = std::exp(x - mx));
        std::vector<double> acc(static_cast<size_t>(d), 0.0);
        for (int64_t pos = lo; pos <= pos_q; ++pos) {
          const float* vv = value(pos, h / group);
          const double wn = w[static_cast<size_t>(pos - lo)] / sum;
          for (int64_t e = 0; e < d; ++e) acc[static_cast<size_t>(e)] += wn * vv[e];
        }
        float* o = of + (qo[s] * hq + h) * d;
        for (int64_t e = 0; e < d; ++e) o[e] = static_cast<float>(acc[static_cast<size_t>(e)]);
      }
    }
  }
  return Status::ok();
}

}  // namespace radix::cpu
