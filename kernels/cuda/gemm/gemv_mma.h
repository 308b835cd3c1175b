// Small-batch GEMM on tensor cores for decode steps of 5..16 rows (gemv_mma.cu):
// out [M, N] = a [M, K] @ w [N, K]^T (+ bias), out += a @ w^T (gemm_add), or the
// SiLU-and-mul of a [gate; up] product (rms_norm_gemm_silu after its norm). The
// weight rows are the 16 rows of an mma.sync m16n8k16 A tile and the batch rows the 8
// (or 16) columns of B, so every weight byte is streamed once, with 16-byte loads that
// bypass L1, at any M up to 16 — where cuBLASLt's tiles and the SIMT GEMV (M <= 4,
// compute-bound beyond) leave bandwidth unused.
//
// Opt-in until measured on the GPU: RADIX_GEMV_MMA=1 in the environment at first use,
// or the setter (tests, benchmarks). cuda::gemm and cuda::gemm_add route M in
// [gemv_mma_min_rows(), kGemvMmaMaxRows] here when gemv_mma_applies.
#pragma once

#include "core/status.h"
#include "core/tensor.h"
#include "kernels/cuda/gemm/gemv.h"  // GemvRope, kGemvMinWeights

namespace radix::cuda {

constexpr int64_t kGemvMmaMinRows = 5;  // below: the SIMT GEMV (gemv.cu), unless lowered
constexpr int64_t kGemvMmaMaxRows = 16;

bool gemv_mma_enabled();
void set_gemv_mma_enabled(bool on);
// The fewest rows routed here (default kGemvMmaMinRows; benchmarks lower it to 1 to
// compare with the SIMT GEMV on plain and accumulating calls).
int64_t gemv_mma_min_rows();
void set_gemv_mma_min_rows(int64_t rows);

// Enabled, M in [gemv_mma_min_rows(), kGemvMmaMaxRows], bf16 a and w (16-byte aligned, K a
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
