// PCRE2 regex for the tokenizer's pre-tokenizers and normalizers: compiled once at load
// with UTF + UCP (so Hugging Face's Oniguruma patterns such as \p{L}, (?i:'s) and
// \s+(?!\S) keep their meaning) and JIT. Matching is const and thread-safe: per-thread
// match data and JIT stacks live in thread_local storage.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace radix::tok {

using Span = std::pair<size_t, size_t>;  // [begin, end) byte offsets

// Rewrites an Oniguruma pattern (as tokenizer.json files hold) into PCRE2 syntax with the
// same character classes; see regex.cpp.
std::string translate_onig(std::string_view pattern);

class Regex {
 public:
  static Result<std::unique_ptr<Regex>> compile(std::string_view pattern);
  // A regex matching `literal` exactly (regex metacharacters escaped).
  static Result<std::unique_ptr<Regex>> literal(std::string_view literal);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Successive non-overlapping matches in `text` (valid UTF-8), scanning left to right as
  // Oniguruma's find_iter does: an empty match right where the previous one ended is
  // skipped by advancing one character.
  void find_all(std::string_view text, std::vector<Span>* out) const;
  // `text` with every match (find_all) replaced by `content`.
  std::string replace_all(std::string_view text, std::string_view content) const;
  const std::string& pattern() const { return pattern_; }

 private:
  explicit Regex(std::string pattern) : pattern_(std::move(pattern)) {}
  // Finds the first match at or after `start`; false when none.
  bool find_at(std::string_view text, size_t start, Span* m) const;

  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*
  bool jit_ = false;
};

}  // namespace radix::tok
