#include "runtime/scheduler.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "core/check.h"
#include "core/logging.h"

namespace radix {
namespace {
// Decode growth reserved per running request is clipped like SGLang's estimate.
constexpr int kMaxReservedDecode = 4096;
constexpr double kMinNewTokenRatio = 0.1;
constexpr double kNewTokenRatioDecay = 0.001;
}  // namespace

Scheduler::Scheduler(const SchedulerOptions& options)
    : options_(options),
      alloc_(options.num_slots),
      table_(options.max_running_requests, options.context_len),
      cache_(options.disable_radix_cache) {}

void Scheduler::add(std::unique_ptr<Req> req) { waiting_.push_back(std::move(req)); }

void ScheduledStep::clear() {
  reqs.clear();
  sample_row.clear();
  prompt_lp_first_row.clear();
  prompt_lp_first_pos.clear();
  fill_end.clear();
  completes.clear();
  device_sample.clear();
  num_extend_tokens = 0;
  num_decode = 0;
  new_cached_tokens = 0;
  input.clear();
}

bool Scheduler::alloc_slots(int n, std::vector<int32_t>* out) {
  if (alloc_.available() < n) {
    cache_.evict(n - alloc_.available(), [this](std::span<const int32_t> s) { alloc_.free(s); });
  }
  auto got = alloc_.alloc(n);
  if (!got) return false;
  *out = std::move(*got);
  return true;
}

void Scheduler::release(Req* r, bool keep_prefix) {
  if (r->row < 0) return;
  int32_t* row = table_.row(r->row);
  std::vector<int32_t> tokens(static_cast<size_t>(r->kv_len));
  for (int p = 0; p < r->kv_len; ++p) tokens[p] = r->fill_token(p);
  std::span<const int32_t> slots(row, static_cast<size_t>(r->kv_len));
  if (cache_.disabled()) {
    alloc_.free(slots);
  } else if (keep_prefix) {
    const int present = cache_.insert(tokens, slots);
    if (present > r->cached_len) alloc_.free(slots.subspan(r->cached_len, present - r->cached_len));
  } else {
    alloc_.free(slots.subspan(r->cached_len));
  }
  if (r->last_node) cache_.dec_lock_ref(r->last_node);
  table_.free_row(r->row);
  r->row = -1;
  r->kv_len = 0;
  r->cached_len = 0;
  r->last_node = nullptr;
}

void Scheduler::cache_prefix(Req* r) {
  if (cache_.disabled() || r->kv_len <= r->cached_len) return;
  int32_t* row = table_.row(r->row);
  std::vector<int32_t> tokens(static_cast<size_t>(r->kv_len));
  for (int p = 0; p < r->kv_len; ++p) tokens[p] = r->fill_token(p);
  std::span<const int32_t> slots(row, static_cast<size_t>(r->kv_len));
  const int present = cache_.insert(tokens, slots);
  if (present > r->cached_len) alloc_.free(slots.subspan(r->cached_len, present - r->cached_len));
  RadixCache::MatchResult m = cache_.match_prefix(tokens);
  RADIX_CHECK_EQ(static_cast<int>(m.slots.size()), r->kv_len);
  std::copy(m.slots.begin(), m.slots.end(), row);
  cache_.inc_lock_ref(m.last_node);
  if (r->last_node) cache_.dec_lock_ref(r->last_node);
  r->last_node = m.last_node;
  r->cached_len = r->kv_len;
}

int Scheduler::rem_total_tokens() const {
  double reserved = 0;
  for (const auto& r : running_) {
    const int left = std::max(0, r->params.max_new_tokens - static_cast<int>(r->output_ids.size()));
    reserved += std::min(left, kMaxReservedDecode) * new_token_ratio_;
  }
  return alloc_.available() + cache_.evictable_size() - static_cast<int>(std::ceil(reserved));
}

void Scheduler::retract_for(int needed) {
  // Victims: fewest generated tokens first, then longest prompt (SGLang's order).
  while (alloc_.available() + cache_.evictable_size() < needed) {
    auto victim = running_.end();
    for (auto it = running_.begin(); it != running_.end(); ++it) {
      if (!(*it)->decode_ready() || (*it)->in_flight > 0 || (*it)->finished()) continue;
      if (victim == running_.end() || (*it)->output_ids.size() < (*victim)->output_ids.size() ||
          ((*it)->output_ids.size() == (*victim)->output_ids.size() &&
           (*it)->input_ids.size() > (*victim)->input_ids.size())) {
        victim = it;
      }
    }
    if (victim == running_.end() || running_.size() <= 1) return;
    std::unique_ptr<Req> r = std::move(*victim);
    running_.erase(victim);
    release(r.get(), /*keep_prefix=*/false);
    r->state = ReqState::kWaiting;
    r->retractions++;
    RADIX_LOG_INFO("retract {} (output {} tokens): KV pool exhausted", r->rid, r->output_ids.size());
    waiting_.push_front(std::move(r));
    new_token_ratio_ = std::min(1.0, new_token_ratio_ + 0.2);
  }
}

bool Scheduler::schedule(ScheduledStep* step) {
  step->clear();

  // 1. Decodes: one slot each; retract when the pool cannot hold them.
  // A finished request (aborted, or — overlap scheduling — one whose last token is still
  // pending but reaches max_new_tokens) is not run again; it is released once no step
  // holds it.
  auto may_decode = [](const Req& r) {
    return r.decode_ready() && !r.finished() && static_cast<int>(r.output_ids.size()) < r.params.max_new_tokens;
  };
  int num_decode = 0;
  for (const auto& r : running_) num_decode += may_decode(*r) ? 1 : 0;
  if (num_decode > 0 && alloc_.available() + cache_.evictable_size() < num_decode) retract_for(num_decode);
  std::vector<Req*> decodes, extends;
  std::vector<int32_t> slot;
  for (const auto& r : running_) {
    if (may_decode(*r)) {
      if (!alloc_slots(1, &slot)) continue;  // cannot happen after retract_for; skip defensively
      table_.row(r->row)[r->kv_len] = slot[0];
      r->extend_len = 1;
      decodes.push_back(r.get());
    }
  }

  // 2. Extends: running requests mid-prefill (chunked) first, then admissions.
  const int chunk = options_.chunked_prefill_size > 0 ? options_.chunked_prefill_size : INT32_MAX;
  int budget = std::min(options_.max_prefill_tokens, chunk);
  int rem_total = rem_total_tokens();
  for (const auto& r : running_) {
    if (r->decode_ready() || r->finished() || budget <= 0) continue;
    const int want = r->fill_len() - r->kv_len;
    const int take = std::min(want, budget);
    std::vector<int32_t> slots;
    if (!alloc_slots(take, &slots)) continue;
    std::copy(slots.begin(), slots.end(), table_.row(r->row) + r->kv_len);
    r->extend_len = take;
    budget -= take;
    extends.push_back(r.get());
  }
  if (options_.lpm && waiting_.size() <= 128 && !cache_.disabled()) {
    // Longest prefix match first (SGLang falls back to fcfs for long queues).
    std::unordered_map<const Req*, int> cached;
    for (const auto& r : waiting_) cached[r.get()] = static_cast<int>(cache_.match_prefix(r->input_ids).slots.size());
    std::stable_sort(waiting_.begin(), waiting_.end(),
                     [&](const auto& a, const auto& b) { return cached[a.get()] > cached[b.get()]; });
  }
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    Req* r = it->get();
    if (static_cast<int>(running_.size()) >= options_.max_running_requests || budget <= 0) break;
    if (!r->is_leader && r->prompt_ready && !*r->prompt_ready) {
      ++it;
      continue;
    }
    int limit = r->fill_len() - 1;
    if (r->params.logprob_start_len >= 0) limit = std::min(limit, std::max(r->params.logprob_start_len, 1) - 1);
    std::vector<int32_t> toks(static_cast<size_t>(std::max(limit, 0)));
    for (int p = 0; p < limit; ++p) toks[p] = r->fill_token(p);
    RadixCache::MatchResult m = cache_.match_prefix(toks);
    cache_.inc_lock_ref(m.last_node);
    const int prefix = static_cast<int>(m.slots.size());
    const int want = r->fill_len() - prefix;
    const int left = std::max(0, r->params.max_new_tokens - static_cast<int>(r->output_ids.size()));
    const int need = want + static_cast<int>(std::min(left, kMaxReservedDecode) * new_token_ratio_);
    const bool alone = running_.empty() && extends.empty();
    int take = want;
    if (take > budget) {
      if (chunk != INT32_MAX) {
        take = budget;
      } else if (!alone) {
        cache_.dec_lock_ref(m.last_node);
        break;
      }
    }
    std::vector<int32_t> slots;
    if ((need > rem_total && !alone) || !alloc_slots(take, &slots)) {
      cache_.dec_lock_ref(m.last_node);
      break;
    }
    auto row = table_.alloc_row();
    RADIX_CHECK(row.has_value());
    r->row = *row;
    int32_t* trow = table_.row(r->row);
    std::copy(m.slots.begin(), m.slots.end(), trow);
    std::copy(slots.begin(), slots.end(), trow + prefix);
    r->kv_len = prefix;
    r->cached_len = prefix;
    r->last_node = m.last_node;
    r->extend_len = take;
    r->state = ReqState::kRunning;
    if (!r->prefix_reported) {
      r->prefix_hits = std::min(prefix, static_cast<int>(r->input_ids.size()));
      step->new_cached_tokens += r->prefix_hits;
      r->prefix_reported = true;
    }
    if (r->params.logprob_start_len >= 0 && r->logprob_next_pos == 0) r->logprob_next_pos = r->params.logprob_start_len;
    budget -= take;
    rem_total -= need;
    extends.push_back(r);
    running_.push_back(std::move(*it));
    it = waiting_.erase(it);
  }

