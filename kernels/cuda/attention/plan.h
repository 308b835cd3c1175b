// Host-side planning for split-KV decode attention: how many splits of each
// sequence's context to launch. Derived only from host-known values (batch size,
// heads, the step's max_kv_len, SM count, workspace size), never from device data,
// so a decode step's launches are identical on every replay of a captured graph
// that was captured with the same inputs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/status.h"

namespace radix::cuda {

constexpr int kMinPositionsPerSplit = 64;

struct DecodeSplitInputs {
  int batch = 0;        // B
  int tokens = 0;       // T (rows of q)
  int num_q_heads = 0;  // Hq
  int cta_heads = 0;    // CTAs per sequence before splitting (Hk x query-head blocks)
  int head_dim = 0;     // D
  int max_kv_len = 0;   // longest context in the step
  int num_sms = 132;
  size_t workspace_bytes = 0;  // room for partial outputs + log-sum-exps
  // Positions a split keeps at least; below kMinPositionsPerSplit counts as that. The
  // attention op takes RADIX_DECODE_SPLIT_MIN_POSITIONS (read once; default 64): fewer,
  // longer splits trade the attention kernel's time for the merge's.
  int min_positions = kMinPositionsPerSplit;
};

// Splits so that B x cta_heads x splits fills at most one wave of two CTAs per SM, each split
// keeps at least min_positions positions, at most kMaxSplits, and the f32 partials
// [splits, T, Hq, D + 1] fit the workspace. Always >= 1.
int decode_num_splits(const DecodeSplitInputs& in);

// RADIX_DECODE_SPLIT_MIN_POSITIONS (64 to 1 << 20; default and below: 64).
int decode_split_min_positions();

// Decode attention's kernel choice: the tensor-core kernel (decode_mma.cuh) serves
// head dims that are multiples of 16 up to 128 with GQA groups up to 16, unless
// RADIX_DECODE_ATTN=simt is in the environment at first use (or the setter turned it
// off: benchmarks and tests compare both); otherwise the SIMT decode_kernel.
bool decode_mma_enabled();
void set_decode_mma_enabled(bool on);
// The split merge's loads in flight per thread: 16 splits (default) or, with
// RADIX_DECODE_MERGE_BATCH=4 at first use (or the setter), the first version's 4.
int decode_merge_batch();
void set_decode_merge_batch(int splits);  // 4 or 16
// CTAs per sequence (before splitting) of the decode kernel that launch_decode picks.
int decode_cta_heads(int num_q_heads, int num_kv_heads, int head_dim);
constexpr int kMaxSplits = 64;

// ---- shared-prefix decode (ops::attention_shared_prefix) ----

// (member, query head) rows of one group that one prefix-pass CTA covers, and the
// fewest prefix positions a prefix split keeps (each split writes a D-float partial
// per row, so short splits cost more in partials than they save in parallelism).
constexpr int kPrefixRowsPerCta = 64;
constexpr int kMinPrefixPerSplit = 256;

struct SharedPrefixPlanInputs {
  int batch = 0;         // B
  int tokens = 0;        // T
  int num_q_heads = 0;   // Hq
  int num_kv_heads = 0;  // Hk
  int head_dim = 0;      // D
  int num_groups = 0;    // G
  int max_prefix_len = 0;
  int max_group_size = 0;
  int max_suffix_len = 0;  // AttentionParams::max_kv_len of the suffix
  int num_sms = 132;
  size_t workspace_bytes = 0;
};

struct SharedPrefixPlan {
  int row_blocks = 1;     // prefix-pass CTAs per (group, KV head, split)
  int prefix_splits = 0;  // P; 0 when there are no groups
  int suffix_splits = 1;  // S
};

// From host-known values only (graph-capturable). The prefix pass gets whole waves
// of two CTAs per SM (G x Hk x row_blocks x P), splits of >= kMinPrefixPerSplit
// positions, at most kMaxSplits; the suffix gets decode_num_splits' choice in the
// workspace that is left. The partials [P + S, T, Hq, D + 1] f32 must fit the
// workspace: ResourceExhausted when not even P = 1 (with groups) and S = 1 do.
Result<SharedPrefixPlan> plan_shared_prefix(const SharedPrefixPlanInputs& in);

}  // namespace radix::cuda
