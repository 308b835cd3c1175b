// CPU reference ops: plain loops (OpenMP over rows) and OpenBLAS for GEMM.
#include "kernels/cpu/cpu_ops.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

namespace radix::cpu {
namespace {

float* f32(const Tensor& t) { return t.data_as<float>(); }
const int32_t* i32(const Tensor& t) { return t.data_as<const int32_t>(); }

// Reads row r (length n) of a contiguous 2-D-viewable tensor as f32 into dst.
void load_row(const Tensor& t, int64_t r, int64_t n, float* dst) {
  if (t.dtype() == DType::kF32) {
    std::copy_n(t.data_as<const float>() + r * n, n, dst);
    return;
  }
  for (int64_t i = 0; i < n; ++i) dst[i] = load_as_f32(t.data(), t.dtype(), r * n + i);
}

void rms_norm_row(float* out, const float* x, const Tensor& weight, int64_t h, float eps,
                  float offset) {
  double ss = 0;
  for (int64_t i = 0; i < h; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float inv = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(h)) + eps);
  for (int64_t i = 0; i < h; ++i) {
    out[i] = x[i] * inv * (offset + load_as_f32(weight.data(), weight.dtype(), i));
  }
}

}  // namespace

Status embedding(const Tensor& out, const Tensor& ids, const Tensor& table) {
  const int64_t t = ids.numel(), h = table.size(1);
#pragma omp parallel for
  for (int64_t i = 0; i < t; ++i) load_row(table, i32(ids)[i], h, f32(out) + i * h);
  return Status::ok();
}

Status rms_norm(const Tensor& out, const Tensor& x, const Tensor& weight, float eps,
                float weight_offset) {
  const int64_t h = x.size(-1), t = x.numel() / h;
#pragma omp parallel for
  for (int64_t r = 0; r < t; ++r) {
    rms_norm_row(f32(out) + r * h, f32(x) + r * h, weight, h, eps, weight_offset);
  }
  return Status::ok();
}

Status add_rms_norm(const Tensor& out, const Tensor& residual, const Tensor& x,
                    const Tensor& weight, float eps, float weight_offset) {
  const int64_t h = x.size(-1), t = x.numel() / h;
#pragma omp parallel for
  for (int64_t r = 0; r < t; ++r) {
    float* res = f32(residual) + r * h;
    const float* xr = f32(x) + r * h;
    for (int64_t i = 0; i < h; ++i) res[i] += xr[i];
    rms_norm_row(f32(out) + r * h, res, weight, h, eps, weight_offset);
  }
  return Status::ok();
}

namespace {
// out = a @ w^T (+ bias), or out += a @ w^T when accumulate.
Status gemm_impl(const Tensor& out, const Tensor& a, const Tensor& w, const Tensor* bias, bool accumulate) {
  const int64_t m = a.size(0), k = a.size(1), n = w.size(0);
  if (m == 0) return Status::ok();
  if (w.dtype() == DType::kF32) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n),
                static_cast<int>(k), 1.0f, f32(a), static_cast<int>(k), w.data_as<const float>(),
                static_cast<int>(k), accumulate ? 1.0f : 0.0f, f32(out), static_cast<int>(n));
  } else {
    // Oracle path for low-precision weights: widen one weight row at a time.
#pragma omp parallel
    {
      std::vector<float> wrow(static_cast<size_t>(k));
#pragma omp for
      for (int64_t j = 0; j < n; ++j) {
        load_row(w, j, k, wrow.data());
        for (int64_t i = 0; i < m; ++i) {
          double acc = 0;
          const float* ar = f32(a) + i * k;
          for (int64_t p = 0; p < k; ++p) acc += static_cast<double>(ar[p]) * wrow[p];
          float& o = f32(out)[i * n + j];
          o = accumulate ? o + static_cast<float>(acc) : static_cast<float>(acc);
        }
      }
    }
  }
  if (bias) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        f32(out)[i * n + j] += load_as_f32(bias->data(), bias->dtype(), j);
  }
  return Status::ok();
}
}  // namespace

