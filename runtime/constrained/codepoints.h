// Code points, sets of them and their UTF-8 encodings: the common ground of the regex
// compiler (regex_parse.h builds sets, regex_dfa.cpp expands them to byte ranges) and
// of the JSON schema `pattern` translator (json_pattern.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace radix::constrained {

constexpr uint32_t kMaxCodePoint = 0x10FFFF;

struct CodeRange {
  uint32_t lo, hi;  // inclusive
};
using CodeSet = std::vector<CodeRange>;  // sorted, disjoint, non-adjacent once normalized

// `set` sorted, with overlapping and adjacent ranges merged.
CodeSet normalized(CodeSet set);
// The code points of [0, kMaxCodePoint] not in `set` (sorted and disjoint).
CodeSet complement(const CodeSet& set);
// The code points of `a` not in `b` (`b` sorted and disjoint); normalized.
CodeSet subtract(const CodeSet& a, const CodeSet& b);
bool contains(const CodeSet& set, uint32_t cp);
// The ASCII shorthand classes: 'd' [0-9], 'w' [0-9A-Z_a-z], 's' [\t\n\v\f\r ].
CodeSet ascii_class(char letter);

// 0-15 for an ASCII hex digit, -1 for anything else.
int hex_value(uint32_t c);

// Decodes one strict UTF-8 character at s[pos] (no overlongs, surrogates or > U+10FFFF);
// false when the bytes there are not one.
bool decode_utf8(std::string_view s, size_t pos, uint32_t* cp, size_t* len);
// Every character of `s`, or nullopt when `s` is not strict UTF-8.
std::optional<std::u32string> decode_utf8(std::string_view s);
// The UTF-8 encoding of `cp` (<= kMaxCodePoint, not a surrogate) into `out`; its length.
int encode_utf8(uint32_t cp, uint8_t out[4]);
std::string encode_utf8(uint32_t cp);

// A sequence of byte ranges matching exactly the UTF-8 encodings of a code point range:
// byte k of an encoding lies in [lo[k], hi[k]], each byte independently.
struct ByteSeq {
  uint8_t lo[4], hi[4];
  int len;
};
// The UTF-8 encodings of the code points of `set` (surrogates dropped) as byte sequences.
std::vector<ByteSeq> utf8_sequences(const CodeSet& set);

}  // namespace radix::constrained
