// ops::apply_penalties on the CPU (the oracle of the CUDA kernel) against the host
// sampler itself: for random requests (repeated prompt and output ids, ids outside the
// vocabulary, eos ids that are also stop ids, pending and finished min_new_tokens) the
// sparse entries of SamplerState::append_penalty_entries through the op must give the
// very bits SamplerState::apply_penalties gives, on odd vocabularies with negative, zero,
// NaN and infinite logits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/ops.h"
#include "runtime/sampler.h"
#include "tests/kernels/cpu/test_rng.h"

namespace radix {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

float sanitized(float x) {
  return std::isnan(x) ? -kInf : x;
}

struct Batch {
  std::vector<float> repetition, frequency, presence;
  std::vector<int32_t> indptr = {0};
  PenaltyEntries entries;
  void add(const SamplerState& s, int32_t vocab) {
    repetition.push_back(s.params().repetition_penalty);
    frequency.push_back(s.params().frequency_penalty);
    presence.push_back(s.params().presence_penalty);
    s.append_penalty_entries(vocab, &entries);
    indptr.push_back(static_cast<int32_t>(entries.size()));
  }
  ops::PenaltyTensors tensors() {
    const auto n = static_cast<int64_t>(repetition.size());
    const auto e = static_cast<int64_t>(entries.size());
    return {Tensor(indptr.data(), DType::kI32, {n + 1}),
            Tensor(entries.ids.data(), DType::kI32, {e}),
            Tensor(entries.counts.data(), DType::kI32, {e}),
            Tensor(entries.flags.data(), DType::kI32, {e}),
            Tensor(repetition.data(), DType::kF32, {n}),
            Tensor(frequency.data(), DType::kF32, {n}),
            Tensor(presence.data(), DType::kF32, {n})};
  }
};

TEST(PenaltiesOp, MatchesTheHostSamplerBitForBitOnRandomRequests) {
  testing::TestRng rng;
  auto uni = [&](float lo, float hi) { return rng.uniform(lo, hi); };
  auto pick = [&](int lo, int hi) { return rng.pick(lo, hi); };
  const float reps[] = {1.0f, 1.3f, 0.7f, 2.0f, 1.1f};
  const float freqs[] = {0.0f, 0.5f, -1.5f, 2.0f};
  const float pres[] = {0.0f, 0.3f, -2.0f};
  int penalized_rows = 0, changed = 0;
  for (int32_t vocab : {1, 7, 1001, 32003}) {
    const int n = 24;
    std::vector<float> logits(static_cast<size_t>(n) * vocab);
    for (float& x : logits) {
      const int kind = pick(0, 40);
      x = kind == 0   ? std::nanf("")
          : kind == 1 ? -kInf
          : kind == 2 ? kInf
          : kind == 3 ? 0.0f
                      : uni(-6, 6);
    }
    std::vector<float> expected = logits;
    Batch batch;
    for (int r = 0; r < n; ++r) {
      SamplingParams p;
      p.repetition_penalty = reps[pick(0, 4)];
      p.frequency_penalty = freqs[pick(0, 3)];
      p.presence_penalty = pres[pick(0, 2)];
      p.min_new_tokens = pick(0, 6);
      p.max_new_tokens = 64;
      // Small id ranges: prompt and output repeat ids; a few land outside the vocabulary.
      const int span = std::min(vocab + 3, 60);
      for (int s = pick(0, 2); s > 0; --s) p.stop_token_ids.push_back(pick(0, span));
      std::vector<int32_t> prompt(static_cast<size_t>(pick(0, 40)));
      for (auto& t : prompt) t = pick(0, span);
      std::vector<int32_t> eos = {pick(0, span), pick(0, span)};
      if (!p.stop_token_ids.empty()) eos.push_back(p.stop_token_ids[0]);  // eos and stop overlap
      SamplerState state(p, 1, prompt, eos);
      for (int g = pick(0, 8); g > 0; --g) state.on_token(pick(0, span));
      std::span<float> row(expected.data() + static_cast<size_t>(r) * vocab,
                           static_cast<size_t>(vocab));
      for (float& x : row) x = sanitized(x);  // the host sampler sanitizes first
      state.apply_penalties(row);
      const size_t before = batch.entries.size();
      batch.add(state, vocab);
      if (!state.has_penalties()) {
        EXPECT_EQ(batch.entries.size(), before) << "row " << r;
      }
      penalized_rows += batch.entries.size() > before;
    }
    std::vector<float> got = logits;
    const Status st = ops::apply_penalties(OpContext{}, Tensor(got.data(), DType::kF32, {n, vocab}),
                                           batch.tensors());
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    for (size_t i = 0; i < got.size(); ++i) {
      const float g = sanitized(got[i]);
      ASSERT_EQ(std::memcmp(&g, &expected[i], sizeof(float)), 0)
          << "V " << vocab << " row " << i / vocab << " id " << i % vocab << ": op " << got[i]
          << " host " << expected[i] << " (logit " << logits[i] << ")";
      changed += sanitized(logits[i]) != expected[i];
    }
  }
  EXPECT_GT(penalized_rows, 40);  // the draw exercised the op
  EXPECT_GT(changed, 100);
}

TEST(PenaltiesOp, AppliesRepetitionThenFrequencyAndPresenceThenTheMask) {
  // V = 4. Row 0 (repetition 2, frequency 0.5, presence 0.25): id 0 seen (a positive
  // logit divides), id 1 seen (a negative one multiplies), id 2 seen and generated 3
  // times, id 3 generated once; ids 4 and 9 are outside V and skipped. Row 1 has no
  // entries. Then V = 5 (one row), where id 4 is masked.
  std::vector<float> logits = {4.0f, -3.0f, 1.0f, 0.0f, 5.0f, 5.0f, 5.0f, 5.0f};
  std::vector<int32_t> indptr = {0, 6, 6}, ids = {0, 1, 2, 3, 4, 9}, counts = {0, 0, 3, 1, 0, 2};
  std::vector<int32_t> flags = {ops::kPenaltySeen,   ops::kPenaltySeen, ops::kPenaltySeen, 0,
                                ops::kPenaltyMasked, ops::kPenaltySeen};
  std::vector<float> rep = {2.0f, 3.0f}, freq = {0.5f, 1.0f}, pres = {0.25f, 1.0f};
  const ops::PenaltyTensors t{
      Tensor(indptr.data(), DType::kI32, {3}), Tensor(ids.data(), DType::kI32, {6}),
      Tensor(counts.data(), DType::kI32, {6}), Tensor(flags.data(), DType::kI32, {6}),
      Tensor(rep.data(), DType::kF32, {2}),    Tensor(freq.data(), DType::kF32, {2}),
      Tensor(pres.data(), DType::kF32, {2})};
  ASSERT_TRUE(
      ops::apply_penalties(OpContext{}, Tensor(logits.data(), DType::kF32, {2, 4}), t).is_ok());
  EXPECT_EQ(logits[0], 2.0f);                 // 4 / 2
  EXPECT_EQ(logits[1], -6.0f);                // -3 * 2
  EXPECT_EQ(logits[2], 0.5f - 1.5f - 0.25f);  // 1 / 2, then - (0.5 * 3 + 0.25)
  EXPECT_EQ(logits[3], -0.75f);               // 0 - (0.5 + 0.25)
  EXPECT_EQ(logits[4], 5.0f);                 // row 1 starts here: untouched
  EXPECT_EQ(logits[7], 5.0f);
  // The masked id of a 1-row view.
  std::vector<float> one = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f};
  std::vector<int32_t> p1 = {0, 5};
  ops::PenaltyTensors t1 = t;
  t1.row_indptr = Tensor(p1.data(), DType::kI32, {2});
  t1.repetition = Tensor(rep.data(), DType::kF32, {1});
  t1.frequency = Tensor(freq.data(), DType::kF32, {1});
  t1.presence = Tensor(pres.data(), DType::kF32, {1});
  t1.token_ids = Tensor(ids.data(), DType::kI32, {5});
  t1.counts = Tensor(counts.data(), DType::kI32, {5});
  t1.flags = Tensor(flags.data(), DType::kI32, {5});
  ASSERT_TRUE(
      ops::apply_penalties(OpContext{}, Tensor(one.data(), DType::kF32, {1, 5}), t1).is_ok());
  EXPECT_EQ(one[4], -kInf);
}