Status gemm(const Tensor& out, const Tensor& a, const Tensor& w, const Tensor* bias) {
  return gemm_impl(out, a, w, bias, false);
}

Status gemm_add(const Tensor& residual, const Tensor& a, const Tensor& w) {
  return gemm_impl(residual, a, w, nullptr, true);
}

Status rms_norm_gemm(const Tensor& out, const Tensor& normed, const Tensor& x, const Tensor& norm_weight,
                     float eps, const Tensor& w, const Tensor* bias, float weight_offset) {
  RADIX_RETURN_IF_ERROR(rms_norm(normed, x, norm_weight, eps, weight_offset));
  return gemm(out, normed, w, bias);
}

Status rms_norm_gemm_silu(const Tensor& out, const Tensor& normed, const Tensor& gate_up, const Tensor& x,
                          const Tensor& norm_weight, float eps, const Tensor& w, float weight_offset) {
  RADIX_RETURN_IF_ERROR(rms_norm(normed, x, norm_weight, eps, weight_offset));
  RADIX_RETURN_IF_ERROR(gemm(gate_up, normed, w, nullptr));
  return silu_and_mul(out, gate_up);
}

Status rms_norm_mlp(const Tensor& residual, const Tensor& act, const Tensor& normed, const Tensor& gate_up,
                    const Tensor& norm_weight, float eps, const Tensor& w_gate_up, const Tensor& w_down,
                    float weight_offset) {
  RADIX_RETURN_IF_ERROR(rms_norm_gemm_silu(act, normed, gate_up, residual, norm_weight, eps, w_gate_up, weight_offset));
  return gemm_add(residual, act, w_down);
}

Status rms_norm_gemm_rope_store(const Tensor& q_out, const Tensor& normed, const Tensor& qkv, const Tensor& x,
                                const Tensor& norm_weight, float eps, const Tensor& w, const Tensor* bias,
                                const Tensor& positions, const Tensor& cos_sin, RopeStyle style, const Tensor& k_cache,
                                const Tensor& v_cache, const Tensor& slots, float weight_offset) {
  RADIX_RETURN_IF_ERROR(rms_norm_gemm(qkv, normed, x, norm_weight, eps, w, bias, weight_offset));
  return rope_qkv_store(q_out, qkv, positions, cos_sin, style, k_cache, v_cache, slots);
}

namespace {
void rope_heads(float* x, int64_t heads, int64_t d, const float* cs, int64_t r, RopeStyle style) {
  const int64_t half = r / 2;
  for (int64_t h = 0; h < heads; ++h) {
    float* v = x + h * d;
    for (int64_t i = 0; i < half; ++i) {
      const float c = cs[i], s = cs[half + i];
      const int64_t i0 = style == RopeStyle::kNeox ? i : 2 * i;
      const int64_t i1 = style == RopeStyle::kNeox ? i + half : 2 * i + 1;
      const float a = v[i0], b = v[i1];
      v[i0] = a * c - b * s;
      v[i1] = b * c + a * s;
    }
  }
}
}  // namespace

Status rope(const Tensor& q, const Tensor& k, const Tensor& positions, const Tensor& cos_sin,
            RopeStyle style) {
  const int64_t t = q.size(0), d = q.size(2), r = cos_sin.size(1);
#pragma omp parallel for
  for (int64_t i = 0; i < t; ++i) {
    const float* cs = cos_sin.data_as<const float>() + static_cast<int64_t>(i32(positions)[i]) * r;
    rope_heads(f32(q) + i * q.size(1) * d, q.size(1), d, cs, r, style);
    rope_heads(f32(k) + i * k.size(1) * d, k.size(1), d, cs, r, style);
  }
  return Status::ok();
}

