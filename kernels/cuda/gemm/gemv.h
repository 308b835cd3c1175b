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

bool gemv_applies(const Tensor& out, const Tensor& a, const Tensor& w, const Tensor* bias,
                  const GemvFusion& fusion = {});
// out [M, N] (bf16 or f32) = a [M, K] @ w [N, K]^T (+ bias [N]), with `fusion` applied;
// stream is a cudaStream_t.
Status gemv(const Tensor& out, const Tensor& a, const Tensor& w, const Tensor* bias, void* stream,
            const GemvFusion& fusion = {});

}  // namespace radix::cuda
