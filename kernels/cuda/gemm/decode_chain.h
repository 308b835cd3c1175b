// The GEMVs between two decode attentions in one persistent kernel (decode_chain.cu):
// at one or two tokens, the o projection + residual add, the MLP (norm, gate/up, SiLU,
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
#include "kernels/ops.h"

namespace radix::cuda {

// One phase. kind: the epilogue of gemv.cu's GEMV with the same name.
struct ChainPhase {
  enum Kind { kAccumulate, kSiluMul, kRopeStore } kind = kAccumulate;
  const Tensor* a = nullptr;       // [M, K] input (the residual for the normed phases)
  const Tensor* w = nullptr;       // [N, K]; kSiluMul [2N, K] = [gate; up]; kRopeStore the fused qkv
  const Tensor* norm_weight = nullptr;  // a is RMSNorm-ed first (kSiluMul, kRopeStore), rounded to bf16
  const Tensor* out = nullptr;     // kAccumulate: [M, N] (+=); kSiluMul: [M, N]
  const Tensor* bias = nullptr;    // kRopeStore only, or nullptr
  const GemvRope* rope = nullptr;  // kRopeStore
};

constexpr int kChainMaxPhases = 4;
constexpr int kChainCounters = kChainMaxPhases;  // one per phase
constexpr int kChainMaxRows = 2;

// Batch rows (tokens) the chain takes: up to kChainMaxRows (2; measured on H200 at batch
// 2: 4.50 vs 4.74 ms per step; at 4 rows it lost, docs/perf.md 2026-11-30 session 8);
// RADIX_DECODE_CHAIN_MAX_ROWS=1 or the setter keeps it to one token.
int decode_chain_max_rows();
void set_decode_chain_max_rows(int rows);

// Whether the chain kernel takes these phases (1..kChainMaxPhases): M rows (at most
// decode_chain_max_rows()), bf16, K % 8, 16-byte aligned, the shared memory holds each
// input row; kill switch RADIX_DECODE_CHAIN=0 (or the setter).
bool decode_chain_enabled();
void set_decode_chain_enabled(bool on);
// The decode attention is no phase: it runs as its own op before the chain (as the
// chain's first step it lost, and so did its split merge alone: decode_chain.cu).
bool decode_chain_applies(const ChainPhase* phases, int n);

// The weight copies carry an L2 evict-first policy (on by default; off with
// RADIX_DECODE_CHAIN_EVICT_FIRST=0 or the setter): weights are read once per step, and the
// L2 keeps the activations, the KV cache and the counters instead. Measured on one H200,
// batch 1 (docs/perf.md session 12): 4.27 vs 4.28 ms per step at 128 in, 4.30 vs 4.34 at
// 1K, 4.67 vs 4.68 at batch 2 — small, the same sign in all three. A separate kernel
// instantiation (the plain copies stay for the switch).
bool decode_chain_evict_first();
void set_decode_chain_evict_first(bool on);

// Diagnostics (bench_kernels_gpu): when a device buffer is set, every launch records
// kChainTraceSlots %globaltimer stamps (ns) per CTA into the next block of
// [launches][num_sms][kChainTraceSlots], wrapping; nullptr / 0 stops it. Slot 0: start,
// 1: end; for phase p, 2 + 4p: before its wait, 3 + 4p: input staged, 4 + 4p: dot
// products done, 5 + 4p: outputs stored and counted; slot kChainTraceSmSlot: the SM the
// CTA ran on. A graph captured while it is set keeps writing there. One
// thread sets it while no launch is being issued. Thread 0 takes the stamps; the timer
// read after a barrier may be scheduled before it (session 13's boundary-warp trace,
// stamped by a warp with no dots, showed its "dots done" stamp right after "staged"), so
// slots 4 + 4p may mark thread 0's own warp's end of the dots, not the CTA's.
constexpr int kChainTraceSmSlot = 2 + 4 * kChainMaxPhases;
// Then, per phase p and warp w (kChainTraceWarps per CTA), slot chain_trace_warp_slot(p,
// w): when warp w finished its share's dot products (before the CTA's barrier; lane 0's
// %globaltimer).
constexpr int kChainTraceWarps = 16;
constexpr int chain_trace_warp_slot(int p, int w) { return kChainTraceSmSlot + 1 + p * kChainTraceWarps + w; }
constexpr int kChainTraceSlots = chain_trace_warp_slot(kChainMaxPhases, 0);
void set_decode_chain_trace(unsigned long long* buffer, int launches);

// Diagnostics (bench_kernels_gpu), for the time a launch would take without its phase
// boundaries; the outputs are WRONG. A mask of what is skipped: the waits for the
// previous phase's counter, the fences and counts, the input staging, the input norm (the
// loads stay), the output stores, the CTA's barriers (each warp then streams and
// multiplies its items of every phase without stopping), the dot products. 0 (the
// default): nothing. One thread sets it while no launch is being issued; a graph captured
// meanwhile keeps it.
enum : int {
  kSkipWaits = 1,
  kSkipCounts = 2,
  kSkipStaging = 4,
  kSkipNorm = 8,
  kSkipStores = 16,
  kSkipBarriers = 32,
  kSkipDots = 64,  // one row, the 6-item ring: the weights consumed without dot products
};
void set_decode_chain_unsynced(int mode);

// Launches the chain. `counters`: kChainCounters 64-bit device counters that no other
// launch uses meanwhile (CudaBackend::sync_counters()), zero at first. Each launch adds
// the grid size (the SM count) to the counter of every phase but its last, so between
// launches every counter is a whole multiple of it; a CTA takes the multiple below the
// value it reads at its start as the launch's base (the previous launch is complete:
// its successors waited for it). Nothing is counted after the last phase and nothing is
// reset: a launch ends when its CTAs do (measured against counting every phase and the
// last CTA zeroing the counters: 4.33 vs 4.34, 4.37 vs 4.40 ms per step at batch 1, 128
// and 1K in; docs/perf.md session 11). When the chain does not apply (or counters is null):
// *launched = false and OK, or without `launched` an invalid-argument error.
Status decode_chain(const ChainPhase* phases, int n, float eps, float norm_offset, void* stream,
                    unsigned long long* counters, bool* launched = nullptr);

}  // namespace radix::cuda
