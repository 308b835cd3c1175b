// Sampler: penalties, temperature, top-k/top-p/min-p truncation and seeded sampling over
// host logits (see sampler.h for the order and the reproducibility contract).
#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "runtime/constrained/grammar.h"

namespace radix {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

uint64_t mix64(uint64_t z) {  // SplitMix64 finalizer: a bijective 64-bit mixer
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

float sanitize(float x) {
  return std::isnan(x) ? kNegInf : x;
}

// Greater probability first; equal ones by lower token id (a total, deterministic order).
struct ByWeightDesc {
  const float* w;
  bool operator()(int32_t a, int32_t b) const { return w[a] != w[b] ? w[a] > w[b] : a < b; }
};

int32_t argmax(std::span<const float> x) {
  int32_t best = 0;
  for (size_t i = 1; i < x.size(); ++i) {
    if (x[i] > x[static_cast<size_t>(best)]) best = static_cast<int32_t>(i);
  }
  return best;
}

// Log-sum-exp of a row with NaN as -inf; -inf when nothing is finite.
double log_sum_exp(std::span<const float> x) {
  float m = kNegInf;
  for (float v : x) m = std::max(m, sanitize(v));
  if (m == kNegInf) return -std::numeric_limits<double>::infinity();
  if (std::isinf(m)) return std::numeric_limits<double>::infinity();
  double s = 0.0;
  for (float v : x) s += std::exp(static_cast<double>(sanitize(v)) - m);
  return m + std::log(s);
}

std::vector<std::pair<int32_t, float>> top_logprobs(std::span<const float> logits, int top_n,
                                                    double lse) {
  std::vector<std::pair<int32_t, float>> top;
  const int v = static_cast<int>(logits.size());
  top_n = std::min(top_n, v);
  if (top_n <= 0) return top;
  std::vector<float> clean(logits.begin(), logits.end());
  for (float& x : clean) x = sanitize(x);
  std::vector<int32_t> idx(static_cast<size_t>(v));
  std::iota(idx.begin(), idx.end(), 0);
  ByWeightDesc cmp{clean.data()};
  std::partial_sort(idx.begin(), idx.begin() + top_n, idx.end(), cmp);
  for (int i = 0; i < top_n; ++i) {
    const int32_t id = idx[static_cast<size_t>(i)];
    top.emplace_back(id, static_cast<float>(clean[static_cast<size_t>(id)] - lse));
  }
  return top;
}

// The m best tokens by (weight desc, id asc), sorted. Selects the m-th largest weight on a
// plain float copy (cheaper than selecting indices through a comparator), then gathers
// the tokens above it and, in id order, enough of those equal to it.
std::vector<int32_t> best_tokens(const std::vector<float>& w, int m, std::vector<float>* scratch) {
  scratch->assign(w.begin(), w.end());
  std::nth_element(scratch->begin(), scratch->begin() + (m - 1), scratch->end(),
                   std::greater<float>());
  const float threshold = (*scratch)[static_cast<size_t>(m - 1)];
  std::vector<int32_t> out;
  out.reserve(static_cast<size_t>(m));
  int equal_needed = m;
  for (float x : w) equal_needed -= x > threshold ? 1 : 0;
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] > threshold || (w[i] == threshold && equal_needed-- > 0)) {
      out.push_back(static_cast<int32_t>(i));
    }
  }
  std::sort(out.begin(), out.end(), ByWeightDesc{w.data()});
  return out;
}

// The sorted prefix [0, L) of tokens that survive top_k, top_p and min_p, found without
// sorting the whole vocabulary: take the best m candidates, and grow m (x4) only while
// none of the three cut-offs falls inside them.
//   w  [V]: unnormalized probabilities, max 1 (exp(x/T - max)); z = sum(w).
std::vector<int32_t> truncated_candidates(const std::vector<float>& w, double z, int top_k,
                                          float top_p, float min_p) {
  const int v = static_cast<int>(w.size());
  const int k = (top_k <= 0 || top_k > v) ? v : top_k;
  const double p_mass = static_cast<double>(top_p) * z;
  std::vector<float> scratch;
  int m = std::min(k, 64);
  while (true) {
    std::vector<int32_t> idx = best_tokens(w, m, &scratch);
    int keep = -1;
    double before = 0.0;  // probability mass of the better candidates
    for (int j = 0; j < m; ++j) {
      const float wj = w[static_cast<size_t>(idx[static_cast<size_t>(j)])];
      // top_p: drop j once the mass before it already exceeds top_p (SGLang's rule:
      // the token that crosses top_p is kept). min_p: drop below min_p * p_max.
      // Zero weights (masked or underflowed) can never be sampled.
      if ((top_p < 1.0f && before > p_mass) || wj < min_p || wj <= 0.0f) {
        keep = j;
        break;
      }
      before += wj;
    }
    if (keep < 0 && m == k) keep = k;
    if (keep >= 0) {
      idx.resize(static_cast<size_t>(keep));
      return idx;
    }
    m = std::min(k, m * 4);
  }
}

}  // namespace