Status rope_qkv_store(const Tensor& q_out, const Tensor& qkv, const Tensor& positions,
                      const Tensor& cos_sin, RopeStyle style, const Tensor& k_cache,
                      const Tensor& v_cache, const Tensor& slots) {
  const int64_t t = q_out.size(0), hq = q_out.size(1), d = q_out.size(2), hk = k_cache.size(1);
  const int64_t r = cos_sin.size(1), width = (hq + 2 * hk) * d;
#pragma omp parallel
  {
    std::vector<float> k(static_cast<size_t>(hk * d));
#pragma omp for
    for (int64_t i = 0; i < t; ++i) {
      const float* row = f32(qkv) + i * width;
      const float* cs = cos_sin.data_as<const float>() + static_cast<int64_t>(i32(positions)[i]) * r;
      float* q = f32(q_out) + i * hq * d;
      std::copy_n(row, hq * d, q);
      std::copy_n(row + hq * d, hk * d, k.data());
      rope_heads(q, hq, d, cs, r, style);
      rope_heads(k.data(), hk, d, cs, r, style);
      const int64_t s = i32(slots)[i];
      for (int64_t e = 0; e < hk * d; ++e) {
        store_from_f32(k_cache.data(), k_cache.dtype(), s * hk * d + e, k[e]);
        store_from_f32(v_cache.data(), v_cache.dtype(), s * hk * d + e, row[(hq + hk) * d + e]);
      }
    }
  }
  return Status::ok();
}

Status store_kv(const Tensor& k_cache, const Tensor& v_cache, const Tensor& k, const Tensor& v,
                const Tensor& slots) {
  const int64_t t = k.size(0), row = k.size(1) * k.size(2);
  for (int64_t i = 0; i < t; ++i) {
    const int64_t s = i32(slots)[i];
    for (int64_t e = 0; e < row; ++e) {
      store_from_f32(k_cache.data(), k_cache.dtype(), s * row + e, f32(k)[i * row + e]);
      store_from_f32(v_cache.data(), v_cache.dtype(), s * row + e, f32(v)[i * row + e]);
    }
  }
  return Status::ok();
}

Status attention(const Tensor& out, const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                 const AttentionParams& p) {
  const int64_t b = p.qo_indptr.numel() - 1;
  const int64_t hq = q.size(1), hk = k_cache.size(1), d = q.size(2);
  const int64_t group = hq / hk;
  const int32_t* qo = i32(p.qo_indptr);
  const int32_t* kvp = i32(p.kv_indptr);
  const int32_t* kvi = i32(p.kv_indices);
  for (int64_t s = 0; s < b; ++s) {
    const int64_t q_len = qo[s + 1] - qo[s], kv_len = kvp[s + 1] - kvp[s];
    // Gather this sequence's context once, widened to f32: [kv_len, Hk, D].
    std::vector<float> keys(static_cast<size_t>(kv_len * hk * d)), vals(keys.size());
    for (int64_t pos = 0; pos < kv_len; ++pos) {
      load_row(k_cache, kvi[kvp[s] + pos], hk * d, keys.data() + pos * hk * d);
      load_row(v_cache, kvi[kvp[s] + pos], hk * d, vals.data() + pos * hk * d);
    }
#pragma omp parallel for collapse(2)
    for (int64_t j = 0; j < q_len; ++j) {
      for (int64_t h = 0; h < hq; ++h) {
        const int64_t pos_q = kv_len - q_len + j;
        const int64_t lo = p.sliding_window > 0 ? std::max<int64_t>(0, pos_q - p.sliding_window + 1) : 0;
        const float* qv = f32(q) + ((qo[s] + j) * hq + h) * d;
        const int64_t g = h / group;
        std::vector<float> scores(static_cast<size_t>(pos_q + 1 - lo));
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t pos = lo; pos <= pos_q; ++pos) {
          const float* kv = keys.data() + (pos * hk + g) * d;
          float dot = 0;
          for (int64_t e = 0; e < d; ++e) dot += qv[e] * kv[e];
          float sc = dot * p.scale;
          if (p.logit_softcap > 0) sc = p.logit_softcap * std::tanh(sc / p.logit_softcap);
          scores[pos - lo] = sc;
          mx = std::max(mx, sc);
        }
        double sum = 0;
        for (float& sc : scores) {
          sc = std::exp(sc - mx);
          sum += sc;
        }
        float* o = f32(out) + ((qo[s] + j) * hq + h) * d;
        std::fill_n(o, d, 0.0f);
        for (int64_t pos = lo; pos <= pos_q; ++pos) {
          const float w = static_cast<float>(scores[pos - lo] / sum);
          const float* vv = vals.data() + (pos * hk + g) * d;
          for (int64_t e = 0; e < d; ++e) o[e] += w * vv[e];
        }
      }
    }
  }
  return Status::ok();
}

