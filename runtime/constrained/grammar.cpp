#include "runtime/constrained/grammar.h"

#include <algorithm>
#include <numeric>

#include "runtime/constrained/json_schema.h"
#include "tokenizer/tokenizer.h"

namespace radix::constrained {

TokenVocab::TokenVocab(const std::vector<std::optional<std::string>>& bytes, int32_t vocab_size)
    : vocab_size_(std::max<int32_t>(vocab_size, static_cast<int32_t>(bytes.size()))) {
  by_id_.resize(static_cast<size_t>(vocab_size_));
  for (size_t id = 0; id < bytes.size(); ++id) {
    if (bytes[id].has_value() && !bytes[id]->empty()) {
      by_id_[id] = *bytes[id];
      sorted_ids_.push_back(static_cast<int32_t>(id));
    }
  }
  std::sort(sorted_ids_.begin(), sorted_ids_.end(),
            [&](int32_t a, int32_t b) { return by_id_[a] < by_id_[b] || (by_id_[a] == by_id_[b] && a < b); });
  lcp_.assign(sorted_ids_.size(), 0);
  for (size_t i = 1; i < sorted_ids_.size(); ++i) {
    const std::string& a = by_id_[sorted_ids_[i - 1]];
    const std::string& b = by_id_[sorted_ids_[i]];
    const size_t n = std::min(a.size(), b.size());
    size_t k = 0;
    while (k < n && a[k] == b[k]) ++k;
    lcp_[i] = static_cast<uint32_t>(k);
  }
}

std::shared_ptr<const TokenVocab> TokenVocab::from_tokenizer(const Tokenizer& tok, int32_t vocab_size) {
  const int32_t n = std::min(vocab_size, tok.vocab_size());
  std::vector<std::optional<std::string>> bytes(static_cast<size_t>(std::max(0, n)));
  for (int32_t id = 0; id < n; ++id) bytes[static_cast<size_t>(id)] = tok.token_bytes(id);
  return std::make_shared<TokenVocab>(bytes, vocab_size);
}

const std::string& TokenVocab::bytes_of(int32_t id) const {
  static const std::string kNone;
  return id >= 0 && id < vocab_size_ ? by_id_[static_cast<size_t>(id)] : kNone;
}

Result<std::shared_ptr<const Grammar>> Grammar::compile(const Constraint& c, std::shared_ptr<const TokenVocab> vocab) {
  std::string regex;
  switch (c.kind) {
    case Constraint::Kind::kNone: return invalid_argument("constraint: none given");
    case Constraint::Kind::kRegex: regex = c.spec; break;
    case Constraint::Kind::kJsonSchema: {
      auto r = json_schema_to_regex(c.spec);
      if (!r.is_ok()) return r.status();
      regex = std::move(*r);
      break;
    }
    case Constraint::Kind::kJsonObject: regex = json_object_regex(); break;
  }
  auto dfa = Dfa::compile(regex);
  if (!dfa.is_ok()) {
    if (c.kind == Constraint::Kind::kRegex) return dfa.status();
    return invalid_argument(std::string(c.name()) + ": the schema's regular expression does not compile: " +
                            dfa.status().message());
  }
  if (!dfa->accepting(dfa->start()) && !dfa->can_continue(dfa->start())) {
    return invalid_argument(std::string(c.name()) + ": the constraint matches no text at all");
  }
  auto g = std::shared_ptr<const Grammar>(new Grammar(std::move(*dfa), std::move(regex), std::move(vocab)));
  g->allowed(g->start());  // the first step's mask, here (the server's thread) rather than on the engine's
  return g;
}

int32_t Grammar::advance(int32_t state, int32_t id) const {
  if (state == kDead) return kDead;
  const std::string& b = vocab_->bytes_of(id);
  if (b.empty()) return kDead;
  for (char c : b) {
    state = dfa_.next(state, static_cast<uint8_t>(c));
    if (state == kDead) return kDead;
  }
  return state;
}

const std::vector<uint64_t>& Grammar::allowed(int32_t state) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = masks_.find(state);
  if (it == masks_.end()) {
    std::vector<uint64_t> mask = compute_allowed(state);
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (uint64_t w : mask) h = (h ^ w) * 0x100000001B3ull;
    std::shared_ptr<const std::vector<uint64_t>> shared;
    for (auto [b, e] = by_hash_.equal_range(h); b != e; ++b) {
      if (*b->second == mask) shared = b->second;
    }
    if (!shared) {
      shared = std::make_shared<const std::vector<uint64_t>>(std::move(mask));
      by_hash_.emplace(h, shared);
    }
    it = masks_.emplace(state, std::move(shared)).first;
  }
  return *it->second;
}

// One pass over the vocabulary in byte order: states[d] is the DFA state after the first
// d bytes of the current token; a token sharing lcp bytes with the previous one restarts
// from states[lcp]; every token under a prefix that died (dead_at bytes) is skipped.
std::vector<uint64_t> Grammar::compute_allowed(int32_t state) const {
  const TokenVocab& v = *vocab_;
  std::vector<uint64_t> mask((static_cast<size_t>(v.vocab_size()) + 63) / 64, 0);
  if (state == kDead) return mask;
  std::vector<int32_t> states(1, state);
  size_t dead_at = SIZE_MAX;  // bytes of the last walked token whose prefix died
  for (size_t i = 0; i < v.sorted_ids_.size(); ++i) {
    const size_t lcp = v.lcp_[i];
    if (lcp >= dead_at) continue;  // shares the dead prefix
    dead_at = SIZE_MAX;
    const int32_t id = v.sorted_ids_[i];
    const std::string& b = v.by_id_[static_cast<size_t>(id)];
    states.resize(b.size() + 1);
    int32_t s = states[lcp];
    size_t d = lcp;
    for (; d < b.size(); ++d) {
      s = dfa_.next(s, static_cast<uint8_t>(b[d]));
      if (s == kDead) break;
      states[d + 1] = s;
    }
    if (s == kDead) {
      dead_at = d + 1;
      continue;
    }
    mask[static_cast<size_t>(id) / 64] |= uint64_t{1} << (id % 64);
  }
  return mask;
}

Result<std::shared_ptr<const Grammar>> GrammarCache::get(const Constraint& c) {
  const std::string key = std::string(c.name()) + '\n' + c.spec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = entries_.find(key); it != entries_.end()) {
      it->second.used = ++tick_;
      return it->second.grammar;
    }
  }
  // Compiled outside the lock: a large schema takes a while, and other keys need not wait.
  auto g = Grammar::compile(c, vocab_);
  if (!g.is_ok()) return g.status();
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.size() >= capacity_ && entries_.find(key) == entries_.end()) {
    auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                   [](const auto& a, const auto& b) { return a.second.used < b.second.used; });
    entries_.erase(oldest);
  }
  Entry& e = entries_[key];
  if (!e.grammar) e.grammar = *g;  // another thread may have compiled it meanwhile
  e.used = ++tick_;
  return e.grammar;
}

}  // namespace radix::constrained