SamplerState::SamplerState(const SamplingParams& params, uint64_t seed,
                           std::span<const int32_t> prompt_ids, std::vector<int32_t> eos_ids)
    : params_(params), seed_(seed), eos_ids_(std::move(eos_ids)) {
  if (params_.repetition_penalty != 1.0f) seen_.insert(prompt_ids.begin(), prompt_ids.end());
  if (params_.grammar) grammar_state_ = params_.grammar->start();
}

void SamplerState::on_token(int32_t id) {
  ++num_generated_;
  if (params_.frequency_penalty != 0.0f || params_.presence_penalty != 0.0f) {
    ++output_counts_[id];
  }
  if (params_.repetition_penalty != 1.0f) seen_.insert(id);
  // An end-of-sequence id ends the output; it is not part of the matched text.
  if (params_.grammar && std::find(eos_ids_.begin(), eos_ids_.end(), id) == eos_ids_.end()) {
    grammar_state_ = params_.grammar->advance(grammar_state_, id);
  }
}

void SamplerState::append_grammar_mask(int32_t vocab, std::vector<uint64_t>* out) const {
  const size_t words = (static_cast<size_t>(vocab) + 63) / 64;
  const size_t base = out->size();
  out->resize(base + words, 0);
  if (!params_.grammar) return;
  const std::vector<uint64_t>& mask = params_.grammar->allowed(grammar_state_);
  std::copy_n(mask.begin(), std::min(words, mask.size()), out->begin() + static_cast<std::ptrdiff_t>(base));
  if (params_.grammar->accepting(grammar_state_)) {
    for (int32_t id : eos_ids_) {
      if (id >= 0 && id < vocab) (*out)[base + static_cast<size_t>(id) / 64] |= uint64_t{1} << (id % 64);
    }
  }
}

void SamplerState::apply_grammar(std::span<float> logits) const {
  if (!params_.grammar) return;
  const constrained::Grammar& g = *params_.grammar;
  const std::vector<uint64_t>& mask = g.allowed(grammar_state_);
  const bool done = g.accepting(grammar_state_);
  std::vector<std::pair<size_t, float>> eos;
  for (int32_t id : eos_ids_) {
    if (done && id >= 0 && static_cast<size_t>(id) < logits.size()) eos.push_back({static_cast<size_t>(id), logits[id]});
  }
  for (size_t i = 0; i < logits.size(); ++i) {
    const size_t w = i / 64;
    if (w >= mask.size() || ((mask[w] >> (i % 64)) & 1u) == 0) logits[i] = -std::numeric_limits<float>::infinity();
  }
  for (const auto& [id, x] : eos) logits[id] = x;
}

bool SamplerState::min_tokens_pending() const {
  if (num_generated_ >= params_.min_new_tokens) return false;
  const constrained::Grammar* g = params_.grammar.get();
  return g == nullptr || !g->accepting(grammar_state_) || g->can_continue(grammar_state_);
}