Status silu_and_mul(const Tensor& out, const Tensor& x) {
  const int64_t t = x.size(0), inter = out.size(1);
#pragma omp parallel for
  for (int64_t r = 0; r < t; ++r) {
    const float* xr = f32(x) + r * 2 * inter;
    float* o = f32(out) + r * inter;
    for (int64_t i = 0; i < inter; ++i) {
      const float g = xr[i];
      o[i] = g / (1.0f + std::exp(-g)) * xr[inter + i];
    }
  }
  return Status::ok();
}

Status gelu_tanh_and_mul(const Tensor& out, const Tensor& x) {
  const int64_t t = x.size(0), inter = out.size(1);
  const float k0 = 0.7978845608028654f;  // sqrt(2/pi)
#pragma omp parallel for
  for (int64_t r = 0; r < t; ++r) {
    const float* xr = f32(x) + r * 2 * inter;
    float* o = f32(out) + r * inter;
    for (int64_t i = 0; i < inter; ++i) {
      const float g = xr[i];
      const float gelu = 0.5f * g * (1.0f + std::tanh(k0 * (g + 0.044715f * g * g * g)));
      o[i] = gelu * xr[inter + i];
    }
  }
  return Status::ok();
}

Status gather_rows(const Tensor& out, const Tensor& x, const Tensor& index) {
  const int64_t n = index.numel(), c = x.numel() / x.size(0);
  const size_t row_bytes = static_cast<size_t>(c) * dtype_size(x.dtype());
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(static_cast<char*>(out.data()) + i * row_bytes,
                static_cast<const char*>(x.data()) + i32(index)[i] * row_bytes, row_bytes);
  }
  return Status::ok();
}

Status apply_token_mask(const Tensor& logits, const Tensor& masks, const Tensor& index) {
  const int64_t v = logits.size(1), w = masks.size(1);
  for (int64_t r = 0; r < logits.size(0); ++r) {
    const int32_t m = i32(index)[r];
    if (m < 0) continue;
    const char* bits = static_cast<const char*>(masks.data()) + static_cast<int64_t>(m) * w * 4;
    float* row = logits.data_as<float>() + r * v;
    for (int64_t i = 0; i < v; ++i) {
      uint32_t word;  // (the engine's masks are u64 words: read bytes, not through another type)
      std::memcpy(&word, bits + (i / 32) * 4, 4);
      if (((word >> (i % 32)) & 1u) == 0) row[i] = -std::numeric_limits<float>::infinity();
    }
  }
  return Status::ok();
}

Status take_pending_tokens(const Tensor& ids, const Tensor& src, const Tensor& prev) {
  for (int64_t i = 0; i < ids.numel(); ++i) {
    const int32_t s = i32(src)[i];
    if (s >= 0) ids.data_as<int32_t>()[i] = std::max(i32(prev)[s], 0);
  }
  return Status::ok();
}

Status add(const Tensor& out, const Tensor& a, const Tensor& b) {
  const int64_t n = out.numel();
#pragma omp parallel for
  for (int64_t i = 0; i < n; ++i) f32(out)[i] = f32(a)[i] + f32(b)[i];
  return Status::ok();
}