TEST(PenaltiesOp, RejectsMalformedEntries) {
  std::vector<float> logits(8, 1.0f), f = {1.0f, 1.0f};
  std::vector<int32_t> ids = {0, 1}, counts = {1, 1}, flags = {0, 0};
  std::vector<int32_t> bad_end = {0, 1, 1}, decreasing = {0, 2, 1}, ok = {0, 1, 2};
  auto run = [&](std::vector<int32_t>& indptr, int64_t e) {
    const ops::PenaltyTensors t{
        Tensor(indptr.data(), DType::kI32, {3}), Tensor(ids.data(), DType::kI32, {e}),
        Tensor(counts.data(), DType::kI32, {2}), Tensor(flags.data(), DType::kI32, {2}),
        Tensor(f.data(), DType::kF32, {2}),      Tensor(f.data(), DType::kF32, {2}),
        Tensor(f.data(), DType::kF32, {2})};
    return ops::apply_penalties(OpContext{}, Tensor(logits.data(), DType::kF32, {2, 4}), t);
  };
  EXPECT_TRUE(run(ok, 2).is_ok());
  EXPECT_FALSE(run(bad_end, 2).is_ok());     // does not end at E
  EXPECT_FALSE(run(decreasing, 2).is_ok());  // goes backwards
  EXPECT_FALSE(run(ok, 1).is_ok());          // ids and counts disagree on E
}

}  // namespace
}  // namespace radix