  if (extends.empty() && decodes.empty()) return false;
  if (extends.empty()) new_token_ratio_ = std::max(kMinNewTokenRatio, new_token_ratio_ - kNewTokenRatioDecay);

  // 3. The step's metadata, extends first then decodes.
  StepInput& in = step->input;
  int row_count = 0;
  // kv_skip: leading context positions left out of kv_indices (a cascade group's prefix).
  auto add = [&](Req* r, int kv_skip) {
    const int start = r->kv_len, n = r->extend_len;
    const int32_t* trow = table_.row(r->row);
    for (int p = start; p < start + n; ++p) {
      const int32_t token = r->fill_token(p);
      if (token == kPendingToken) {
        // Overlap scheduling: the previous step's sample row for this request holds it.
        if (in.prev_token_src.empty()) in.prev_token_src.assign(in.input_ids.size(), -1);
        in.prev_token_src.push_back(r->pending_sample);
        in.input_ids.push_back(0);
      } else {
        if (!in.prev_token_src.empty()) in.prev_token_src.push_back(-1);
        in.input_ids.push_back(token);
      }
      in.positions.push_back(p);
      in.out_cache_loc.push_back(trow[p]);
    }
    in.qo_indptr.push_back(in.qo_indptr.back() + n);
    in.kv_indices.insert(in.kv_indices.end(), trow + kv_skip, trow + start + n);
    in.kv_indptr.push_back(static_cast<int32_t>(in.kv_indices.size()));
    in.max_q_len = std::max(in.max_q_len, n);
    in.max_kv_len = std::max(in.max_kv_len, start + n - kv_skip);
    const int base = in.qo_indptr[in.qo_indptr.size() - 2];
    // Prompt logprobs: rows at positions p predict token p + 1, for p + 1 in
    // [logprob_next_pos, prompt_len).
    int lp_first_row = -1, lp_first_pos = -1;
    if (r->params.logprob_start_len >= 0) {
      const int lo = std::max({start, r->logprob_next_pos - 1, 0});
      const int hi = std::min(start + n, static_cast<int>(r->input_ids.size()) - 1);
      if (lo < hi) {
        lp_first_row = row_count;
        lp_first_pos = lo + 1;
        for (int p = lo; p < hi; ++p) {
          in.logits_rows.push_back(base + (p - start));
          ++row_count;
        }
      }
    }
    int sample_row = -1;
    if (start + n == r->fill_len() && r->params.max_new_tokens > static_cast<int>(r->output_ids.size())) {
      sample_row = row_count++;
      in.logits_rows.push_back(base + n - 1);
    }
    step->reqs.push_back(r);
    step->fill_end.push_back(start + n);
    step->completes.push_back(start + n == r->fill_len() ? 1 : 0);
    step->sample_row.push_back(sample_row);
    step->prompt_lp_first_row.push_back(lp_first_row);
    step->prompt_lp_first_pos.push_back(lp_first_pos);
  };
  for (Req* r : extends) {
    add(r, 0);
    step->num_extend_tokens += r->extend_len;
  }
  // Cascade attention: a decode-only step groups sequences by a shared cached prefix;
  // each group's prefix slots are listed once and its members keep only their suffix.
  PrefixGroups groups;
  if (extends.empty() && options_.cascade_min_prefix > 0 && decodes.size() >= 2) {
    std::vector<const RadixNode*> nodes;
    nodes.reserve(decodes.size());
    for (Req* r : decodes) nodes.push_back(r->last_node);
    groups = group_shared_prefixes(nodes, options_.cascade_min_prefix);
  }
  if (groups.num_groups() > 0) {
    std::vector<int> members(static_cast<size_t>(groups.num_groups()), 0);
    for (int g = 0; g < groups.num_groups(); ++g) {
      const int32_t* lead = table_.row(decodes[static_cast<size_t>(groups.leader[static_cast<size_t>(g)])]->row);
      const int len = groups.prefix_len[static_cast<size_t>(g)];
      in.prefix_indices.insert(in.prefix_indices.end(), lead, lead + len);
      in.prefix_indptr.push_back(static_cast<int32_t>(in.prefix_indices.size()));
      in.max_prefix_len = std::max(in.max_prefix_len, len);
    }
    for (size_t i = 0; i < decodes.size(); ++i) {
      const int32_t g = groups.group_of[i];
      in.seq_group.push_back(g);
      if (g >= 0) in.max_group_size = std::max(in.max_group_size, ++members[static_cast<size_t>(g)]);
      add(decodes[i], g >= 0 ? groups.prefix_len[static_cast<size_t>(g)] : 0);
    }
  } else {
    for (Req* r : decodes) add(r, 0);
  }
  step->num_decode = static_cast<int>(decodes.size());
  return true;
}

