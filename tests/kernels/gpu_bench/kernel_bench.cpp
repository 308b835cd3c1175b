// bench_kernels_gpu: times the CUDA kernels at model shapes against ceilings measured
// in the same run (device-to-device copy bandwidth, cuBLASLt bf16 GEMM rate). CUDA
// events around each launch, warm-up first, median of the repetitions; decode KV
// caches rotate over several layers' worth of memory so L2 (50 MB) does not serve
// them. Prints one table; not a test (timings assert nothing).
//
//   bench_kernels_gpu [--quick]
//   bench_kernels_gpu --sampling     (the sampling table only)
//   bench_kernels_gpu --sync-probe   (the decode layer's sync structures on one weight
//                                     stream, cuda::sync_probe; SYNC_PROBE_ONLY=a|b
//                                     runs the rows whose name contains a or b)
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "kernels/cuda/attention/plan.h"
#include "kernels/cuda/backend.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/gemm/decode_chain.h"
#include "kernels/cuda/gemm/gemv.h"
#include "kernels/cuda/gemm/gemv_mma.h"
#include "kernels/ops.h"

namespace radix {
namespace {

#define BENCH_CHECK(expr)                                                              \
  do {                                                                                 \
    Status s_ = (expr);                                                                \
    if (!s_.is_ok()) {                                                                 \
      std::fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, s_.to_string().c_str()); \
      std::exit(1);                                                                    \
    }                                                                                  \
  } while (0)

OwnedTensor device(const Shape& shape, DType dt) {
  auto t = OwnedTensor::empty(shape, dt, Device::cuda(0));
  BENCH_CHECK(t.status());
  return std::move(t).value();
}

// Fills a bf16 device tensor with small pseudo-random values (never zeros: zeros can
// run faster than real data).
void fill_random(const Tensor& t, uint32_t seed) {
  std::vector<uint16_t> h(static_cast<size_t>(t.numel()));
  uint32_t s = seed * 2654435761u + 1;
  for (auto& v : h) {
    s = s * 1664525u + 1013904223u;
    v = f32_to_bf16((static_cast<float>(s >> 8) / 16777216.0f - 0.5f));
  }
  OwnedTensor host = OwnedTensor::host(t.shape(), DType::kBF16);
  std::memcpy(host.view().data(), h.data(), h.size() * 2);
  BENCH_CHECK(copy_tensor(t, host.view()));
}

// `layers` random bf16 K and V caches of [rows, hk, d] (seeds k_seed + l and v_seed + l).
struct KvCaches {
  std::vector<OwnedTensor> k, v;
};
KvCaches random_kv_caches(int layers, int64_t rows, int64_t hk, int64_t d, uint32_t k_seed, uint32_t v_seed) {
  KvCaches c;
  for (int l = 0; l < layers; ++l) {
    c.k.push_back(device({rows, hk, d}, DType::kBF16));
    c.v.push_back(device({rows, hk, d}, DType::kBF16));
    fill_random(c.k.back().view(), k_seed + static_cast<uint32_t>(l));
    fill_random(c.v.back().view(), v_seed + static_cast<uint32_t>(l));
  }
  return c;
}

OwnedTensor i32(const std::vector<int32_t>& v) {
  OwnedTensor h = OwnedTensor::host({static_cast<int64_t>(v.size())}, DType::kI32);
  std::memcpy(h.view().data(), v.data(), v.size() * 4);
  OwnedTensor d = device(h.view().shape(), DType::kI32);
  BENCH_CHECK(copy_tensor(d.view(), h.view()));
  return d;
}

// Median milliseconds of `reps` timed runs of fn (rep index passed) after warm-up.
double time_ms(cudaStream_t stream, int reps, const std::function<void(int)>& fn) {
  for (int i = 0; i < 3; ++i) fn(i);
  std::vector<cudaEvent_t> ev(2 * reps);
  for (auto& e : ev) cudaEventCreate(&e);
  for (int i = 0; i < reps; ++i) {
    cudaEventRecord(ev[2 * i], stream);
    fn(i);
    cudaEventRecord(ev[2 * i + 1], stream);
  }
  cudaStreamSynchronize(stream);
  std::vector<float> ms(reps);
  for (int i = 0; i < reps; ++i) cudaEventElapsedTime(&ms[i], ev[2 * i], ev[2 * i + 1]);
  for (auto& e : ev) cudaEventDestroy(e);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    std::fprintf(stderr, "CUDA error: %s\n", cudaGetErrorString(err));
    std::exit(1);
  }
  std::nth_element(ms.begin(), ms.begin() + reps / 2, ms.end());
  return ms[reps / 2];
}

// Median milliseconds per call when `calls` invocations of fn are captured into one
// CUDA graph and replayed (how decode runs in the engine: no launch gaps).
// Copies of an [n, k] bf16 weight, enough (>= 400 MB in all, 2..16 of them) that a graph
// cycling through them reads each from memory, not L2; seeds seed, seed + 1, ...
std::vector<OwnedTensor> rotating_weights(int64_t n, int64_t k, uint32_t seed) {
  const int64_t bytes = n * k * 2;
  const int copies = static_cast<int>(std::clamp<int64_t>((int64_t{400} << 20) / bytes + 1, 2, 16));
  std::vector<OwnedTensor> ws;
  for (int i = 0; i < copies; ++i) {
    ws.push_back(device({n, k}, DType::kBF16));
    fill_random(ws.back().view(), seed + i);
  }
  return ws;
}

// fn(0..calls-1) captured into one graph (fn(0) runs once before, outside the capture:
// one-time setup such as plans and attributes); `before_capture` runs after that call.
struct CapturedGraph {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  ~CapturedGraph() {
    if (exec != nullptr) cudaGraphExecDestroy(exec);
    if (graph != nullptr) cudaGraphDestroy(graph);
  }
};
void capture_graph(CapturedGraph* g, cudaStream_t stream, int calls, const std::function<void(int)>& fn,
                   const std::function<void()>& before_capture = [] {}) {
  fn(0);
  before_capture();
  if (cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal) != cudaSuccess) std::exit(1);
  for (int i = 0; i < calls; ++i) fn(i);
  if (cudaStreamEndCapture(stream, &g->graph) != cudaSuccess ||
      cudaGraphInstantiate(&g->exec, g->graph, 0) != cudaSuccess) {
    std::fprintf(stderr, "graph capture failed: %s\n", cudaGetErrorString(cudaGetLastError()));
    std::exit(1);
  }
}

double time_graph_ms(cudaStream_t stream, int reps, int calls, const std::function<void(int)>& fn) {
  CapturedGraph g;
  capture_graph(&g, stream, calls, fn);
  const double ms = time_ms(stream, reps, [&](int) { cudaGraphLaunch(g.exec, stream); });
  return ms / calls;
}

// The smallest, median and largest of some values (not empty).
struct Order {
  double min = 0, med = 0, max = 0;
};
Order order_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v.front(), v[v.size() / 2], v.back()};
}
// Microseconds from trace stamp a to b (ns since an epoch: subtract first).
double us_between(uint64_t a, uint64_t b) { return static_cast<double>(static_cast<int64_t>(b - a)) / 1e3; }

// Median and maximum over CTAs of b - a (trace slots of one launch), in microseconds.
Order spread_us(const std::vector<uint64_t>& t, int64_t base, int ctas, int a, int b) {
  std::vector<double> d;
  for (int c = 0; c < ctas; ++c) {
    const uint64_t* r = t.data() + base + static_cast<int64_t>(c) * cuda::kChainTraceSlots;
    d.push_back(us_between(r[a], r[b]));
  }
  return order_of(std::move(d));
}