double SamplerState::uniform(uint64_t step) const {
  // Counter-based: hash (seed, step) to 53 random bits.
  const uint64_t h = mix64(mix64(seed_ ^ 0x5851f42d4c957f2dULL) + mix64(step + 1));
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

void SamplerState::apply_penalties(std::span<float> logits) const {
  const auto v = static_cast<int32_t>(logits.size());
  auto in_vocab = [v](int32_t id) { return id >= 0 && id < v; };
  // Repetition (HF / SGLang): divide positive logits, multiply negative ones.
  const float rp = params_.repetition_penalty;
  if (rp != 1.0f) {
    for (int32_t id : seen_) {
      if (!in_vocab(id)) continue;
      float& x = logits[static_cast<size_t>(id)];
      x = x > 0.0f ? x / rp : x * rp;
    }
  }
  // Frequency and presence (OpenAI): over generated tokens only.
  for (const auto& [id, count] : output_counts_) {
    if (!in_vocab(id)) continue;
    logits[static_cast<size_t>(id)] -=
        params_.frequency_penalty * static_cast<float>(count) + params_.presence_penalty;
  }
  if (min_tokens_pending()) {
    for (int32_t id : eos_ids_) {
      if (in_vocab(id)) logits[static_cast<size_t>(id)] = kNegInf;
    }
    for (int32_t id : params_.stop_token_ids) {
      if (in_vocab(id)) logits[static_cast<size_t>(id)] = kNegInf;
    }
  }
}

void PenaltyEntries::clear() {
  ids.clear();
  counts.clear();
  flags.clear();
}

bool SamplerState::has_penalties() const {
  return !seen_.empty() || !output_counts_.empty() ||
         (min_tokens_pending() && (!eos_ids_.empty() || !params_.stop_token_ids.empty()));
}

void SamplerState::append_penalty_entries(int32_t vocab, PenaltyEntries* out) const {
  auto in_vocab = [vocab](int32_t id) { return id >= 0 && id < vocab; };
  auto count_of = [&](int32_t id) {
    if (output_counts_.empty()) return 0;
    const auto it = output_counts_.find(id);
    return it == output_counts_.end() ? 0 : it->second;
  };
  auto push = [out](int32_t id, int32_t count, int32_t flags) {
    out->ids.push_back(id);
    out->counts.push_back(count);
    out->flags.push_back(flags);
  };
  // The masked ids first (a handful, maybe repeated across eos and stop ids), then the
  // repetition set and the output counts without them: every id once.
  std::vector<int32_t> masked;
  if (min_tokens_pending()) {
    for (const auto* ids : {&eos_ids_, &params_.stop_token_ids}) {
      for (int32_t id : *ids) {
        if (in_vocab(id) && std::find(masked.begin(), masked.end(), id) == masked.end())
          masked.push_back(id);
      }
    }
  }
  auto is_masked = [&](int32_t id) {
    return std::find(masked.begin(), masked.end(), id) != masked.end();
  };
  for (int32_t id : masked) {
    push(id, count_of(id), ops::kPenaltyMasked | (seen_.count(id) ? ops::kPenaltySeen : 0));
  }
  for (int32_t id : seen_) {
    if (in_vocab(id) && !is_masked(id)) push(id, count_of(id), ops::kPenaltySeen);
  }
  for (const auto& [id, count] : output_counts_) {
    if (in_vocab(id) && !is_masked(id) && !seen_.count(id)) push(id, count, 0);
  }
}

Status no_finite_logit(const SamplerState& state) {
  if (state.constrained()) {
    return invalid_argument("structured output: no token can continue the output within the grammar");
  }
  return internal_error("sampling: no finite logit in the row (the model produced NaN/inf)");
}

Result<SampleOutput> sample_row(std::span<const float> logits, const SamplerState& state) {
  const SamplingParams& p = state.params();
  const size_t v = logits.size();
  if (v == 0) return invalid_argument("sampling: empty logits row");

  std::vector<float> x(v);
  for (size_t i = 0; i < v; ++i) x[i] = sanitize(logits[i]);
  state.apply_penalties(x);
  state.apply_grammar(x);

  SampleOutput out;
  if (p.is_greedy()) {
    out.token = argmax(x);
    if (x[static_cast<size_t>(out.token)] == kNegInf) {
      return no_finite_logit(state);
    }
  } else {
    // Temperature, then softmax weights w = exp(x/T - max) in (0, 1], max exactly 1.
    const float inv_t = 1.0f / p.temperature;
    float m = kNegInf;
    for (float& xi : x) {
      xi *= inv_t;
      if (std::isnan(xi)) xi = kNegInf;  // -inf * 0 cannot happen (T > 0), but be safe
      m = std::max(m, xi);
    }
    if (m == kNegInf) {
      return no_finite_logit(state);
    }
    std::vector<float>& w = x;  // reuse the buffer
    double z = 0.0;
    for (float& xi : w) {
      xi = std::isinf(m) ? (xi == m ? 1.0f : 0.0f) : std::exp(xi - m);
      z += xi;
    }
    const double u = state.uniform(static_cast<uint64_t>(state.num_generated()));
    const bool truncate = (p.top_k > 0 && static_cast<size_t>(p.top_k) < v) || p.top_p < 1.0f;
    if (truncate) {
      std::vector<int32_t> kept = truncated_candidates(w, z, p.top_k, p.top_p, p.min_p);
      double total = 0.0;
      for (int32_t id : kept) total += w[static_cast<size_t>(id)];
      const double target = u * total;
      double cum = 0.0;
      out.token = kept.back();  // guards against rounding at the very end
      for (int32_t id : kept) {
        cum += w[static_cast<size_t>(id)];
        if (cum > target) {
          out.token = id;
          break;
        }
      }
    } else {
      // Whole vocabulary (min_p filter only), in id order.
      double total = 0.0;
      int32_t last = -1;
      for (size_t i = 0; i < v; ++i) {
        if (w[i] > 0.0f && w[i] >= p.min_p) {
          total += w[i];
          last = static_cast<int32_t>(i);
        }
      }
      const double target = u * total;
      double cum = 0.0;
      out.token = last;
      for (size_t i = 0; i < v; ++i) {
        if (w[i] > 0.0f && w[i] >= p.min_p) {
          cum += w[i];
          if (cum > target) {
            out.token = static_cast<int32_t>(i);
            break;
          }
        }
      }
    }
  }

  if (p.return_logprob) {
    const double lse = log_sum_exp(logits);
    out.logprob = static_cast<float>(sanitize(logits[static_cast<size_t>(out.token)]) - lse);
    out.top = top_logprobs(logits, p.top_logprobs_num, lse);
  }
  return out;
}

Status sample_batch(const Tensor& logits, std::span<SamplerState* const> states,
                    std::vector<SampleOutput>* out, std::vector<Status>* row_errors) {
  if (logits.dtype() != DType::kF32 || !logits.device().is_cpu() || logits.ndim() != 2) {
    return invalid_argument("sample_batch: logits must be f32 [B, V] on the host, got " +
                            logits.to_string());
  }
  if (logits.size(1) != 1 && logits.stride(1) != 1) {
    return invalid_argument("sample_batch: logits rows must be contiguous");
  }
  const int64_t b = logits.size(0);
  const auto v = static_cast<size_t>(logits.size(1));
  if (static_cast<size_t>(b) != states.size()) {
    return invalid_argument("sample_batch: " + std::to_string(b) + " logits rows but " +
                            std::to_string(states.size()) + " sampler states");
  }
  out->assign(static_cast<size_t>(b), SampleOutput{});
  std::vector<Status> errors(static_cast<size_t>(b));
  const float* base = logits.data_as<const float>();
#pragma omp parallel for schedule(dynamic) if (b > 1 && b * static_cast <int64_t>(v) >= (1 << 16))
  for (int64_t i = 0; i < b; ++i) {
    const auto row = static_cast<size_t>(i);
    if (states[row] == nullptr) {
      errors[row] = invalid_argument("sample_batch: null sampler state");
      continue;
    }
    std::span<const float> r(base + i * logits.stride(0), v);
    Result<SampleOutput> s = sample_row(r, *states[row]);
    if (s.is_ok()) {
      (*out)[row] = std::move(s).value();
    } else {
      errors[row] = s.status();
    }
  }
  if (row_errors != nullptr) {
    *row_errors = std::move(errors);
    return Status::ok();
  }
  for (size_t i = 0; i < errors.size(); ++i) {
    if (!errors[i].is_ok()) return errors[i].with_context("row " + std::to_string(i));
  }
  return Status::ok();
}

std::vector<float> log_softmax(std::span<const float> logits) {
  const double lse = log_sum_exp(logits);
  std::vector<float> out(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    out[i] = static_cast<float>(sanitize(logits[i]) - lse);
  }
  return out;
}

TokenLogprob token_logprob(std::span<const float> logits, int32_t token, int top_n) {
  TokenLogprob t;
  t.id = token;
  const double lse = log_sum_exp(logits);
  if (token >= 0 && static_cast<size_t>(token) < logits.size()) {
    t.logprob = static_cast<float>(sanitize(logits[static_cast<size_t>(token)]) - lse);
  } else {
    t.logprob = kNegInf;
  }
  t.top = top_logprobs(logits, top_n, lse);
  return t;
}

}  // namespace radix
