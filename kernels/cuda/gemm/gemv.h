// Small-batch GEMV for decode (gemv.cu): used by cuda::gemm instead of cuBLASLt when
// gemv_applies (M <= 4, bf16 inputs, K % 8 == 0, 16-byte aligned, a weight of at least
// kGemvMinWeights elements — below that the launch, not the bandwidth, dominates — and
// at most kGemvMaxWeights: wide weights (gate_up, lm_head) already fill the machine
// through cuBLASLt, measured 94% and 98% of the read ceiling against our 90% and 97%).
// Fused calls (GemvFusion: RMSNorm prologue, residual accumulate, SiLU-and-mul or
// RoPE + KV-store epilogue) apply at any weight size: they save whole kernels.
#pragma once

#include "core/status.h"
#include "core/tensor.h"

namespace radix::cuda {

constexpr int64_t kGemvMaxRows = 4;
constexpr int64_t kGemvMinWeights = int64_t{1} << 20;
constexpr int64_t kGemvMaxWeights = int64_t{64} << 20;

// The attention prologue as the epilogue (ops::rms_norm_gemm_rope_store): the GEMV's
// out is not written; q rows go, NeoX-rotated, to q_out [M, Hq, D], k rows (rotated)
// and v rows to k_cache / v_cache [S, Hk, D] at slots[m]. Full rotary dim only.
struct GemvRope {
  const Tensor* q_out = nullptr;
  const Tensor* positions = nullptr;  // i32 [M]
  const Tensor* cos_sin = nullptr;    // f32 [P, D]
  const Tensor* k_cache = nullptr;
  const Tensor* v_cache = nullptr;
  const Tensor* slots = nullptr;      // i32 [M]
};

struct GemvFusion {
  // a is replaced by rms_norm(a) * (norm_offset + norm_weight) (bf16 [K]) first.
  const Tensor* norm_weight = nullptr;
  float eps = 0.0f;
  float norm_offset = 0.0f;
  bool accumulate = false;  // out (bf16) += a @ w^T, one rounding; no bias
  bool silu_mul = false;    // w [2N, K] = [gate; up]: out [M, N] = silu(g) * u; no bias
  const GemvRope* rope = nullptr;
};

// Which GEMV kernel runs: the register-streaming one (default) or the bulk-copy one
// (RADIX_GEMV=bulk in the environment at first use; the setter is for benchmarks). On
// H200 they measured alike (docs/perf.md, session 4), the bulk one slower at batch 1.
bool gemv_bulk_enabled();
void set_gemv_bulk_enabled(bool on);

// Experiment (opt-in): how many MB of their first weight rows a GEMV launch's warps pull
// into L2 before waiting for the previous kernel (PDL), spread evenly over the warps, at
// least each warp's first batch of loads and at most its whole rows. 0 (default): the
// first batch only. Whole rows for every warp measured slower (5.20 vs 4.59 ms per
// batch-1 step, docs/perf.md session 6) — for gate_up that is ~100 MB, twice L2 — but
// with PDL off (the default), so the prefetch could not overlap the previous kernel at
// all. This asks whether a prefetch that fits in L2 pays, with RADIX_PDL=1.
// RADIX_GEMV_PREFETCH_MB at first use, or the setter.
int64_t gemv_prefetch_budget_mb();
void set_gemv_prefetch_budget_mb(int64_t mb);

// The decode MLP in one launch (gemv.cu, mlp_bulk_kernel; opt-in RADIX_FUSED_MLP=1
// until measured): residual [M, H] += w_down @ (silu(g) * u) with [g; u] = w_gate_up @
// rms_norm(residual) * (norm_offset + norm_weight); act [M, I] receives silu(g) * u.
// M <= 4, bf16, H and I multiples of 8, M * H * 2 bytes <= 48 KB. A grid-wide barrier
// between the two GEMVs needs every CTA resident: one per SM, on an otherwise idle GPU.
bool fused_mlp_enabled();
void set_fused_mlp_enabled(bool on);
bool fused_mlp_applies(const Tensor& residual, const Tensor& act, const Tensor& norm_weight, const Tensor& w_gate_up,
                       const Tensor& w_down);
Status fused_mlp(const Tensor& residual, const Tensor& act, const Tensor& norm_weight, float eps, float norm_offset,
                 const Tensor& w_gate_up, const Tensor& w_down, void* stream);

bool gemv_applies(const Tensor& out, const Tensor& a, const Tensor& w, const Tensor* bias,
                  const GemvFusion& fusion = {});
// out [M, N] (bf16 or f32) = a [M, K] @ w [N, K]^T (+ bias [N]), with `fusion` applied;
// stream is a cudaStream_t.
Status gemv(const Tensor& out, const Tensor& a, const Tensor& w, const Tensor* bias, void* stream,
            const GemvFusion& fusion = {});

}  // namespace radix::cuda