// The decode chain's trace (decode_chain.h) over `calls` launches of one graph: per
// phase, the median / max over CTAs of the wait + staging, the dot products and the
// stores, averaged over the launches; each launch's span and the gap to the next; each
// phase boundary taken apart on one time line.
void chain_trace_report(cudaStream_t stream, int calls, const std::function<void(int)>& fn) {
  int dev = 0, ctas = 0;  // the chain's grid: one CTA per SM
  if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&ctas, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) {
    std::exit(1);
  }
  const int64_t per_launch = static_cast<int64_t>(ctas) * cuda::kChainTraceSlots;
  auto buf_r = Buffer::allocate(Device::cuda(0), static_cast<size_t>(per_launch * calls) * 8);
  BENCH_CHECK(buf_r.status());
  Buffer buf = std::move(buf_r).value();
  std::vector<uint64_t> t(static_cast<size_t>(per_launch * calls));
  {
    // The captured launches keep writing the trace; the setup call before does not.
    CapturedGraph g;
    capture_graph(&g, stream, calls, fn,
                  [&] { cuda::set_decode_chain_trace(static_cast<unsigned long long*>(buf.data()), calls); });
    cuda::set_decode_chain_trace(nullptr, 0);
    for (int rep = 0; rep < 3; ++rep) cudaGraphLaunch(g.exec, stream);  // the last replay's stamps stay
    if (cudaStreamSynchronize(stream) != cudaSuccess) std::exit(1);
    if (cudaMemcpy(t.data(), buf.data(), t.size() * 8, cudaMemcpyDeviceToHost) != cudaSuccess) std::exit(1);
  }

  double span = 0, gap = 0;
  double wait[cuda::kChainMaxPhases][2] = {}, dots[cuda::kChainMaxPhases][2] = {}, store[cuda::kChainMaxPhases][2] = {};
  for (int l = 0; l < calls; ++l) {
    const int64_t base = l * per_launch;
    uint64_t lo = ~uint64_t{0}, hi = 0, next_lo = ~uint64_t{0};
    for (int c = 0; c < ctas; ++c) {
      lo = std::min(lo, t[base + c * cuda::kChainTraceSlots]);
      hi = std::max(hi, t[base + c * cuda::kChainTraceSlots + 1]);
      if (l + 1 < calls) next_lo = std::min(next_lo, t[base + per_launch + c * cuda::kChainTraceSlots]);
    }
    span += us_between(lo, hi) / calls;
    if (l + 1 < calls) gap += us_between(hi, next_lo) / (calls - 1);
    for (int p = 0; p < cuda::kChainMaxPhases; ++p) {
      const Order w = spread_us(t, base, ctas, 2 + 4 * p, 3 + 4 * p), d = spread_us(t, base, ctas, 3 + 4 * p, 4 + 4 * p),
                   st = spread_us(t, base, ctas, 4 + 4 * p, 5 + 4 * p);
      wait[p][0] += w.med / calls, wait[p][1] += w.max / calls;
      dots[p][0] += d.med / calls, dots[p][1] += d.max / calls;
      store[p][0] += st.med / calls, store[p][1] += st.max / calls;
    }
  }
  std::printf("chain trace (us, mean over %d launches of the median / max over %d CTAs): launch span %.1f, "
              "gap to the next launch %.1f\n", calls, ctas, span, gap);
  {
    // Each CTA's own span and when it starts and ends against the launch's first start.
    double cta_lo = 0, cta_med = 0, cta_hi = 0, start_hi = 0, end_lo = 0, end_med = 0;
    for (int l = 0; l < calls; ++l) {
      std::vector<double> spans, starts, ends;
      const uint64_t* b = t.data() + l * per_launch;
      uint64_t lo = ~uint64_t{0};
      for (int c = 0; c < ctas; ++c) lo = std::min(lo, b[c * cuda::kChainTraceSlots]);
      for (int c = 0; c < ctas; ++c) {
        const uint64_t* r = b + static_cast<int64_t>(c) * cuda::kChainTraceSlots;
        spans.push_back(us_between(r[0], r[1]));
        starts.push_back(us_between(lo, r[0]));
        ends.push_back(us_between(lo, r[1]));
      }
      const Order sp = order_of(std::move(spans)), st = order_of(std::move(starts)), en = order_of(std::move(ends));
      cta_lo += sp.min / calls, cta_med += sp.med / calls, cta_hi += sp.max / calls;
      start_hi += st.max / calls, end_lo += en.min / calls, end_med += en.med / calls;
    }
    std::printf("  CTA spans: shortest %.1f, median %.1f, longest %.1f; last start +%.1f; first end %.1f, median end "
                "%.1f\n", cta_lo, cta_med, cta_hi, start_hi, end_lo, end_med);
  }
  const char* names[cuda::kChainMaxPhases] = {"o + residual", "norm + gate/up + SiLU", "down + residual",
                                              "norm + qkv + RoPE + KV"};
  for (int p = 0; p < cuda::kChainMaxPhases; ++p) {
    std::printf("  %-24s wait+stage %5.1f / %5.1f   dots %5.1f / %5.1f   store+count %4.1f / %4.1f\n", names[p],
                wait[p][0], wait[p][1], dots[p][0], dots[p][1], store[p][0], store[p][1]);
  }
  // Each boundary p -> p + 1 on one time line (absolute stamps, means over launches): how
  // long the median CTA waits from its last dot product to its next input staged, and
  // what that consists of: the slowest CTA finishing its dots after the median, the
  // slowest CTA's own store + count, the last count to the first CTA staged, and the
  // first to the median CTA staged.
  for (int p = 0; p + 1 < cuda::kChainMaxPhases; ++p) {
    double idle = 0, late = 0, own = 0, reach = 0, spread = 0;
    for (int l = 0; l < calls; ++l) {
      std::vector<double> ends, staged;
      double last_end = -1e30, last_stored = -1e30, slowest_own = 0, first_staged = 1e30;
      const uint64_t ref = t[static_cast<size_t>(l * per_launch)];  // CTA 0's start: stamps are ns since an epoch
      auto us = [&](uint64_t v) { return us_between(ref, v); };
      for (int c = 0; c < ctas; ++c) {
        const uint64_t* r = t.data() + l * per_launch + static_cast<int64_t>(c) * cuda::kChainTraceSlots;
        const double end = us(r[4 + 4 * p]), stored = us(r[5 + 4 * p]), next = us(r[3 + 4 * (p + 1)]);
        ends.push_back(end);
        staged.push_back(next);
        if (end > last_end) last_end = end, slowest_own = stored - end;
        last_stored = std::max(last_stored, stored);
        first_staged = std::min(first_staged, next);
      }
      std::sort(ends.begin(), ends.end());
      std::sort(staged.begin(), staged.end());
      const double med_end = ends[ends.size() / 2], med_staged = staged[staged.size() / 2];
      idle += (med_staged - med_end) / calls;
      late += (last_end - med_end) / calls;
      own += slowest_own / calls;
      reach += (first_staged - last_stored) / calls;
      spread += (med_staged - first_staged) / calls;
    }
    std::printf("  boundary %d -> %d: median CTA idle %.1f = slowest dots +%.1f, its store+count %.1f, last count -> "
                "first staged %.1f, first -> median staged %.1f\n", p, p + 1, idle, late, own, reach, spread);
  }
  // Within a CTA: when its warps finish their equal shares of a phase's dot products.
  // Per CTA the first, median and last warp; the medians over CTAs of last - first and
  // last - median, and of the CTA's dots span (staged -> last warp), means over launches.
  for (int p = 0; p < cuda::kChainMaxPhases; ++p) {
    double spread = 0, tail = 0, span = 0;
    for (int l = 0; l < calls; ++l) {
      std::vector<double> spreads, tails, spans;
      for (int c = 0; c < ctas; ++c) {
        const uint64_t* r = t.data() + l * per_launch + static_cast<int64_t>(c) * cuda::kChainTraceSlots;
        std::vector<double> w;
        for (int i = 0; i < cuda::kChainTraceWarps; ++i) w.push_back(us_between(r[3 + 4 * p], r[cuda::chain_trace_warp_slot(p, i)]));
        const Order o = order_of(std::move(w));
        spreads.push_back(o.max - o.min);
        tails.push_back(o.max - o.med);
        spans.push_back(o.max);
      }
      spread += order_of(std::move(spreads)).med / calls, tail += order_of(std::move(tails)).med / calls;
      span += order_of(std::move(spans)).med / calls;
    }
    std::printf("  %-24s warps' dots (median CTA): staged -> last warp %.1f, last - first warp %.1f, last - median "
                "warp %.1f\n", names[p], span, spread, tail);
  }
  // Is a slow CTA slow because of its SM (or its block index)? Each one's mean dot-product
  // time over the even launches against the odd ones: correlation across SMs / indices.
  auto pearson = [](const std::vector<double>& x, const std::vector<double>& y) {
    const double n = static_cast<double>(x.size());
    double mx = 0, my = 0;
    for (size_t i = 0; i < x.size(); ++i) mx += x[i] / n, my += y[i] / n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx), syy += (y[i] - my) * (y[i] - my);
    }
    return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : 0.0;
  };
  for (int p = 0; p < cuda::kChainMaxPhases; ++p) {
    std::vector<double> by_sm[2], by_cta[2], n_sm[2];
    for (int h = 0; h < 2; ++h) by_sm[h].assign(ctas, 0.0), by_cta[h].assign(ctas, 0.0), n_sm[h].assign(ctas, 0.0);
    std::vector<double> all(ctas, 0.0), all_n(ctas, 0.0);
    for (int l = 0; l < calls; ++l) {
      for (int c = 0; c < ctas; ++c) {
        const uint64_t* r = t.data() + l * per_launch + static_cast<int64_t>(c) * cuda::kChainTraceSlots;
        const double d = us_between(r[3 + 4 * p], r[4 + 4 * p]);
        const auto sm = static_cast<int>(std::min<uint64_t>(r[cuda::kChainTraceSmSlot], static_cast<uint64_t>(ctas - 1)));
        by_sm[l % 2][sm] += d, n_sm[l % 2][sm] += 1;
        by_cta[l % 2][c] += d / ((calls + 1 - l % 2) / 2);
        all[sm] += d, all_n[sm] += 1;
      }
    }
    for (int h = 0; h < 2; ++h) {
      for (int i = 0; i < ctas; ++i) by_sm[h][i] = n_sm[h][i] > 0 ? by_sm[h][i] / n_sm[h][i] : 0.0;
    }
    for (int i = 0; i < ctas; ++i) all[i] = all_n[i] > 0 ? all[i] / all_n[i] : 0.0;
    std::vector<double> sorted = all;
    std::sort(sorted.begin(), sorted.end());
    std::printf("  %-24s dots per SM (mean over launches): median %.1f, slowest %.1f / %.1f / %.1f; "
                "even-vs-odd launch correlation by SM %.2f, by block index %.2f\n", names[p],
                sorted[sorted.size() / 2], sorted[sorted.size() - 1], sorted[sorted.size() - 2], sorted[sorted.size() - 3],
                pearson(by_sm[0], by_sm[1]), pearson(by_cta[0], by_cta[1]));
    if (p == 1) {
      std::printf("    per SM id:");
      for (int i = 0; i < ctas; ++i) std::printf(" %.1f", all[i]);
      std::printf("\n");
    }
  }
}

