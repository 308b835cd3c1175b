// Small-batch GEMM on tensor cores for decode steps of up to 16 rows (gemv_mma.cu):
// out [M, N] = a [M, K] @ w [N, K]^T (+ bias), out += a @ w^T (gemm_add), or the
// SiLU-and-mul of a [gate; up] product (rms_norm_gemm_silu after its norm). The
// weight rows are the 16 rows of an mma.sync m16n8k16 A tile and the batch rows the 8
// (or 16) columns of B, so every weight byte is streamed once, with 16-byte loads that
// bypass L1, at any M up to 16 — where cuBLASLt's tiles and the SIMT GEMV (M <= 4,
// compute-bound beyond) leave bandwidth unused.
//
// Where it runs: M in [gemv_mma_min_rows(), gemv_mma_max_rows()], by default 3..4 — on
// the H200 (docs/perf.md, session 6) it beats the SIMT GEMV there (batch-4 decode step
// 5.17 vs 6.09 ms) but not at 2, and cuBLASLt beats it at 8 and 16 (its 28672-row
// gate_up reaches 73-77 % of the read rate against cuBLASLt's 87-89 %). The range comes
// from RADIX_GEMV_MMA_MIN_ROWS / RADIX_GEMV_MMA_MAX_ROWS at first use or the setter;
// RADIX_GEMV_MMA=0 turns the kernel off. cuda::gemm, gemm_add and the fused projections
// route rows in the range here when gemv_mma_applies (gemm.cpp).
#pragma once

#include "core/status.h"
#include "core/tensor.h"
#include "kernels/cuda/gemm/gemv.h"  // GemvRope, kGemvMinWeights

namespace radix::cuda {

constexpr int64_t kGemvMmaMaxRows = 16;         // the kernel's limit (two B tiles)
constexpr int64_t kGemvMmaDefaultMinRows = 3;  // below: the SIMT GEMV (gemv.cu)
constexpr int64_t kGemvMmaDefaultMaxRows = 4;  // above: cuBLASLt

bool gemv_mma_enabled();
void set_gemv_mma_enabled(bool on);
int64_t gemv_mma_min_rows();
int64_t gemv_mma_max_rows();
// Clamped to 1 <= lo <= hi <= kGemvMmaMaxRows (tests and benchmarks widen it).
void set_gemv_mma_rows(int64_t lo, int64_t hi);

// Enabled, M in [gemv_mma_min_rows(), gemv_mma_max_rows()], bf16 a and w (16-byte aligned, K a
// multiple of 64), out bf16 (or f32 when storing), bias bf16 or none (none with
// accumulate or silu_mul), and a weight of at least kGemvMinWeights elements.
// silu_mul: w [2N, K] = [gate; up], out [M, N] = silu(g) * u (g, u rounded to bf16
// first, as the unfused gate_up buffer holds them).
bool gemv_mma_applies(const Tensor& out, const Tensor& a, const Tensor& w, const Tensor* bias, bool accumulate,
                      bool silu_mul = false);
Status gemv_mma(const Tensor& out, const Tensor& a, const Tensor& w, const Tensor* bias, void* stream,
                bool accumulate, bool silu_mul = false);

// The attention prologue's GEMM (after its RMSNorm): the qkv projection of a (normalized,
// bf16) with the RoPE + KV-store epilogue of gemv.h's GemvRope — NeoX pairs, full rotary
// dim, D / 2 a multiple of 8 — instead of a qkv buffer and rope_qkv_store.
bool gemv_mma_rope_applies(const Tensor& a, const Tensor& w, const Tensor* bias, const GemvRope& rope);
Status gemv_mma_rope(const Tensor& a, const Tensor& w, const Tensor* bias, const GemvRope& rope, void* stream);

}  // namespace radix::cuda