std::vector<std::unique_ptr<Req>> Scheduler::commit(ScheduledStep* step) {
  advance(step);
  return finalize();
}

void Scheduler::advance(ScheduledStep* step, const std::vector<int>* sample_index) {
  const size_t num_extends = step->reqs.size() - static_cast<size_t>(step->num_decode);
  for (size_t i = 0; i < step->reqs.size(); ++i) {
    Req* r = step->reqs[i];
    const bool was_prefill = i < num_extends;
    r->kv_len += r->extend_len;
    r->extend_len = 0;
    if (!r->finished() && was_prefill) {
      // Prefill chunk or whole prompt done: make it reusable now (chunked requests and
      // n > 1 siblings hit it).
      cache_prefix(r);
    }
    if (r->is_leader && r->prompt_ready && (r->finished() || r->kv_len >= static_cast<int>(r->input_ids.size()))) {
      *r->prompt_ready = true;
    }
    if (sample_index != nullptr && (*sample_index)[i] >= 0 && !r->finished()) {
      RADIX_CHECK_LT(r->pending_out_index, 0);
      r->pending_out_index = static_cast<int>(r->output_ids.size());
      r->pending_sample = (*sample_index)[i];
      r->output_ids.push_back(kPendingToken);
    }
  }
}

bool Scheduler::pool_tight() const {
  int decoding = 0;
  for (const auto& r : running_) decoding += r->decode_ready() && !r->finished() ? 1 : 0;
  return alloc_.available() + cache_.evictable_size() < decoding + 1;
}

