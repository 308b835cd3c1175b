// Regex parser for regex_dfa.h: pattern text -> syntax tree whose leaves are sets of code
// points. Dfa::compile (regex_dfa.cpp) turns the tree into a byte NFA, then a DFA.
// regex_dfa.h states the syntax accepted; every error is an invalid_argument
// "regex: <what> at offset <byte offset>".
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "runtime/constrained/codepoints.h"

namespace radix::constrained {

enum class RegexNodeKind { kEmpty, kSet, kConcat, kAlt, kRepeat };

struct RegexNode {
  RegexNodeKind kind = RegexNodeKind::kEmpty;
  CodeSet set;                // kSet (normalized)
  std::vector<ByteSeq> seqs;  // kSet: its UTF-8 expansion, filled by the NFA size estimate
  std::vector<int> children;  // kConcat, kAlt; kRepeat has one
  int64_t min = 0, max = 0;   // kRepeat; max < 0 means unbounded
};

struct RegexTree {
  std::vector<RegexNode> nodes;  // children refer to nodes by index
  int root = 0;
};

// Parses `pattern` (full-match semantics; ^ $ \A \Z at the ends are dropped). Group
// nesting is bounded (500), and counted repetitions saturate at 1e9.
Result<RegexTree> parse_regex(std::string_view pattern);

}  // namespace radix::constrained