// Sampling over Llama-3 logits (f32, V = 128256), each mode at batch 1..128 with one CTA
// per row, then with each row over the cluster ops::sample picks with the wide widths on
// (8 CTAs up to 16 rows, 4 up to 33, 2 up to 66).
void bench_sampling(const OpContext& ctx, cudaStream_t stream, int reps) {
  const int64_t v = 128256;
  std::printf("\n%-30s %6s %10s\n", "sample (V=128256)", "batch", "time_us");
  for (int batch : {1, 16, 32, 64, 128}) {
    OwnedTensor logits = device({batch, v}, DType::kF32);
    {
      std::vector<float> h(static_cast<size_t>(batch * v));
      uint32_t s = 12345;
      for (auto& x : h) {
        s = s * 1664525u + 1013904223u;
        x = (static_cast<float>(s >> 8) / 16777216.0f) * 12.0f - 6.0f;
      }
      OwnedTensor host = OwnedTensor::host({batch, v}, DType::kF32);
      std::memcpy(host.view().data(), h.data(), h.size() * 4);
      BENCH_CHECK(copy_tensor(logits.view(), host.view()));
    }
    struct Mode {
      const char* name;
      float t;
      int k;
      float p;
    };
    for (const Mode& m : {Mode{"greedy", 0.0f, 0, 1.0f}, Mode{"temperature 0.8", 0.8f, 0, 1.0f},
                          Mode{"top_k 50", 0.8f, 50, 1.0f}, Mode{"top_p 0.9", 0.8f, 0, 0.9f},
                          Mode{"top_k 50 + top_p 0.9", 0.8f, 50, 0.9f}}) {
      auto fill_f = [&](float val) {
        std::vector<float> h(static_cast<size_t>(batch), val);
        OwnedTensor host = OwnedTensor::host({batch}, DType::kF32);
        std::memcpy(host.view().data(), h.data(), h.size() * 4);
        OwnedTensor d = device({batch}, DType::kF32);
        BENCH_CHECK(copy_tensor(d.view(), host.view()));
        return d;
      };
      OwnedTensor t = fill_f(m.t), p = fill_f(m.p), mp = fill_f(0.0f), u = fill_f(0.37f);
      OwnedTensor k = i32(std::vector<int32_t>(static_cast<size_t>(batch), m.k));
      OwnedTensor out = device({batch}, DType::kI32);
      const SamplingTensors params{t.view(), k.view(), p.view(), mp.view(), u.view()};
      const bool cluster_was = cuda::sample_cluster_enabled(), wide_was = cuda::sample_cluster_wide_enabled();
      cuda::set_sample_cluster_enabled(false);
      const double ms = time_ms(stream, reps, [&](int) { BENCH_CHECK(ops::sample(ctx, out, logits, params)); });
      std::printf("%-30s %6d %10.1f\n", m.name, batch, ms * 1e3);
      cuda::set_sample_cluster_enabled(true);
      cuda::set_sample_cluster_wide_enabled(true);
      if (const int width = cuda::sample_cluster_width(batch); width > 1) {
        const double cms = time_ms(stream, reps, [&](int) { BENCH_CHECK(ops::sample(ctx, out, logits, params)); });
        std::printf("%-30s %6d %10.1f\n", (std::string(m.name) + ", cluster " + std::to_string(width)).c_str(), batch,
                    cms * 1e3);
      }
      cuda::set_sample_cluster_enabled(cluster_was);
      cuda::set_sample_cluster_wide_enabled(wide_was);
    }
  }
}