Status argmax(const Tensor& out, const Tensor& logits) {
  const int64_t n = logits.size(0), v = logits.size(1);
  for (int64_t r = 0; r < n; ++r) {
    const float* row = f32(logits) + r * v;
    int64_t best = 0;
    for (int64_t i = 1; i < v; ++i)
      if (row[i] > row[best]) best = i;
    out.data_as<int32_t>()[r] = static_cast<int32_t>(best);
  }
  return Status::ok();
}

}  // namespace radix::cpu

namespace radix::cpu {
namespace {

// One row of ops::sample (see ops.h), in double for the sums: the reference the CUDA
// kernel is tested against.
int32_t sample_row(const float* x, int64_t v, float temperature, int top_k, float top_p, float min_p,
                   float u) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  auto clean = [&](int64_t i) { return std::isnan(x[i]) ? kNegInf : x[i]; };
  if (temperature <= 0.0f || top_k == 1) {
    int64_t best = 0;
    for (int64_t i = 1; i < v; ++i)
      if (clean(i) > clean(best)) best = i;
    return clean(best) == kNegInf ? -1 : static_cast<int32_t>(best);
  }
  const float inv_t = 1.0f / temperature;
  std::vector<float> y(static_cast<size_t>(v)), w(static_cast<size_t>(v));
  float m = kNegInf;
  for (int64_t i = 0; i < v; ++i) {
    y[i] = clean(i) * inv_t;
    if (std::isnan(y[i])) y[i] = kNegInf;
    m = std::max(m, y[i]);
  }
  if (m == kNegInf) return -1;
  double z = 0.0;
  for (int64_t i = 0; i < v; ++i) {
    w[i] = std::isinf(m) ? (y[i] == m ? 1.0f : 0.0f) : std::exp(y[i] - m);
    z += w[i];
  }
  // Thresholds on y: keep y >= y_k (top_k) and y >= y_p (top_p).
  float y_k = kNegInf, y_p = kNegInf;
  if (top_k > 0 && top_k < v) {
    std::vector<float> s = y;
    std::nth_element(s.begin(), s.begin() + (top_k - 1), s.end(), std::greater<float>());
    y_k = s[static_cast<size_t>(top_k - 1)];
  }
  if (top_p < 1.0f) {
    std::vector<int64_t> idx(static_cast<size_t>(v));
    for (int64_t i = 0; i < v; ++i) idx[i] = i;
    std::sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return y[a] > y[b]; });
    const double limit = static_cast<double>(top_p) * z;
    double before = 0.0;
    for (size_t j = 0; j < idx.size();) {
      size_t e = j;
      double group = 0.0;
      while (e < idx.size() && y[idx[e]] == y[idx[j]]) group += w[idx[e++]];
      if (before > limit) break;
      y_p = y[idx[j]];
      before += group;
      j = e;
    }
  }
  auto kept = [&](int64_t i) { return w[i] > 0.0f && w[i] >= min_p && y[i] >= y_k && y[i] >= y_p; };
  double total = 0.0;
  int64_t last = -1;
  for (int64_t i = 0; i < v; ++i) {
    if (kept(i)) {
      total += w[i];
      last = i;
    }
  }
  if (last < 0) return -1;
  const double target = static_cast<double>(u) * total;
  double cum = 0.0;
  for (int64_t i = 0; i < v; ++i) {
    if (!kept(i)) continue;
    cum += w[i];
    if (cum > target) return static_cast<int32_t>(i);
  }
  return static_cast<int32_t>(last);
}

}  // namespace

Status sample(const Tensor& out, const Tensor& logits, const SamplingTensors& p) {
  const int64_t n = logits.size(0), v = logits.size(1);
  for (int64_t r = 0; r < n; ++r) {
    out.data_as<int32_t>()[r] =
        sample_row(logits.data_as<const float>() + r * v, v, p.temperature.data_as<const float>()[r],
                   p.top_k.data_as<const int32_t>()[r], p.top_p.data_as<const float>()[r],
                   p.min_p.data_as<const float>()[r], p.uniform.data_as<const float>()[r]);
  }
  return Status::ok();
}

}  // namespace radix::cpu
