// The CUDA backend of kernels/ops.h: each op with the same parameters plus a leading
// OpContext (stream = ctx.stream, cuBLASLt/workspace = ctx.cuda). The dispatcher
// (kernels/ops.cpp) has validated devices, shapes and dtypes; these launchers check
// what only they know (supported dtype combinations, head dims) and every CUDA call,
// and return Status. Index inputs that live on the device (token ids, slots,
// positions, kv indices) cannot be checked without a sync: kernels skip or zero
// out-of-range rows instead of faulting; the host that builds them owns their range.
#pragma once

#include "kernels/cuda/fused_ops.h"  // rope_qkv_store (kernels/cuda/rope/)
#include "kernels/ops.h"

namespace radix::cuda {

Status embedding(const OpContext& ctx, const Tensor& out, const Tensor& ids, const Tensor& table);
Status rms_norm(const OpContext& ctx, const Tensor& out, const Tensor& x, const Tensor& weight,
                float eps, float weight_offset);
Status add_rms_norm(const OpContext& ctx, const Tensor& out, const Tensor& residual,
                    const Tensor& x, const Tensor& weight, float eps, float weight_offset);
Status gemm(const OpContext& ctx, const Tensor& out, const Tensor& a, const Tensor& w,
            const Tensor* bias);
Status gemm_add(const OpContext& ctx, const Tensor& residual, const Tensor& a, const Tensor& w);
Status rms_norm_gemm(const OpContext& ctx, const Tensor& out, const Tensor& normed, const Tensor& x,
                     const Tensor& norm_weight, float eps, const Tensor& w, const Tensor* bias, float weight_offset);
Status rms_norm_gemm_silu(const OpContext& ctx, const Tensor& out, const Tensor& normed, const Tensor& gate_up,
                          const Tensor& x, const Tensor& norm_weight, float eps, const Tensor& w,
                          float weight_offset);
Status rms_norm_mlp(const OpContext& ctx, const Tensor& residual, const Tensor& act, const Tensor& normed,
                    const Tensor& gate_up, const Tensor& norm_weight, float eps, const Tensor& w_gate_up,
                    const Tensor& w_down, float weight_offset);
Status rms_norm_gemm_rope_store(const OpContext& ctx, const Tensor& q_out, const Tensor& normed, const Tensor& qkv,
                                const Tensor& x, const Tensor& norm_weight, float eps, const Tensor& w,
                                const Tensor* bias, const Tensor& positions, const Tensor& cos_sin, RopeStyle style,
                                const Tensor& k_cache, const Tensor& v_cache, const Tensor& slots,
                                float weight_offset);
// The persistent-kernel path of ops::decode_layer_tail (kernels/cuda/gemm/decode_chain.h);
// *taken = false when it does not apply (the dispatcher then runs the ops one by one),
// and always with t.attn set: the attention runs first as its own op.
Status decode_layer_tail(const OpContext& ctx, const Tensor& residual, const ops::LayerTail& t, bool* taken);
Status rope(const OpContext& ctx, const Tensor& q, const Tensor& k, const Tensor& positions,
            const Tensor& cos_sin, RopeStyle style);
Status store_kv(const OpContext& ctx, const Tensor& k_cache, const Tensor& v_cache, const Tensor& k,
                const Tensor& v, const Tensor& slots);
Status attention(const OpContext& ctx, const Tensor& out, const Tensor& q, const Tensor& k_cache,
                 const Tensor& v_cache, const AttentionParams& params);
Status silu_and_mul(const OpContext& ctx, const Tensor& out, const Tensor& x);
Status gelu_tanh_and_mul(const OpContext& ctx, const Tensor& out, const Tensor& x);
Status gather_rows(const OpContext& ctx, const Tensor& out, const Tensor& x, const Tensor& index);
Status apply_token_mask(const OpContext& ctx, const Tensor& logits, const Tensor& masks, const Tensor& index);
Status take_pending_tokens(const OpContext& ctx, const Tensor& ids, const Tensor& src, const Tensor& prev);
Status add(const OpContext& ctx, const Tensor& out, const Tensor& a, const Tensor& b);
Status argmax(const OpContext& ctx, const Tensor& out, const Tensor& logits);
Status sample(const OpContext& ctx, const Tensor& out, const Tensor& logits, const SamplingTensors& params);
// Whether ops::sample spreads each of up to 16 rows over a cluster of 8 CTAs (on unless
// RADIX_SAMPLE_CLUSTER=0; sampling/sample.cu).
bool sample_cluster_enabled();
void set_sample_cluster_enabled(bool on);
// Also 4 CTAs per row up to 33 rows and 2 up to 66 (on 132 SMs; on unless
// RADIX_SAMPLE_CLUSTER_WIDE=0); the width ops::sample takes for n rows.
bool sample_cluster_wide_enabled();
void set_sample_cluster_wide_enabled(bool on);
int sample_cluster_width(int64_t rows);

// Programmatic dependent launch of the kernels that support it (off unless RADIX_PDL=1);
// benchmarks switch it to compare.
bool pdl_enabled();
void set_pdl_enabled(bool on);
// PDL for the decode attention, its merge and the decode chain only (on unless
// RADIX_DECODE_PDL=0).
bool decode_pdl_enabled();
void set_decode_pdl_enabled(bool on);
// Whether PDL kernels ask for the largest shared-memory carveout (RADIX_CARVEOUT=1: yes).
bool max_shared_carveout_enabled();
void set_max_shared_carveout_enabled(bool on);

// Benchmark helper (not an op): reads all of x once; scratch is >= 16 KB of device memory.
Status read_probe(const OpContext& ctx, const Tensor& x, const Tensor& scratch);
// Diagnostics: the same read with the decode chain's shape (one 512-thread CTA per SM,
// 2 KB items of 4 16-byte vectors per lane, `depth` items (5 or 8) loaded per lane before
// any is used) in one of three orders. kFront: warp g of all takes items g, g + warps, ...
// (the whole GPU on one front of adjacent items); kWarpBlocks: each warp a contiguous
// range (the chain's order); kCtaBlocks: each CTA a contiguous range, its warps taking
// its items in turn. kRingAsync / kRingAsyncEvictFirst: a range per warp through a ring
// of 6 items per lane in shared memory, 5 copies (cp.async; the second with the chain's
// L2 evict-first policy) in flight, as the decode chain streams (depth ignored).
// kRowGroups: a range per warp whose 2 KB items are 8 rows x 256 bytes of a [*, 4096]
// bf16 matrix (lane l: row l / 4), walking a group's columns before the next group: the
// item shape an m16n8k16 dot product would stream (x must be whole 64 KB groups).
enum class ReadPattern { kFront, kWarpBlocks, kCtaBlocks, kRingAsync, kRingAsyncEvictFirst, kRowGroups };
Status read_probe_pattern(const OpContext& ctx, const Tensor& x, const Tensor& scratch, ReadPattern pattern,
                          int depth);

// Diagnostics (common/sync_probe.cu): a layer's weight stream (2 KB items through the
// decode chain's 6-slot cp.async ring, one 512-thread CTA per SM, xor instead of dots)
// with the syncs a program names between its phases, so that sync structures can be
// compared on the same stream. Steps:
// - kStream: a phase of `in` items. A dataflow phase publishes its output in `publish`
//   chunks (chunk j after the j-th publish-th of each warp's items) and awaits `await`
//   chunks of the step before it (warp w stages chunk w once counted; each warp waits
//   for chunk j before the j-th await-th of its items); `flow` says how chunks count.
// - kGrid: each CTA stores `out` words, fences, counts; waits for the whole grid;
//   stages `in` words through L2. kGroup: the same among `group` consecutive CTAs.
// - kStore: the stores only (the next launch reads them); kGlobalStage: stages `in`
//   words through L2, no wait.
// - kCluster: exports `out` words to its shared memory, cluster barrier, gathers `in`
//   words from its peers' exports.
// - kLoads: `in` bytes of the CTA's own part of kv through L2; with publish = 1 the CTA
//   then counts its peer counter (Flow::kPeers).
// - kSleep: the CTA idles `in` ns.
// Counters: zeroed by the caller before a configuration's first launch; epoch =
// launches since then. Every wait gives up after 20 ms and sets out[grid].
constexpr int kSyncProbeMaxSteps = 16;
struct SyncProbeStep {
  enum Kind { kStream, kGrid, kStore, kGlobalStage, kCluster, kLoads, kGroup, kSleep } kind = kStream;
  int out = 0;
  int64_t in = 0;
  int publish = 0, await = 0;  // kStream: dataflow chunks (publish <= 16, await <= 64)
  // How a dataflow chunk is counted: by every warp (fenced); by every warp without the
  // fence, or without the count (diagnostics; nothing may await the latter); once per CTA by
  // its last warp; or once per CTA on its own counter, a chunk then being a peer CTA of
  // the group (its own first, 128 words each; at most 128 CTAs).
  enum Flow { kPerWarp, kPerWarpNoFence, kPerWarpNoCount, kPerCta, kPeers } flow = kPerWarp;
};
struct SyncProbe {
  SyncProbeStep steps[kSyncProbeMaxSteps];
  int num_steps = 0;
  int cluster = 1, grid = 132, group = 16;
  int chunk_stride = 1;  // u64s between a dataflow phase's chunk counters
  unsigned poll_ns = 32;  // counter polls: sleep between reads
  int layers = 1;       // program repetitions in one launch
  int first_layer = 0;  // weights: layer slots of the program's items, taken in turn
  unsigned long long epoch = 0;
  Tensor weights, kv, xbuf, counters, out;
  Tensor prefix;  // optional f64 [grid + 1]: CTA c streams [prefix[c], prefix[c + 1]) of every phase
  Tensor trace;   // optional u64 [2 grid]: each CTA's start and end (globaltimer ns)
};
// max_clusters (optional): clusters of this size that can be resident at once; a grid
// that does not fit is refused.
Status sync_probe(const OpContext& ctx, const SyncProbe& probe, int* max_clusters);

// sampling/penalties.cu and sampling/logprobs.cu.
Status apply_penalties(const OpContext& ctx, const Tensor& logits,
                       const ops::PenaltyTensors& params);
Status logprobs(const OpContext& ctx, const Tensor& logprob, const Tensor& top_ids,
                const Tensor& top_logprobs, const Tensor& logits, const Tensor& tokens);

// attention/shared_prefix.cu.
Status attention_shared_prefix(const OpContext& ctx, const Tensor& out, const Tensor& q,
                               const Tensor& k_cache, const Tensor& v_cache,
                               const AttentionParams& suffix, const SharedPrefix& prefix);

}  // namespace radix::cuda
