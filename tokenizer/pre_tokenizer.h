// Pre-tokenizers: the second pipeline stage, cutting each normalized piece into words
// that the model tokenizes independently (tokenizer.json "pre_tokenizer": ByteLevel,
// Split, Metaspace, Digits, Punctuation, Whitespace, WhitespaceSplit, Sequence).
// Parsed once at load; pre_tokenize() is const and thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "tokenizer/json_util.h"

namespace radix::tok {

// One word in the making. `at_start` is true when the word begins at offset 0 of the
// original input (Metaspace's prepend_scheme "first" needs it).
struct PreToken {
  std::string text;
  bool at_start = false;
};

// How a Split keeps the pieces its pattern matches (Hugging Face SplitDelimiterBehavior).
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// Given the pattern's matches over a string of `length` bytes as alternating
// (span, is_match) segments covering it, returns the pieces to keep.
std::vector<Span> apply_split_behavior(const std::vector<std::pair<Span, bool>>& segments,
                                       SplitBehavior behavior);

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces every element of `words` by its sub-words (empty ones dropped).
  virtual void pre_tokenize(std::vector<PreToken>* words) const = 0;
};

// Parses a "pre_tokenizer" value; null gives nullptr (the whole piece is one word).
Result<std::unique_ptr<PreTokenizer>> parse_pre_tokenizer(const Json& j);

// The GPT-2 byte-to-character table: byte b is written as the code point
// byte_level_char(b) so every byte sequence becomes printable text.
char32_t byte_level_char(unsigned char b);
// Inverse of byte_level_char; -1 for characters outside the table.
int byte_level_byte(char32_t c);

}  // namespace radix::tok