// sampling_only: just the sampling table (after the setup).
// --sync-probe: the decode layer's sync structures compared on one weight stream
// (cuda::sync_probe: no dot products). Rows: µs per layer of 436.2 MB (Llama-3-8B's
// o, gate/up, down and qkv weights), launches back to back, 8 layers per timed call.
void bench_sync_probe(const OpContext& ctx, cudaStream_t stream) {
  using St = cuda::SyncProbeStep;
  const int64_t kO = 16384, kGu = 114688, kDown = 57344, kQkv = 24576;  // 2 KB items: 33.5 / 234.9 / 117.4 / 50.3 MB
  const size_t weight_bytes = size_t{8} << 30;
  OwnedTensor w = device({static_cast<int64_t>(weight_bytes / 2)}, DType::kBF16);
  fill_random(w.view(), 11);
  const int64_t layer_bytes = (kO + kGu + kDown + kQkv) * 2048;
  const int64_t slots = static_cast<int64_t>(weight_bytes) / layer_bytes;
  OwnedTensor kv = device({slots * 132 * 20480 / 2}, DType::kBF16);
  fill_random(kv.view(), 12);
  OwnedTensor xbuf = device({2 * 65536}, DType::kF32), counters = device({8 * 16 * 64 + 8 * 16 * 16 * 1024 + 8 * 16 * 128}, DType::kI64),
              out = device({256}, DType::kI32);
  int sms = 132;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  std::printf("sync probe: %lld layer slots of %.1f MB, %d SMs; us per layer\n", static_cast<long long>(slots),
              layer_bytes / 1e6, sms);
  struct Config {
    const char* name;
    int cluster, grid, layers;  // layers: per launch (1: a launch per layer)
    std::vector<St> steps;
    int chunk_stride = 1;
    unsigned poll_ns = 32;
  };
  auto S = [](int64_t items) { return St{St::kStream, 0, items}; };
  auto G = [](int o, int64_t i) { return St{St::kGrid, o, i}; };
  auto Cl = [](int o, int64_t i) { return St{St::kCluster, o, i}; };
  auto L = [](int64_t bytes) { return St{St::kLoads, 0, bytes}; };
  auto GS = [](int64_t i) { return St{St::kGlobalStage, 0, i}; };
  auto Store = [](int o) { return St{St::kStore, o, 0}; };
  auto Sl = [](int64_t ns) { return St{St::kSleep, 0, ns}; };
  auto with = [](std::vector<St> v, St::Kind from, St::Kind to) {
    for (St& st : v) {
      if (st.kind == from) st.kind = to;
    }
    return v;
  };
  const std::vector<St> stream_only = {S(kO), S(kGu), S(kDown), S(kQkv)};
  // Each CTA idles at five points of a layer, unsynchronized (no memory traffic).
  auto five_pauses = [&](int64_t ns) {
    return std::vector<St>{S(kQkv), Sl(ns), S(kO), Sl(ns), Sl(ns), S(kGu), Sl(ns), S(kDown), Sl(ns)};
  };
  // Five syncs of one kind per layer, the same words out and in: each kind's own cost.
  const std::vector<St> five_grid = {S(kQkv), G(128, 2048), S(kO),        G(128, 2048), G(128, 2048),
                                     S(kGu),  G(128, 2048), S(kDown),     G(128, 2048)};
  const std::vector<St> five_grid_one_boundary = {S(kQkv),      S(kO),        S(kGu),       S(kDown),    G(128, 2048),
                                                  G(128, 2048), G(128, 2048), G(128, 2048), G(128, 2048)};
  const std::vector<St> five_grid_no_stage = {S(kQkv), G(128, 0), S(kO),    G(128, 0), G(128, 0),
                                              S(kGu),  G(128, 0), S(kDown), G(128, 0)};
  const std::vector<St> five_grid_bare = {S(kQkv), G(0, 0), S(kO), G(0, 0), G(0, 0), S(kGu), G(0, 0), S(kDown), G(0, 0)};
  // The chain as it is: a launch per layer, grid syncs o -> gate/up -> down -> qkv (the
  // words each CTA stores and stages, bf16 pairs); the attention outside (not here).
  const std::vector<St> chain = {GS(2048), S(kO),       G(31, 2048), S(kGu),   G(109, 7168),
                                 S(kDown), G(31, 2048), S(kQkv),     Store(24)};
  const std::vector<St> chain_persistent = {S(kO),       G(31, 2048), S(kGu), G(109, 7168),
                                            S(kDown),    G(31, 2048), S(kQkv), G(24, 2048)};
  // The chain with the attention inside, all layers in one launch: qkv -> grid -> the
  // attention's loads (20 KB per CTA) -> grid (partials) -> grid (merged) -> o.
  const std::vector<St> chain_attn = {S(kO),   G(31, 2048), S(kGu),   G(109, 7168), S(kDown),   G(31, 2048),
                                      S(kQkv), G(24, 384),  L(20480), G(512, 8320), G(16, 2048)};
  // Tensor parallel in 8 ranks (a KV head each): qkv of the rank's heads -> local (q, k,
  // v) -> attention loads -> local (16 splits' partials) -> o's K-split -> grid (each CTA
  // its 256-row slice of the 8 partials) -> local (h) -> gate/up of the rank's 1792
  // units -> local (act) -> down's K-split -> grid -> local (the next layer's h).
  const std::vector<St> tp = {S(kQkv),       Cl(24, 384), L(20480),   Cl(512, 8192), S(kO),        G(256, 2048),
                              Cl(128, 2048), S(kGu),      Cl(56, 896), S(kDown),     G(256, 2048), Cl(128, 2048)};
  // Dataflow by chunks: a phase publishes its output in P chunks (each warp fences and
  // counts after each P-th of its items) and the next waits only for the chunk its next
  // items read (warp w stages chunk w).
  auto D = [](int64_t items, int pub, int awt, St::Flow flow = St::kPerWarp) {
    St st{St::kStream, 0, items};
    st.publish = pub;
    st.await = awt;
    st.flow = flow;
    return st;
  };
  // The publishing's parts: fences only (nothing awaited), counts only.
  const std::vector<St> chain_fences_only = {S(kO),       G(31, 2048), D(kGu, 14, 0, St::kPerWarpNoCount), S(kDown),
                                             G(31, 2048), S(kQkv),     G(24, 2048)};
  const std::vector<St> chain_flow_no_fence = {S(kO),       G(31, 2048), D(kGu, 14, 0, St::kPerWarpNoFence), D(kDown, 0, 14),
                                               G(31, 2048), S(kQkv),     G(24, 2048)};
  const std::vector<St> chain_counts_only = {S(kO),       G(31, 2048), D(kGu, 14, 0, St::kPerWarpNoFence), S(kDown),
                                             G(31, 2048), S(kQkv),     G(24, 2048)};
  const std::vector<St> chain_flow_down = {S(kO),         G(31, 2048), D(kGu, 14, 0), D(kDown, 0, 14),
                                           G(31, 2048),   S(kQkv),     G(24, 2048)};
  const std::vector<St> chain_flow_all = {D(kO, 4, 0), D(kGu, 14, 4), D(kDown, 4, 14), D(kQkv, 0, 4), G(24, 2048)};
  const std::vector<St> flow_all = {D(kQkv, 4, 4), D(kO, 4, 4), D(kGu, 14, 4), D(kDown, 4, 14)};
  // Tensor-parallel ranks of 16 CTAs whose local exchanges are dataflow: each CTA
  // publishes its part once (qkv rows, attention partial, act) and a consumer starts on
  // its own part while its warps fetch the 15 peers' (128 words each); the attention is
  // a 4 MB stand-in phase that awaits the group's qkv, then its loads, published. Two
  // all-reduces per layer, each CTA staging all 8 ranks' partials (32768 words) or, as a
  // bound, 2048.
  auto P = [&](int64_t items, int pub, int awt) { return D(items, pub, awt, St::kPeers); };
  St attention_loads = L(20480);
  attention_loads.publish = 1;
  auto tp_flow = [&](int ar_words) {
    return std::vector<St>{P(kQkv, 1, 0), P(2048, 0, 16), attention_loads, P(kO, 0, 16),
                           G(256, ar_words),   P(kGu, 1, 0),  P(kDown, 0, 16),           G(256, ar_words)};
  };
  // Grid syncs only where the tensor-parallel split needs them, nothing local.
  const std::vector<St> two_grid = {S(kQkv), S(kO), G(256, 2048), S(kGu), S(kDown), G(256, 2048)};
  const std::vector<Config> configs = {
      {"stream only, launch per layer", 1, sms, 1, stream_only},
      {"stream only, launch per layer, 128 CTAs", 1, 128, 1, stream_only},
      {"stream only, 8 layers per launch", 1, sms, 8, stream_only},
      {"stream only, 8 per launch, 128 CTAs", 1, 128, 8, stream_only},
      {"stream only, 8 per launch, 120 CTAs", 1, 120, 8, stream_only},
      {"stream only, 8 per launch, 112 CTAs", 1, 112, 8, stream_only},
      {"stream only, 15 clusters of 8 (120 CTAs)", 8, 120, 8, stream_only},
      {"stream only, 7 clusters of 16 (112 CTAs)", 16, 112, 8, stream_only},
      {"5 pauses of 0.5 us per layer, 128", 1, 128, 8, five_pauses(500)},
      {"5 pauses of 1 us", 1, 128, 8, five_pauses(1000)},
      {"5 pauses of 2 us", 1, 128, 8, five_pauses(2000)},
      {"5 pauses of 4 us", 1, 128, 8, five_pauses(4000)},
      {"5 grid syncs per layer, 128", 1, 128, 8, five_grid},
      {"5 grid syncs at one boundary", 1, 128, 8, five_grid_one_boundary},
      {"5 grid syncs, no staging", 1, 128, 8, five_grid_no_stage},
      {"5 grid syncs, no stores, no staging", 1, 128, 8, five_grid_bare},
      {"5 grid syncs, polls back to back", 1, 128, 8, five_grid, 1, 0},
      {"5 grid syncs, polls 0.1 us apart", 1, 128, 8, five_grid, 1, 100},
      {"5 grid syncs, polls 0.25 us apart", 1, 128, 8, five_grid, 1, 250},
      {"5 grid syncs, polls 1 us apart", 1, 128, 8, five_grid, 1, 1000},
      {"5 group syncs (16 CTAs, global memory)", 1, 128, 8, with(five_grid, St::kGrid, St::kGroup)},
      {"5 cluster syncs (15 x 8)", 8, 120, 8, with(five_grid, St::kGrid, St::kCluster)},
      {"5 cluster barriers, no exchange (15 x 8)", 8, 120, 8, with(five_grid_bare, St::kGrid, St::kCluster)},
      {"5 cluster syncs (7 x 16)", 16, 112, 8, with(five_grid, St::kGrid, St::kCluster)},
      {"chain: 3 syncs, launch per layer", 1, sms, 1, chain},
      {"chain: 3 syncs, launch per layer, 128", 1, 128, 1, chain},
      {"chain: 4 syncs, 8 layers per launch, 128", 1, 128, 8, chain_persistent},
      {"chain + attention inside (6 syncs), 128", 1, 128, 8, chain_attn},
      {"TP ranks of 16 CTAs (global memory)", 1, 128, 8, with(tp, St::kCluster, St::kGroup)},
      {"TP ranks of 8 CTAs (15 clusters)", 8, 120, 8, tp},
      {"TP ranks of 16 CTAs (7 clusters)", 16, 112, 8, tp},
      {"two grid syncs per layer, nothing local", 1, 128, 8, two_grid},
      {"TP ranks of 16, local exchanges by dataflow", 1, 128, 8, tp_flow(32768)},
      {"  the same, all-reduces staging 2048 words", 1, 128, 8, tp_flow(2048)},
      {"chain 4 syncs, gate/up -> down by 14 chunks", 1, 128, 8, chain_flow_down},
      {"  the same, publishing without fences", 1, 128, 8, chain_flow_no_fence},
      {"  the same, counters 8 KB apart", 1, 128, 8, chain_flow_down, 1024},
      {"  the same, no fences, counters 8 KB apart", 1, 128, 8, chain_flow_no_fence, 1024},
      {"  counts alone, counters 8 KB apart", 1, 128, 8, chain_counts_only, 1024},
      {"  the same, counted once per CTA", 1, 128, 8,
       {S(kO), G(31, 2048), D(kGu, 14, 0, St::kPerCta), D(kDown, 0, 14, St::kPerCta), G(31, 2048), S(kQkv), G(24, 2048)}, 1024},

      {"  no gate/up -> down sync at all (3 syncs)", 1, 128, 8,
       {S(kO), G(31, 2048), S(kGu), S(kDown), G(31, 2048), S(kQkv), G(24, 2048)}},
      {"  gate/up's 14 x 16 fences alone (no sync)", 1, 128, 8, chain_fences_only},
      {"  gate/up's 14 x 16 counts alone (no sync)", 1, 128, 8, chain_counts_only},
      {"chain, all 3 in-layer boundaries by chunks", 1, 128, 8, chain_flow_all, 1024},
      {"every boundary by chunks (no grid sync)", 1, 128, 8, flow_all, 1024},
  };
  // CTA shares weighted by each CTA's own streaming rate (by block index): stream-only
  // launches with the trace, shares moved toward equal end times.
  const int wgrid = 128;
  OwnedTensor prefix_t = device({wgrid + 1}, DType::kI64), trace_t = device({2 * wgrid}, DType::kI64);
  std::vector<double> share(wgrid, 1.0 / wgrid);
  auto upload = [&] {
    std::vector<double> pre(wgrid + 1, 0.0);
    for (int c = 0; c < wgrid; ++c) pre[c + 1] = pre[c] + share[c];
    pre[wgrid] = 1.0;
    cudaMemcpy(prefix_t.view().data(), pre.data(), 8 * (wgrid + 1), cudaMemcpyHostToDevice);
  };
  auto run_config = [&](const Config& c, bool weighted, bool traced) {
    cuda::SyncProbe p;
    p.num_steps = static_cast<int>(c.steps.size());
    for (int i = 0; i < p.num_steps; ++i) p.steps[i] = c.steps[i];
    p.cluster = c.cluster;
    p.grid = c.grid;
    p.group = c.grid % 16 == 0 ? 16 : c.grid;
    p.layers = c.layers;
    p.chunk_stride = c.chunk_stride;
    p.poll_ns = c.poll_ns;
    p.weights = w.view();
    p.kv = kv.view();
    p.xbuf = xbuf.view();
    p.counters = counters.view();
    p.out = out.view();
    if (weighted) p.prefix = prefix_t.view();
    if (traced) p.trace = trace_t.view();
    cudaMemsetAsync(counters.view().data(), 0, counters.view().nbytes(), stream);
    int max_clusters = 0;
    unsigned long long launches = 0;
    int next_layer = 0;
    auto launch = [&](int* mc) {
      p.epoch = launches++;
      p.first_layer = next_layer;
      next_layer = (next_layer + c.layers) % static_cast<int>(slots);
      return cuda::sync_probe(ctx, p, mc);
    };
    const Status first = launch(&max_clusters);
    if (!first.is_ok()) {
      std::printf("  %-44s not run: %s (clusters of %d resident: %d)\n", c.name, first.message().c_str(), c.cluster,
                  max_clusters);
      return;
    }
    cudaMemsetAsync(out.view().data(), 0, out.view().nbytes(), stream);
    const double ms = time_ms(stream, traced ? 3 : 20, [&](int) {
      for (int i = 0; i < 8 / c.layers; ++i) BENCH_CHECK(launch(nullptr));
    });
    uint32_t stuck = 0;
    cudaMemcpy(&stuck, out.view().data_as<uint32_t>() + c.grid, 4, cudaMemcpyDeviceToHost);
    if (stuck != 0) {
      std::printf("  %-44s a wait gave up after 20 ms (a deadlock in this program)\n", c.name);
      return;
    }
    if (!traced) {
      std::printf("  %-44s %6.1f us = %4.0f GB/s%s\n", c.name, ms * 1e3 / 8, layer_bytes * 8 / (ms * 1e-3) / 1e9,
                  weighted ? " (weighted shares)" : "");
    }
  };
  // SYNC_PROBE_ONLY: substrings of the rows to run, separated by '|'.
  const char* only = std::getenv("SYNC_PROBE_ONLY");
  auto selected = [&](const char* name) {
    if (only == nullptr) return true;
    std::string rest = only;
    for (size_t at = 0;; at = rest.find('|', at) + 1) {
      const size_t end = rest.find('|', at);
      const std::string want = rest.substr(at, end == std::string::npos ? std::string::npos : end - at);
      if (!want.empty() && std::strstr(name, want.c_str()) != nullptr) return true;
      if (end == std::string::npos) return false;
    }
  };
  for (const Config& c : configs) {
    if (selected(c.name)) run_config(c, false, false);
  }
  if (only != nullptr) return;
  const Config calibration{"calibration", 1, wgrid, 8, stream_only};
  for (int round = 0; round < 4; ++round) {
    upload();
    run_config(calibration, round > 0, true);
    cudaStreamSynchronize(stream);
    std::vector<uint64_t> tr(2 * wgrid);
    cudaMemcpy(tr.data(), trace_t.view().data(), 16 * wgrid, cudaMemcpyDeviceToHost);
    uint64_t t0 = tr[0];
    for (int c = 0; c < wgrid; ++c) t0 = std::min<uint64_t>(t0, tr[2 * c]);
    std::vector<double> end(wgrid);
    for (int c = 0; c < wgrid; ++c) end[c] = (tr[2 * c + 1] - t0) / 1e3;
    std::vector<double> sorted = end;
    std::sort(sorted.begin(), sorted.end());
    double lo = 1, hi = 0;
    for (double x : share) lo = std::min(lo, x * wgrid), hi = std::max(hi, x * wgrid);
    std::printf("  shares %d (x grid %.3f..%.3f): CTA end times over 8 layers min %.1f median %.1f max %.1f us\n", round,
                lo, hi, sorted[0], sorted[wgrid / 2], sorted[wgrid - 1]);
    double sum = 0;
    for (int c = 0; c < wgrid; ++c) {
      share[c] *= 0.5 + 0.5 * sorted[wgrid / 2] / end[c];  // half a step toward the rate
      sum += share[c];
    }
    for (double& x : share) x /= sum;
  }
  upload();
  for (const Config& c : configs) {
    if (std::strcmp(c.name, "stream only, 8 per launch, 128 CTAs") == 0 ||
        std::strcmp(c.name, "5 grid syncs per layer, 128") == 0) {
      run_config(c, true, false);
    }
  }
}