std::vector<std::unique_ptr<Req>> Scheduler::finalize() {
  std::vector<std::unique_ptr<Req>> done;
  for (auto it = running_.begin(); it != running_.end();) {
    if ((*it)->finished() && (*it)->in_flight == 0) {
      release(it->get(), /*keep_prefix=*/(*it)->error.is_ok());
      done.push_back(std::move(*it));
      it = running_.erase(it);
    } else {
      ++it;
    }
  }
  return done;
}

void Scheduler::abort(const std::string& rid, int choice, std::vector<std::unique_ptr<Req>>* finished_now) {
  auto match = [&](const Req& r) { return r.rid == rid && (choice < 0 || r.index == choice); };
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (match(**it)) {
      (*it)->state = ReqState::kFinished;
      (*it)->finish_reason = FinishReason::kAbort;
      if ((*it)->is_leader && (*it)->prompt_ready) *(*it)->prompt_ready = true;
      finished_now->push_back(std::move(*it));
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& r : running_) {
    if (match(*r) && !r->finished()) {
      r->state = ReqState::kFinished;
      r->finish_reason = FinishReason::kAbort;
    }
  }
}

void Scheduler::abort_all(std::vector<std::unique_ptr<Req>>* finished_now) {
  for (auto& r : waiting_) {
    r->state = ReqState::kFinished;
    r->finish_reason = FinishReason::kAbort;
    finished_now->push_back(std::move(r));
  }
  waiting_.clear();
  for (auto& r : running_) {
    r->state = ReqState::kFinished;
    r->finish_reason = FinishReason::kAbort;
    release(r.get(), /*keep_prefix=*/false);
    finished_now->push_back(std::move(r));
  }
  running_.clear();
}

bool Scheduler::flush_cache() {
  if (!idle()) return false;
  cache_.reset();
  alloc_.clear();
  return true;
}

Status Scheduler::check_no_leak() const {
  if (!idle()) return Status::ok();
  return cache_.check_invariants(alloc_);
}

}  // namespace radix
