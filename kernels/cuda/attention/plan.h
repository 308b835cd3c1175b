// Host-side planning for split-KV decode attention: how many splits of each
// sequence's context to launch. Derived only from host-known values (batch size,
// heads, the step's max_kv_len, SM count, workspace size), never from device data,
// so a decode step's launches are identical on every replay of a captured graph
// that was captured with the same inputs.
#pragma once

#include <cstddef>
#include <cstdint>

namespace radix::cuda {

struct DecodeSplitInputs {
  int batch = 0;        // B
  int tokens = 0;       // T (rows of q)
  int num_q_heads = 0;  // Hq
  int cta_heads = 0;    // CTAs per sequence before splitting (Hk x query-head blocks)
  int head_dim = 0;     // D
  int max_kv_len = 0;   // longest context in the step
  int num_sms = 132;
  size_t workspace_bytes = 0;  // room for partial outputs + log-sum-exps
};

// Splits so that B x cta_heads x splits fills at most one wave of two CTAs per SM, each split
// keeps at least kMinPositionsPerSplit positions, at most kMaxSplits, and the f32
// partials [splits, T, Hq, D + 1] fit the workspace. Always >= 1.
int decode_num_splits(const DecodeSplitInputs& in);

constexpr int kMinPositionsPerSplit = 64;
constexpr int kMaxSplits = 64;

}  // namespace radix::cuda