int run(bool quick, bool sampling_only, bool sync_probe_only) {
  auto backend_r = CudaBackend::create(0);
  BENCH_CHECK(backend_r.status());
  auto backend = std::move(backend_r).value();
  auto stream_r = CudaStream::create();
  BENCH_CHECK(stream_r.status());
  auto stream_obj = std::move(stream_r).value();
  auto stream = static_cast<cudaStream_t>(stream_obj.get());
  OpContext ctx{Device::cuda(0), stream_obj.get(), backend.get()};
  const int reps = quick ? 10 : 30;
  if (sampling_only) {
    bench_sampling(ctx, stream, reps);
    return 0;
  }
  if (sync_probe_only) {
    bench_sync_probe(ctx, stream);
    return 0;
  }

  // ---- ceilings ----
  const size_t copy_bytes = size_t{2} << 30;
  OwnedTensor src = device({static_cast<int64_t>(copy_bytes / 2)}, DType::kBF16);
  OwnedTensor dst = device({static_cast<int64_t>(copy_bytes / 2)}, DType::kBF16);
  fill_random(src.view(), 1);
  const double copy_ms = time_ms(stream, reps, [&](int) {
    cudaMemcpyAsync(dst.view().data(), src.view().data(), copy_bytes, cudaMemcpyDeviceToDevice,
                    stream);
  });
  const double bw = 2.0 * copy_bytes / (copy_ms * 1e-3) / 1e9;  // read + write
  std::printf("ceiling  d2d copy 2 GiB: %.3f ms = %.0f GB/s (read+write)\n", copy_ms, bw);
  src = OwnedTensor();
  dst = OwnedTensor();
  double read_bw = 0;
  {
    const size_t read_bytes = size_t{8} << 30;
    OwnedTensor big = device({static_cast<int64_t>(read_bytes / 2)}, DType::kBF16);
    OwnedTensor scratch = device({4096}, DType::kI32);
    BENCH_CHECK(cuda::read_probe(ctx, big.view(), scratch.view()));  // first touch
    const double ms = time_ms(stream, quick ? 5 : 10, [&](int) { BENCH_CHECK(cuda::read_probe(ctx, big, scratch)); });
    read_bw = read_bytes / (ms * 1e-3) / 1e9;
    std::printf("ceiling  streaming read 8 GiB: %.3f ms = %.0f GB/s\n", ms, read_bw);
    // Diagnostics: the same bytes read in the decode chain's shape and orders.
    for (const int depth : {5, 8}) {
      for (const auto& [pat, name] : {std::pair{cuda::ReadPattern::kFront, "one front"},
                                      std::pair{cuda::ReadPattern::kWarpBlocks, "a range per warp (chain)"},
                                      std::pair{cuda::ReadPattern::kCtaBlocks, "a range per CTA"},
                                      std::pair{cuda::ReadPattern::kRowGroups, "per warp, 8 rows x 256 B"}}) {
        const double pms = time_ms(stream, quick ? 5 : 10, [&, pat = pat](int) {
          BENCH_CHECK(cuda::read_probe_pattern(ctx, big, scratch, pat, depth));
        });
        std::printf("  read in 2 KB items, 1 CTA/SM, %d in flight per lane, %-26s %.0f GB/s\n", depth, name,
                    read_bytes / (pms * 1e-3) / 1e9);
      }
    }
    // A decode layer's bytes (436 MB) per launch, launches back to back: each one's ramp
    // and tail.
    {
      const int64_t layer_elems = int64_t{436} << 19;  // 436 MiB of bf16
      const Tensor part = big.view().slice_rows(0, layer_elems);
      for (const auto& [pat, name] : {std::pair{cuda::ReadPattern::kFront, "one front"},
                                      std::pair{cuda::ReadPattern::kWarpBlocks, "a range per warp (chain)"},
                                      std::pair{cuda::ReadPattern::kRowGroups, "per warp, 8 rows x 256 B"},
                                      std::pair{cuda::ReadPattern::kRingAsync, "per warp, cp.async ring"},
                                      std::pair{cuda::ReadPattern::kRingAsyncEvictFirst, "per warp, ring, evict-first"}}) {
        const double pms = time_ms(stream, 40, [&, pat = pat](int) {
          BENCH_CHECK(cuda::read_probe_pattern(ctx, part, scratch, pat, 5));
        });
        std::printf("  436 MiB per launch, 5 in flight per lane, %-26s %.1f us = %.0f GB/s\n", name, pms * 1e3,
                    static_cast<double>(layer_elems) * 2 / (pms * 1e-3) / 1e9);
      }
    }
  }

  double gemm_tflops = 0;
  {
    const int64_t n = 8192;
    OwnedTensor a = device({n, n}, DType::kBF16), w = device({n, n}, DType::kBF16),
                o = device({n, n}, DType::kBF16);
    fill_random(a.view(), 2);
    fill_random(w.view(), 3);
    const double ms = time_ms(stream, reps, [&](int) { BENCH_CHECK(ops::gemm(ctx, o, a, w)); });
    gemm_tflops = 2.0 * n * n * n / (ms * 1e-3) / 1e12;
    std::printf("ceiling  cuBLASLt bf16 GEMM 8192^3: %.3f ms = %.0f TFLOP/s\n", ms, gemm_tflops);
  }
  {
    OwnedTensor a = device({1, 4096}, DType::kBF16), w = device({14336, 4096}, DType::kBF16);
    OwnedTensor o = device({1, 14336}, DType::kBF16);
    fill_random(a.view(), 4);
    fill_random(w.view(), 5);
    const double ms = time_ms(stream, reps, [&](int) { BENCH_CHECK(ops::gemm(ctx, o, a, w)); });
    std::printf("gemm     GEMV 1x4096 . 14336x4096: %.1f us = %.0f GB/s\n", ms * 1e3,
                14336.0 * 4096 * 2 / (ms * 1e-3) / 1e9);
  }

  // ---- batch-1 GEMVs at Llama-3-8B shapes (weights rotate over > 400 MB, so L2 does
  // not serve them); lm_head writes f32 logits as the model does ----
  // (ld: the register-streaming GEMV kernel; bulk: the cp.async.bulk one; gate_up and
  // lm_head are cuBLASLt's either way.)
  std::printf("\n%-28s %10s %9s %8s\n", "gemv M=1 (N x K)", "time_us", "GB/s", "of_read");
  const bool bulk_was = cuda::gemv_bulk_enabled();
  struct GemvCase {
    const char* name;
    int64_t n, k;
    DType out;
  };
  // Llama-3-8B's decode projections (and, in the first table, lm_head).
  const std::vector<GemvCase> projections = {GemvCase{"qkv 6144x4096", 6144, 4096, DType::kBF16},
                                             GemvCase{"o 4096x4096", 4096, 4096, DType::kBF16},
                                             GemvCase{"gate_up 28672x4096", 28672, 4096, DType::kBF16},
                                             GemvCase{"down 4096x14336", 4096, 14336, DType::kBF16}};
  std::vector<GemvCase> with_head = projections;
  with_head.push_back(GemvCase{"lm_head 128256x4096", 128256, 4096, DType::kF32});
  for (const GemvCase& g : with_head) {
    const int64_t bytes = g.n * g.k * 2;
    const std::vector<OwnedTensor> ws = rotating_weights(g.n, g.k, 40);
    const int copies = static_cast<int>(ws.size());
    OwnedTensor a = device({1, g.k}, DType::kBF16), o = device({1, g.n}, g.out);
    fill_random(a.view(), 50);
    for (bool bulk : {false, true}) {
      cuda::set_gemv_bulk_enabled(bulk);
      const double ms =
          time_graph_ms(stream, reps, copies, [&](int i) { BENCH_CHECK(ops::gemm(ctx, o, a, ws[i % copies])); });
      const double gbs = bytes / (ms * 1e-3) / 1e9;
      std::printf("%-28s %10.1f %9.0f %7.0f%%\n", (std::string(g.name) + (bulk ? " bulk" : " ld")).c_str(), ms * 1e3,
                  gbs, 100.0 * gbs / read_bw);
    }
  }
  cuda::set_gemv_bulk_enabled(bulk_was);

  // ---- small decode batches: the projections at M = 1..32 without the tensor-core
  // GEMM (SIMT GEMV for M <= 4 in its weight range, else cuBLASLt) and with it for M
  // 1..16 (gemv_mma.cu; by default it takes M 3..4); weights rotate as above ----
  std::printf("\n%-20s %4s %12s %9s %12s %9s\n", "gemm small M", "M", "no_mma_us", "of_read", "mma_us", "of_read");
  // Times `run` without the tensor-core GEMM and with it, and prints a row.
  auto both_ways = [&](const char* name, int64_t m, int64_t bytes, int copies, const std::function<void(int)>& run) {
    double ms[2] = {0, 0};
    for (int v = 0; v < 2; ++v) {
      cuda::set_gemv_mma_enabled(v == 1);
      ms[v] = time_graph_ms(stream, reps, copies, run);
    }
    const auto pct = [&](double t) { return 100.0 * bytes / (t * 1e-3) / 1e9 / read_bw; };
    std::printf("%-20s %4lld %12.1f %8.0f%% %12.1f %8.0f%%\n", name, static_cast<long long>(m), ms[0] * 1e3,
                pct(ms[0]), ms[1] * 1e3, pct(ms[1]));
  };
  const bool mma_was = cuda::gemv_mma_enabled();
  const int64_t mma_lo = cuda::gemv_mma_min_rows(), mma_hi = cuda::gemv_mma_max_rows();
  cuda::set_gemv_mma_rows(1, cuda::kGemvMmaMaxRows);
  for (const GemvCase& g : projections) {
    const int64_t bytes = g.n * g.k * 2;
    const std::vector<OwnedTensor> ws = rotating_weights(g.n, g.k, 60);
    const int copies = static_cast<int>(ws.size());
    for (int64_t m : {1, 2, 4, 6, 8, 12, 16, 32}) {
      OwnedTensor a = device({m, g.k}, DType::kBF16), o = device({m, g.n}, g.out);
      fill_random(a.view(), 70);
      both_ways(g.name, m, bytes, copies, [&](int i) { BENCH_CHECK(ops::gemm(ctx, o, a, ws[i % copies])); });
    }
  }
  // The MLP's first half as the model calls it (ops::rms_norm_gemm_silu): the SIMT GEMV
  // with the norm fused (M <= 4) or cuBLASLt + silu_and_mul, against rms_norm + the
  // tensor-core GEMM with its SiLU epilogue.
  {
    const int64_t h = 4096, inter = 14336, bytes = 2 * inter * h * 2;
    const int copies = 3;
    std::vector<OwnedTensor> ws;
    for (int i = 0; i < copies; ++i) {
      ws.push_back(device({2 * inter, h}, DType::kBF16));
      fill_random(ws.back().view(), 80 + i);
    }
    OwnedTensor nw = device({h}, DType::kBF16);
    fill_random(nw.view(), 81);
    for (int64_t m : {1, 2, 4, 8, 16}) {
      OwnedTensor x = device({m, h}, DType::kBF16), normed = device({m, h}, DType::kBF16);
      OwnedTensor gu = device({m, 2 * inter}, DType::kBF16), act = device({m, inter}, DType::kBF16);
      fill_random(x.view(), 82);
      both_ways("norm+gate_up+silu", m, bytes, copies, [&](int i) {
        BENCH_CHECK(ops::rms_norm_gemm_silu(ctx, act, normed, gu, x, nw, 1e-5f, ws[i % copies]));
      });
    }
  }
  cuda::set_gemv_mma_enabled(mma_was);
  cuda::set_gemv_mma_rows(mma_lo, mma_hi);

  // ---- one Llama-3-8B decode layer's projections at M = 1 (attention left out): the
  // unfused sequence (add_rms_norm, gemm, silu_and_mul) vs the fused ops, with and
  // without programmatic dependent launch; 8 layers' weights rotate in one graph ----
  {
    const int64_t h = 4096, inter = 14336, qkv_n = 6144;
    const int layers = 8;
    struct Layer {
      OwnedTensor qkv, o, gate_up, down, n1, n2;
    };
    std::vector<Layer> ls;
    for (int i = 0; i < layers; ++i) {
      Layer l{device({qkv_n, h}, DType::kBF16), device({h, h}, DType::kBF16), device({2 * inter, h}, DType::kBF16),
              device({h, inter}, DType::kBF16), device({h}, DType::kBF16), device({h}, DType::kBF16)};
      fill_random(l.qkv.view(), 60 + i);
      fill_random(l.o.view(), 70 + i);
      fill_random(l.gate_up.view(), 80 + i);
      fill_random(l.down.view(), 90 + i);
      fill_random(l.n1.view(), 100 + i);
      fill_random(l.n2.view(), 110 + i);
      ls.push_back(std::move(l));
    }
    OwnedTensor residual = device({1, h}, DType::kBF16), hidden = device({1, h}, DType::kBF16),
                delta = device({1, h}, DType::kBF16), qkv = device({1, qkv_n}, DType::kBF16),
                attn = device({1, h}, DType::kBF16), gu = device({1, 2 * inter}, DType::kBF16),
                act = device({1, inter}, DType::kBF16);
    fill_random(residual.view(), 120);
    fill_random(delta.view(), 121);
    fill_random(attn.view(), 122);
    const double layer_bytes = 2.0 * (qkv_n * h + h * h + 2 * inter * h + h * inter);
    auto unfused = [&](int i) {
      const Layer& l = ls[static_cast<size_t>(i % layers)];
      BENCH_CHECK(ops::add_rms_norm(ctx, hidden, residual, delta, l.n1, 1e-5f));
      BENCH_CHECK(ops::gemm(ctx, qkv, hidden, l.qkv));
      BENCH_CHECK(ops::gemm(ctx, delta, attn, l.o));
      BENCH_CHECK(ops::add_rms_norm(ctx, hidden, residual, delta, l.n2, 1e-5f));
      BENCH_CHECK(ops::gemm(ctx, gu, hidden, l.gate_up));
      BENCH_CHECK(ops::silu_and_mul(ctx, act, gu));
      BENCH_CHECK(ops::gemm(ctx, delta, act, l.down));
    };
    auto fused = [&](int i) {
      const Layer& l = ls[static_cast<size_t>(i % layers)];
      BENCH_CHECK(ops::rms_norm_gemm(ctx, qkv, hidden, residual, l.n1, 1e-5f, l.qkv));
      BENCH_CHECK(ops::gemm_add(ctx, residual, attn, l.o));
      // The MLP through ops::rms_norm_mlp: two GEMV launches.
      BENCH_CHECK(ops::rms_norm_mlp(ctx, residual, act, hidden, gu, l.n2, 1e-5f, l.gate_up, l.down));
    };
    std::printf("\n%-34s %10s %9s %8s\n", "decode layer projections M=1", "us/layer", "GB/s", "of_read");
    // PDL on and off; with PDL, the kernels' shared-memory carveout left to the driver
    // or set to the maximum for all (kernels with different splits cannot share an SM).
    const bool pdl_was = cuda::pdl_enabled(), carve_was = cuda::max_shared_carveout_enabled();
    struct Mode {
      bool fused, bulk, pdl, carve;
    };
    for (const Mode& m : {Mode{false, false, false, false}, Mode{false, false, true, true}, Mode{true, false, false, false},
                          Mode{true, false, true, false}, Mode{true, false, true, true}, Mode{true, true, false, false},
                          Mode{true, true, true, false}, Mode{true, true, true, true}}) {
      cuda::set_gemv_bulk_enabled(m.bulk);
      cuda::set_pdl_enabled(m.pdl);
      cuda::set_max_shared_carveout_enabled(m.carve);
      const double ms = time_graph_ms(stream, reps, 4 * layers,
                                      m.fused ? std::function<void(int)>(fused) : std::function<void(int)>(unfused));
      const double gbs = layer_bytes / (ms * 1e-3) / 1e9;
      std::printf("%-34s %10.1f %9.0f %7.0f%%\n",
                  (std::string(m.fused ? "fused" : "unfused") + (m.bulk ? ", bulk" : ", ld") + (m.pdl ? ", PDL" : "") +
                   (m.carve ? ", max smem" : ""))
                      .c_str(),
                  ms * 1e3, gbs, 100.0 * gbs / read_bw);
    }
    cuda::set_pdl_enabled(pdl_was);
    cuda::set_max_shared_carveout_enabled(carve_was);
    cuda::set_gemv_bulk_enabled(bulk_was);

    // The same projections as ops::decode_layer_tail (o, MLP, the next layer's qkv with
    // RoPE + KV store): the ops one by one vs the persistent decode chain.
    const int64_t hq = 32, hk = 8, d = 128, max_pos = 16, slots_n = 8;
    OwnedTensor q_out = device({1, hq, d}, DType::kBF16), kc = device({slots_n, hk, d}, DType::kBF16),
                vc = device({slots_n, hk, d}, DType::kBF16), pos = i32({5}), slot = i32({3});
    OwnedTensor cs_host = OwnedTensor::host({max_pos, d}, DType::kF32);
    for (int64_t i = 0; i < max_pos * d; ++i) cs_host.data_as<float>()[i] = (i % d) < d / 2 ? 1.0f : 0.0f;
    OwnedTensor cs = device({max_pos, d}, DType::kF32);
    BENCH_CHECK(copy_tensor(cs.view(), cs_host.view()));
    // Layer i's tail: o, MLP, layer i + 1's qkv.
    auto tail_of = [&](int i) {
      const Layer& l = ls[static_cast<size_t>(i % layers)];
      const Layer& next = ls[static_cast<size_t>((i + 1) % layers)];
      ops::LayerTail t;
      t.eps = 1e-5f;
      t.attn_out = &attn.view();
      t.o_proj = &l.o.view();
      t.post_norm = &l.n2.view();
      t.w_gate_up = &l.gate_up.view();
      t.w_down = &l.down.view();
      t.act = &act.view();
      t.normed = &hidden.view();
      t.gate_up = &gu.view();
      t.input_norm = &next.n1.view();
      t.w_qkv = &next.qkv.view();
      t.q_out = &q_out.view();
      t.qkv = &qkv.view();
      t.positions = &pos.view();
      t.cos_sin = &cs.view();
      t.k_cache = &kc.view();
      t.v_cache = &vc.view();
      t.slots = &slot.view();
      return t;
    };
    auto tail = [&](int i) { BENCH_CHECK(ops::decode_layer_tail(ctx, residual, tail_of(i))); };
    const bool chain_was = cuda::decode_chain_enabled();
    for (bool chain : {false, true}) {
      cuda::set_decode_chain_enabled(chain);
      const double ms = time_graph_ms(stream, reps, 4 * layers, tail);
      const double gbs = layer_bytes / (ms * 1e-3) / 1e9;
      std::printf("%-34s %10.1f %9.0f %7.0f%%\n", chain ? "layer tail, decode chain" : "layer tail, ops one by one",
                  ms * 1e3, gbs, 100.0 * gbs / read_bw);
    }
    // Diagnostics: the chain without its phase boundaries (outputs wrong): no waits, then
    // neither waits nor fences and counts. Against the row above: what the boundaries
    // cost; against the read rate: how fast the chain streams its weights at all.
    cuda::set_decode_chain_enabled(true);
    constexpr int kNoSync = cuda::kSkipWaits | cuda::kSkipCounts;
    const std::pair<int, const char*> modes[] = {
        {cuda::kSkipWaits, "  chain, no waits"},
        {kNoSync, "  chain, no boundary"},
        {kNoSync | cuda::kSkipNorm, "  ... nor input norm"},
        {kNoSync | cuda::kSkipStaging, "  ... nor staging"},
        {kNoSync | cuda::kSkipStores, "  ... nor stores (staged)"},
        {kNoSync | cuda::kSkipStaging | cuda::kSkipStores, "  ... nor staging, stores"},
        {kNoSync | cuda::kSkipStaging | cuda::kSkipStores | cuda::kSkipBarriers, "  ... nor CTA barriers"},
        {kNoSync | cuda::kSkipStaging | cuda::kSkipStores | cuda::kSkipDots, "  ... nor staging, stores, dots"},
        {kNoSync | cuda::kSkipStaging | cuda::kSkipStores | cuda::kSkipBarriers | cuda::kSkipDots, "  ... nor barriers, dots"},
        {cuda::kSkipDots, "  chain, no dots (synced)"}};
    for (const auto& [mode, name] : modes) {
      cuda::set_decode_chain_unsynced(mode);
      const double ms = time_graph_ms(stream, reps, 4 * layers, tail);
      cuda::set_decode_chain_unsynced(0);
      const double gbs = layer_bytes / (ms * 1e-3) / 1e9;
      std::printf("%-34s %10.1f %9.0f %7.0f%% (diagnostic)\n", name, ms * 1e3, gbs, 100.0 * gbs / read_bw);
    }
    for (int mode : {kNoSync, kNoSync | cuda::kSkipStaging | cuda::kSkipStores | cuda::kSkipBarriers}) {
      std::printf("trace, diagnostic mode %d:\n", mode);
      cuda::set_decode_chain_unsynced(mode);
      chain_trace_report(stream, 4 * layers, tail);
      cuda::set_decode_chain_unsynced(0);
    }
    // Where a chain launch's time goes: its %globaltimer trace over one graph replay.
    chain_trace_report(stream, 4 * layers, tail);

    // The whole decode layer as a step runs it: the layer's attention over L cached
    // positions (its own kernels: split-KV decode + merge), then the chain. Against the
    // tail alone this shows what the attention, the merge and their launches add per
    // layer; the trace's gap to the next launch is that time.
    for (int len : {128, 1024, 4096}) {
      const KvCaches caches = random_kv_caches(layers, len, hk, d, 130, 140);
      std::vector<int32_t> idx(static_cast<size_t>(len));
      std::iota(idx.begin(), idx.end(), 0);
      OwnedTensor a_qo = i32({0, 1}), a_kvp = i32({0, len}), a_idx = i32(idx);
      AttentionParams ap;
      ap.qo_indptr = a_qo;
      ap.kv_indptr = a_kvp;
      ap.kv_indices = a_idx;
      ap.scale = 1.0f / std::sqrt(static_cast<float>(d));
      ap.max_q_len = 1;
      ap.max_kv_len = len;
      auto layer = [&](int i) {
        ops::LayerTail t = tail_of(i);
        t.attn = &ap;
        t.q = &q_out.view();
        t.attn_k_cache = &caches.k[static_cast<size_t>(i % layers)].view();
        t.attn_v_cache = &caches.v[static_cast<size_t>(i % layers)].view();
        BENCH_CHECK(ops::decode_layer_tail(ctx, residual, t));
      };
      const double ms = time_graph_ms(stream, reps, 4 * layers, layer);
      const double bytes = layer_bytes + 2.0 * len * hk * d * 2;
      const double gbs = bytes / (ms * 1e-3) / 1e9;
      std::printf("%-34s %10.1f %9.0f %7.0f%%\n", ("layer, attention over " + std::to_string(len) + " + chain").c_str(),
                  ms * 1e3, gbs, 100.0 * gbs / read_bw);
      chain_trace_report(stream, 4 * layers, layer);
    }
    cuda::set_decode_chain_enabled(chain_was);
  }

  bench_sampling(ctx, stream, reps);

  // ---- decode attention (Llama-3-8B: Hq 32, Hk 8, D 128), 32 calls per graph ----
  const int hq = 32, hk = 8, d = 128;
  std::printf("\n%-10s %6s %7s %7s %10s %9s %8s\n", "decode", "batch", "kv_len", "splits",
              "time_us", "GB/s", "of_copy");
  struct DecodeCase {
    int batch, kv;
  };
  std::vector<DecodeCase> decode_cases = {{1, 1024},  {1, 4096},   {1, 32768}, {8, 4096},
                                          {64, 1024}, {128, 1024}, {32, 4096}};
  for (auto [batch, kv] : decode_cases) {
    const int64_t ctx_tokens = static_cast<int64_t>(batch) * kv;
    // Enough layers' caches that one rotation exceeds L2 several times over.
    const int64_t layer_bytes = ctx_tokens * hk * d * 2 * 2;
    const int layers =
        static_cast<int>(std::clamp<int64_t>((int64_t{400} << 20) / layer_bytes, 1, 16));
    const KvCaches caches = random_kv_caches(layers, ctx_tokens, hk, d, 10, 100);
    const std::vector<OwnedTensor>& kc = caches.k;
    const std::vector<OwnedTensor>& vc = caches.v;
    std::vector<int32_t> qo(batch + 1), kvp(batch + 1), idx(ctx_tokens);
    for (int b = 0; b <= batch; ++b) {
      qo[b] = b;
      kvp[b] = b * kv;
    }
    std::iota(idx.begin(), idx.end(), 0);  // contiguous slots per sequence, as after a prefill
    OwnedTensor d_qo = i32(qo), d_kvp = i32(kvp), d_idx = i32(idx);
    OwnedTensor q = device({batch, hq, d}, DType::kBF16),
                out = device({batch, hq, d}, DType::kBF16);
    fill_random(q.view(), 7);
    AttentionParams p;
    p.qo_indptr = d_qo;
    p.kv_indptr = d_kvp;
    p.kv_indices = d_idx;
    p.scale = 1.0f / std::sqrt(128.0f);
    p.max_q_len = 1;
    p.max_kv_len = kv;
    // Both decode kernels: tensor cores (the default) and SIMT (RADIX_DECODE_ATTN=simt).
    const bool mma_default = cuda::decode_mma_enabled();
    for (const bool mma : {true, false}) {
      cuda::set_decode_mma_enabled(mma);
      const double ms = time_graph_ms(stream, reps, 32, [&](int i) {
        BENCH_CHECK(ops::attention(ctx, out, q, kc[i % layers], vc[i % layers], p));
      });
      const double bytes = static_cast<double>(layer_bytes) + ctx_tokens * 4.0;  // K, V, indices
      const double gbs = bytes / (ms * 1e-3) / 1e9;
      cuda::DecodeSplitInputs in{batch,
                                 batch,
                                 hq,
                                 cuda::decode_cta_heads(hq, hk, d),
                                 d,
                                 kv,
                                 backend->num_sms(),
                                 backend->attention_workspace_bytes(),
                                 cuda::decode_split_min_positions()};
      std::printf("%-10s %6d %7d %7d %10.1f %9.0f %7.0f%%\n", mma ? "8b-mma" : "8b-simt", batch, kv,
                  cuda::decode_num_splits(in), ms * 1e3, gbs, 100.0 * gbs / bw);
    }
    cuda::set_decode_mma_enabled(mma_default);
  }

  // ---- prefill attention, one sequence, causal ----
  std::printf("\n%-10s %7s %10s %9s %10s\n", "prefill", "q_len", "time_ms", "TFLOP/s", "of_gemm");
  for (int len : quick ? std::vector<int>{4096} : std::vector<int>{4096, 16384}) {
    OwnedTensor kc = device({len, hk, d}, DType::kBF16), vc = device({len, hk, d}, DType::kBF16);
    fill_random(kc.view(), 20);
    fill_random(vc.view(), 21);
    std::vector<int32_t> idx(len);
    std::iota(idx.begin(), idx.end(), 0);
    OwnedTensor d_qo = i32({0, len}), d_kvp = i32({0, len}), d_idx = i32(idx);
    OwnedTensor q = device({len, hq, d}, DType::kBF16), out = device({len, hq, d}, DType::kBF16);
    fill_random(q.view(), 22);
    AttentionParams p;
    p.qo_indptr = d_qo;
    p.kv_indptr = d_kvp;
    p.kv_indices = d_idx;
    p.scale = 1.0f / std::sqrt(128.0f);
    p.max_q_len = len;
    p.max_kv_len = len;
    const double ms = time_ms(stream, quick ? 5 : 10,
                              [&](int) { BENCH_CHECK(ops::attention(ctx, out, q, kc, vc, p)); });
    // Causal: len*(len+1)/2 (q, k) pairs, 2 matmuls of 2*D flops each per pair and head.
    const double flops = 4.0 * d * hq * (static_cast<double>(len) * (len + 1) / 2);
    const double tf = flops / (ms * 1e-3) / 1e12;
    std::printf("%-10s %7d %10.3f %9.1f %9.0f%%\n", "llama3-8b", len, ms, tf,
                100.0 * tf / gemm_tflops);
  }

  // ---- memory-bound elementwise ops at a 4096-token prefill ----
  {
    const int64_t t = 4096, h = 4096, inter = 14336;
    OwnedTensor x = device({t, h}, DType::kBF16), res = device({t, h}, DType::kBF16),
                w = device({h}, DType::kBF16);
    OwnedTensor o = device({t, h}, DType::kBF16);
    fill_random(x.view(), 30);
    fill_random(res.view(), 31);
    fill_random(w.view(), 32);
    double ms = time_ms(stream, reps,
                        [&](int) { BENCH_CHECK(ops::add_rms_norm(ctx, o, res, x, w, 1e-5f)); });
    std::printf("\nadd_rms_norm 4096x4096: %.1f us = %.0f GB/s\n", ms * 1e3,
                4.0 * t * h * 2 / (ms * 1e-3) / 1e9);
    OwnedTensor gu = device({t, 2 * inter}, DType::kBF16), act = device({t, inter}, DType::kBF16);
    fill_random(gu.view(), 33);
    ms = time_ms(stream, reps, [&](int) { BENCH_CHECK(ops::silu_and_mul(ctx, act, gu)); });
    std::printf("silu_and_mul 4096x14336: %.1f us = %.0f GB/s\n", ms * 1e3,
                3.0 * t * inter * 2 / (ms * 1e-3) / 1e9);
  }

  // ---- shared-prefix decode (Llama-3-8B heads): 64 groups x 16 members sharing a
  // 2048-token prefix, own suffixes of 128..384; members contiguous in the batch (plain
  // decode may then find a group's prefix in L2) or interleaved (b % 64). Plain decode
  // attention over the full contexts vs attention_shared_prefix. "needed" = K + V of
  // every distinct position (each prefix once) + its slot index: the least either must
  // read; needed_GB/s = needed / time. One layer's KV is ~1.6 GB. ----
  {
    const int groups = 64, members = 16, prefix_len = 2048, batch = groups * members;
    std::vector<int32_t> prefix_indptr{0}, prefix_idx, own_len(batch);
    int32_t next_slot = 0;
    for (int g = 0; g < groups; ++g) {
      for (int i = 0; i < prefix_len; ++i) prefix_idx.push_back(next_slot++);
      prefix_indptr.push_back(static_cast<int32_t>(prefix_idx.size()));
    }
    uint32_t lcg = 777;
    int max_own = 0;
    for (int32_t& len : own_len) {
      lcg = lcg * 1664525u + 1013904223u;
      len = 128 + static_cast<int32_t>((lcg >> 8) % 257);
      max_own = std::max(max_own, static_cast<int>(len));
    }
    const int64_t slots = next_slot + std::accumulate(own_len.begin(), own_len.end(), int64_t{0});
    OwnedTensor kc = device({slots, hk, d}, DType::kBF16),
                vc = device({slots, hk, d}, DType::kBF16);
    fill_random(kc.view(), 200);
    fill_random(vc.view(), 201);
    OwnedTensor q = device({batch, hq, d}, DType::kBF16),
                out = device({batch, hq, d}, DType::kBF16);
    fill_random(q.view(), 202);
    OwnedTensor d_prefix_indptr = i32(prefix_indptr), d_prefix_idx = i32(prefix_idx);
    std::vector<int32_t> qo(batch + 1);
    std::iota(qo.begin(), qo.end(), 0);
    OwnedTensor d_qo = i32(qo);
    const double per_pos = hk * d * 2.0 * 2.0 + 4.0;  // K + V bf16 + slot index
    const double needed = static_cast<double>(slots) * per_pos;

    cuda::SharedPrefixPlanInputs in;
    in.batch = in.tokens = batch;
    in.num_q_heads = hq;
    in.num_kv_heads = hk;
    in.head_dim = d;
    in.num_groups = groups;
    in.max_prefix_len = prefix_len;
    in.max_group_size = members;
    in.max_suffix_len = max_own;
    in.num_sms = backend->num_sms();
    in.workspace_bytes = backend->attention_workspace_bytes();
    auto plan = cuda::plan_shared_prefix(in);
    BENCH_CHECK(plan.status());
    std::printf(
        "\nshared prefix: 64 groups x 16 members, prefix 2048, own 128..384; plan P %d, S %d, row "
        "blocks %d\n",
        plan->prefix_splits, plan->suffix_splits, plan->row_blocks);
    std::printf("%-12s %-34s %10s %12s %9s %8s\n", "members", "kernel", "time_us", "needed_GB/s",
                "read_GB", "of_read");
    for (bool interleaved : {false, true}) {
      std::vector<int32_t> group_of(batch), own_indptr{0}, own_idx, full_indptr{0}, full_idx;
      int32_t slot = next_slot;
      for (int b = 0; b < batch; ++b) {
        const int g = interleaved ? b % groups : b / members;
        group_of[b] = g;
        full_idx.insert(full_idx.end(), prefix_idx.begin() + prefix_indptr[g],
                        prefix_idx.begin() + prefix_indptr[g + 1]);
        for (int i = 0; i < own_len[b]; ++i) {
          own_idx.push_back(slot);
          full_idx.push_back(slot++);
        }
        own_indptr.push_back(static_cast<int32_t>(own_idx.size()));
        full_indptr.push_back(static_cast<int32_t>(full_idx.size()));
      }
      OwnedTensor d_full_indptr = i32(full_indptr), d_full_idx = i32(full_idx);
      OwnedTensor d_own_indptr = i32(own_indptr), d_own_idx = i32(own_idx), d_group = i32(group_of);
      AttentionParams full;
      full.qo_indptr = d_qo;
      full.kv_indptr = d_full_indptr;
      full.kv_indices = d_full_idx;
      full.scale = 1.0f / std::sqrt(128.0f);
      full.max_q_len = 1;
      full.max_kv_len = prefix_len + max_own;
      AttentionParams own = full;
      own.kv_indptr = d_own_indptr;
      own.kv_indices = d_own_idx;
      own.max_kv_len = max_own;
      SharedPrefix sp;
      sp.group_of_seq = d_group;
      sp.prefix_indptr = d_prefix_indptr;
      sp.prefix_indices = d_prefix_idx;
      sp.num_groups = groups;
      sp.max_prefix_len = prefix_len;
      sp.max_group_size = members;
      const double plain_read = static_cast<double>(full_idx.size()) * per_pos;
      const double plain_ms = time_graph_ms(
          stream, reps, 4, [&](int) { BENCH_CHECK(ops::attention(ctx, out, q, kc, vc, full)); });
      const double shared_ms = time_graph_ms(stream, reps, 4, [&](int) {
        BENCH_CHECK(ops::attention_shared_prefix(ctx, out, q, kc, vc, own, sp));
      });
      const char* order = interleaved ? "interleaved" : "contiguous";
      std::printf("%-12s %-34s %10.1f %12.0f %9.2f %7.0f%%\n", order,
                  "attention over full contexts", plain_ms * 1e3, needed / (plain_ms * 1e-3) / 1e9,
                  plain_read / 1e9, 100.0 * plain_read / (plain_ms * 1e-3) / 1e9 / read_bw);
      std::printf("%-12s %-34s %10.1f %12.0f %9.2f %7.0f%%\n", order, "attention_shared_prefix",
                  shared_ms * 1e3, needed / (shared_ms * 1e-3) / 1e9, needed / 1e9,
                  100.0 * needed / (shared_ms * 1e-3) / 1e9 / read_bw);
    }
  }
  return 0;
}

}  // namespace
}  // namespace radix

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const bool sampling_only = argc > 1 && std::strcmp(argv[1], "--sampling") == 0;
  if (!radix::cuda_available()) {
    std::printf("bench_kernels_gpu: no CUDA device\n");
    return 0;
  }
  const bool sync_probe_only = argc > 1 && std::strcmp(argv[1], "--sync-probe") == 0;
  return radix::run(quick, sampling_only, sync_probe_only);
}
