// Regex -> byte-level DFA compiler for constrained decoding (structured output).
//
// Where it sits: a request's `regex` (or the regex that runtime/constrained/json_schema.h
// derives from a `json_schema`) is compiled once, on an HTTP thread, into a Dfa. The
// constrained-decoding layer then walks the DFA over the UTF-8 bytes of each candidate
// token to decide which tokens are allowed at the current state. The engine thread only
// ever sees the compiled table, never the pattern.
//
// Semantics: full match over the UTF-8 bytes of the text, like Python's re.fullmatch on
// str. The DFA works on bytes, so a multi-byte character is a sequence of transitions;
// every set of characters (literals, classes, '.', negations) expands to exactly the
// valid UTF-8 encodings of its code points, so the DFA never accepts invalid UTF-8
// (no lone continuation bytes, overlong forms, surrogates or code points > U+10FFFF).
//
// Syntax (the subset of Python `re` that outlines-generated JSON regexes and users use):
//   literals        any character of the (UTF-8) pattern other than the metacharacters
//                   . ^ $ * + ? { } [ ] \ | ( )
//   .               any character except \n
//   [...] [^...]    classes with ranges (non-ASCII too: [à-ÿ], [\u4e00-\u9fff]), escapes
//                   inside, '-' literal first or last, ']' literal right after [ or [^.
//                   A negated class matches any code point not in the set (1-4 bytes).
//   \d \D \w \W \s \S   ASCII classes: \d=[0-9], \w=[A-Za-z0-9_], \s=[ \t\n\r\f\v].
//                   NOTE: Python's \d/\w/\s are Unicode-aware on str patterns; these are
//                   ASCII-only (as with re.ASCII). \D \W \S are their complements over all
//                   of Unicode.
//   \n \t \r \f \v \a \0 \ooo(octal) \xHH \uXXXX \UXXXXXXXX, and any escaped
//                   non-alphanumeric character (\. \\ \/ \" \( \[ \{ \* \| \- ...) is
//                   itself. Inside a class \b is backspace (U+0008).
//   ( ) (?: ) (?P<name> ) (?<name> ) (?#comment)   groups (no captures are reported)
//   a|b             alternation; empty alternatives allowed: (a|), |a
//   * + ? {n} {n,} {,m} {n,m}   quantifiers, and the lazy forms *? +? ?? {n,m}? (same
//                   language under full match). A '{' that does not start a valid
//                   quantifier is a literal, as in Python.
//   ^ (or \A) as the very first and $ (or \Z) as the very last token are accepted and
//                   ignored (full-match semantics anyway).
// Not supported (clear invalid_argument errors, with the offset): ^ and $ elsewhere,
// \b \B, backreferences (\1, (?P=name)), lookarounds ((?=, (?!, (?<=, (?<!), inline flags
// ((?i) ...), atomic groups and possessive quantifiers, conditionals, \N{...}.
//
// Limits: at most DfaLimits::max_states DFA states during subset construction (the
// error says "regex: too complex: more than N DFA states"), at most ~1e6 NFA states
// ("regex: too large"), group nesting at most 500 deep, and a bound on construction work,
// so every input fails fast instead of exhausting memory or time.
//
// The result is pruned (states that cannot reach acceptance become kDead) and minimized
// (Hopcroft), states are numbered breadth-first from the start (start() == 0), and the
// transition table is dense: [num_states][256] int32. A pattern whose language is empty
// compiles to a single non-accepting state with no live transitions.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace radix::constrained {

struct DfaLimits {
  int max_states = 20000;  // DFA states allowed during construction (before minimization)
};

class Dfa {
 public:
  static constexpr int32_t kDead = -1;

  Dfa() = default;  // matches nothing (one state, no moves); see compile()

  // Compiles `pattern` (full-match semantics over the UTF-8 bytes of the text).
  static Result<Dfa> compile(std::string_view pattern, const DfaLimits& limits = {});

  int32_t start() const { return 0; }
  // The state after `byte`; kDead when no match can follow. next(kDead, b) == kDead.
  int32_t next(int32_t state, uint8_t byte) const {
    return state < 0 ? kDead : table_[static_cast<size_t>(state) * 256 + byte];
  }
  bool accepting(int32_t state) const { return state >= 0 && accepting_[state] != 0; }
  int32_t num_states() const { return static_cast<int32_t>(accepting_.size()); }
  // Whether any non-empty continuation from `state` can still lead to acceptance
  // (false for kDead; false at an accepting state that must end here).
  bool can_continue(int32_t state) const { return state >= 0 && can_continue_[state] != 0; }
  // Convenience: whether the whole of `text` matches.
  bool matches(std::string_view text) const;

 private:
  // Defaults: one state, no moves, not accepting (a default-constructed Dfa).
  std::vector<int32_t> table_ = std::vector<int32_t>(256, kDead);  // [num_states][256]
  std::vector<uint8_t> accepting_ = {0};                           // [num_states]
  std::vector<uint8_t> can_continue_ = {0};                        // [num_states]

  friend class DfaBuilder;
};

}  // namespace radix::constrained
