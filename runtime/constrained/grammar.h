// Constrained decoding (structured output, as SGLang v0.3 serves `regex` and
// `json_schema` through outlines): a request's output must match a regular expression,
// given directly or derived from a JSON schema (runtime/constrained/json_schema.h). The
// expression compiles to a byte-level DFA (regex_dfa.h); at every step the sampler keeps
// only the tokens whose bytes (Tokenizer::token_bytes) lead the DFA from its current
// state to a state from which acceptance is still reachable, and the end-of-sequence
// ids once the text so far is a full match. The allowed set of a DFA state is computed
// the first time a request reaches it (one walk over the vocabulary sorted by bytes,
// sharing prefixes and skipping every token under a dead prefix) and cached in the
// Grammar, which requests with the same constraint share.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "runtime/constrained/constraint.h"
#include "runtime/constrained/regex_dfa.h"

namespace radix {
class Tokenizer;
}

namespace radix::constrained {

// The vocabulary as byte strings, sorted by bytes, for walking a DFA.
class TokenVocab {
 public:
  // bytes[id]: what token id adds to a text (nullopt or empty: never allowed, e.g.
  // special tokens). vocab_size >= bytes.size(): ids past the tokenizer's (a model's
  // padded embedding rows) have no bytes.
  TokenVocab(const std::vector<std::optional<std::string>>& bytes, int32_t vocab_size);
  // From a tokenizer's token_bytes over [0, vocab_size).
  static std::shared_ptr<const TokenVocab> from_tokenizer(const Tokenizer& tok, int32_t vocab_size);

  int32_t vocab_size() const { return vocab_size_; }
  const std::string& bytes_of(int32_t id) const;  // "" for ids without bytes

 private:
  friend class Grammar;
  int32_t vocab_size_;
  std::vector<std::string> by_id_;      // [vocab_size]
  std::vector<int32_t> sorted_ids_;     // ids with bytes, sorted by their bytes
  std::vector<uint32_t> lcp_;           // common prefix length with the previous sorted entry
};

// A compiled constraint over one vocabulary. Thread-safe: masks are computed under a
// lock the first time a state is asked for.
class Grammar {
 public:
  static constexpr int32_t kDead = Dfa::kDead;

  // Errors (invalid_argument) name the constraint: a malformed regex or schema, or one
  // whose automaton is too large.
  static Result<std::shared_ptr<const Grammar>> compile(const Constraint& c, std::shared_ptr<const TokenVocab> vocab);

  int32_t start() const { return dfa_.start(); }
  bool accepting(int32_t state) const { return state != kDead && dfa_.accepting(state); }
  // Whether some non-empty continuation from `state` can still be matched.
  bool can_continue(int32_t state) const { return state != kDead && dfa_.can_continue(state); }
  // The state after token `id`'s bytes; kDead when they leave the language.
  int32_t advance(int32_t state, int32_t id) const;
  // Bit id of the returned words (64 ids per word, [vocab_size / 64 rounded up]) is set
  // for every token allowed at `state` (end-of-sequence ids not included: they are
  // allowed exactly when accepting(state)). The reference stays valid for the
  // Grammar's lifetime.
  const std::vector<uint64_t>& allowed(int32_t state) const;
  int32_t vocab_size() const { return vocab_->vocab_size(); }
  int32_t num_states() const { return dfa_.num_states(); }
  const std::string& regex() const { return regex_; }

 private:
  Grammar(Dfa dfa, std::string regex, std::shared_ptr<const TokenVocab> vocab)
      : dfa_(std::move(dfa)), regex_(std::move(regex)), vocab_(std::move(vocab)) {}
  std::vector<uint64_t> compute_allowed(int32_t state) const;

  Dfa dfa_;
  std::string regex_;
  std::shared_ptr<const TokenVocab> vocab_;
  mutable std::mutex mu_;
  // By state; states with the same allowed set share one mask (most states inside a
  // bounded string or a digit run do), found by the mask's hash.
  mutable std::unordered_map<int32_t, std::shared_ptr<const std::vector<uint64_t>>> masks_;
  mutable std::unordered_multimap<uint64_t, std::shared_ptr<const std::vector<uint64_t>>> by_hash_;
};

// Compiled grammars by constraint, shared by the requests that ask for the same one
// (the server keeps one per tokenizer). Keeps the `capacity` most recently used.
class GrammarCache {
 public:
  GrammarCache(std::shared_ptr<const TokenVocab> vocab, size_t capacity = 64)
      : vocab_(std::move(vocab)), capacity_(capacity) {}
  Result<std::shared_ptr<const Grammar>> get(const Constraint& c);

 private:
  std::shared_ptr<const TokenVocab> vocab_;
  size_t capacity_;
  std::mutex mu_;
  uint64_t tick_ = 0;
  struct Entry {
    std::shared_ptr<const Grammar> grammar;
    uint64_t used = 0;
  };
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace radix::constrained
