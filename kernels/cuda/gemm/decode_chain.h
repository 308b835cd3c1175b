// The GEMVs between two decode attentions in one persistent kernel (decode_chain.cu):
// at one token (M = 1), the o projection + residual add, the MLP (norm, gate/up, SiLU,
// down + residual add) and the next layer's norm + qkv + RoPE + KV store run as phases
// of one launch. Every CTA streams its share of every phase's weights through a ring
// of cp.async copies in shared memory without stopping at phase boundaries: a phase
// waits (a completion counter in global memory) only before it reads the previous
// phase's output, while its first weights are already in flight.
// The model-facing op is ops::decode_layer_tail (kernels/ops.h).
#pragma once

#include "core/status.h"
#include "core/tensor.h"
#include "kernels/cuda/gemm/gemv.h"

namespace radix::cuda {

// One phase. kind: the epilogue of gemv.cu's GEMV with the same name.
struct ChainPhase {
  enum Kind { kAccumulate, kSiluMul, kRopeStore } kind = kAccumulate;
  const Tensor* a = nullptr;       // [1, K] input (the residual for the normed phases)
  const Tensor* w = nullptr;       // [N, K]; kSiluMul [2N, K] = [gate; up]; kRopeStore the fused qkv
  const Tensor* norm_weight = nullptr;  // a is RMSNorm-ed first (kSiluMul, kRopeStore), rounded to bf16
  const Tensor* out = nullptr;     // kAccumulate: [1, N] (+=); kSiluMul: [1, N]
  const Tensor* bias = nullptr;    // kRopeStore only, or nullptr
  const GemvRope* rope = nullptr;  // kRopeStore
};

constexpr int kChainMaxPhases = 4;

// Whether the chain kernel takes these phases (1..kChainMaxPhases): M = 1, bf16, K % 8,
// 16-byte aligned, the shared memory holds each input row; kill switch
// RADIX_DECODE_CHAIN=0 (or the setter).
bool decode_chain_enabled();
void set_decode_chain_enabled(bool on);
bool decode_chain_applies(const ChainPhase* phases, int n, float norm_offset);
Status decode_chain(const ChainPhase* phases, int n, float eps, float norm_offset, void* stream);

}  // namespace radix::cuda
