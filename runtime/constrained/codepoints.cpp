// Code point sets and UTF-8 for the regex compiler and the JSON schema `pattern`
// translator; see codepoints.h.
#include "runtime/constrained/codepoints.h"

#include <algorithm>

#include "core/check.h"

namespace radix::constrained {
namespace {

// Splits [lo, hi] (same encoded length after the first step, no surrogates) until every
// byte position of the encodings varies independently over a range (utf8-ranges).
void split_utf8(uint32_t lo, uint32_t hi, std::vector<ByteSeq>* out) {
  static constexpr uint32_t kLengthMax[] = {0x7F, 0x7FF, 0xFFFF};
  for (uint32_t max : kLengthMax) {
    if (lo <= max && hi > max) {
      split_utf8(lo, max, out);
      split_utf8(max + 1, hi, out);
      return;
    }
  }
  for (int i = 1; i < 4; ++i) {
    uint32_t m = (1u << (6 * i)) - 1;
    if ((lo & ~m) != (hi & ~m)) {
      if ((lo & m) != 0) {
        split_utf8(lo, lo | m, out);
        split_utf8((lo | m) + 1, hi, out);
        return;
      }
      if ((hi & m) != m) {
        split_utf8(lo, (hi & ~m) - 1, out);
        split_utf8(hi & ~m, hi, out);
        return;
      }
    }
  }
  ByteSeq seq;
  int n = encode_utf8(lo, seq.lo);
  int n_hi = encode_utf8(hi, seq.hi);
  RADIX_CHECK_EQ(n, n_hi);
  seq.len = n;
  out->push_back(seq);
}

}  // namespace

// ---- code point sets ---------------------------------------------------------------

CodeSet normalized(CodeSet set) {
  std::sort(set.begin(), set.end(),
            [](const CodeRange& a, const CodeRange& b) { return a.lo < b.lo; });
  CodeSet out;
  for (const CodeRange& r : set) {
    if (!out.empty() && r.lo <= out.back().hi + 1) {
      out.back().hi = std::max(out.back().hi, r.hi);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

CodeSet complement(const CodeSet& set) {
  CodeSet out;
  uint32_t next = 0;
  for (const CodeRange& r : set) {
    if (r.lo > next) out.push_back({next, r.lo - 1});
    next = r.hi + 1;
  }
  if (next <= kMaxCodePoint) out.push_back({next, kMaxCodePoint});
  return out;
}

CodeSet subtract(const CodeSet& a, const CodeSet& b) {
  const CodeSet not_b = complement(b);
  CodeSet out;
  for (const CodeRange& x : a) {
    for (const CodeRange& y : not_b) {
      const uint32_t lo = std::max(x.lo, y.lo), hi = std::min(x.hi, y.hi);
      if (lo <= hi) out.push_back({lo, hi});
    }
  }
  return normalized(std::move(out));
}

bool contains(const CodeSet& set, uint32_t cp) {
  for (const CodeRange& r : set) {
    if (r.lo <= cp && cp <= r.hi) return true;
  }
  return false;
}

CodeSet ascii_class(char letter) {
  CodeSet set;
  switch (letter) {
    case 'd':
      set = {{'0', '9'}};
      break;
    case 'w':
      set = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
      break;
    case 's':
      set = {{'\t', '\r'}, {' ', ' '}};
      break;  // \t \n \v \f \r and space
  }
  return set;
}

int hex_value(uint32_t c) {
  if (c >= '0' && c <= '9') return static_cast<int>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<int>(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return static_cast<int>(c - 'A' + 10);
  return -1;
}

// ---- UTF-8 -------------------------------------------------------------------------

bool decode_utf8(std::string_view s, size_t pos, uint32_t* cp, size_t* len) {
  uint8_t b0 = static_cast<uint8_t>(s[pos]);
  if (b0 < 0x80) {
    *cp = b0;
    *len = 1;
    return true;
  }
  size_t n;
  uint32_t c, min;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2, c = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3, c = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4, c = b0 & 0x07, min = 0x10000;
  } else {
    return false;
  }
  if (pos + n > s.size()) return false;
  for (size_t i = 1; i < n; ++i) {
    uint8_t b = static_cast<uint8_t>(s[pos + i]);
    if ((b & 0xC0) != 0x80) return false;
    c = (c << 6) | (b & 0x3F);
  }
  if (c < min || c > kMaxCodePoint || (c >= 0xD800 && c <= 0xDFFF)) return false;
  *cp = c;
  *len = n;
  return true;
}

std::optional<std::u32string> decode_utf8(std::string_view s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    size_t len = 0;
    if (!decode_utf8(s, i, &cp, &len)) return std::nullopt;
    out += static_cast<char32_t>(cp);
    i += len;
  }
  return out;
}

int encode_utf8(uint32_t cp, uint8_t out[4]) {
  if (cp < 0x80) {
    out[0] = static_cast<uint8_t>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<uint8_t>(0xC0 | (cp >> 6));
    out[1] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<uint8_t>(0xE0 | (cp >> 12));
    out[1] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<uint8_t>(0xF0 | (cp >> 18));
  out[1] = static_cast<uint8_t>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
  return 4;
}

std::string encode_utf8(uint32_t cp) {
  uint8_t bytes[4];
  int n = encode_utf8(cp, bytes);
  return std::string(reinterpret_cast<const char*>(bytes), static_cast<size_t>(n));
}

std::vector<ByteSeq> utf8_sequences(const CodeSet& set) {
  std::vector<ByteSeq> out;
  for (const CodeRange& r : set) {
    // Surrogates have no UTF-8 encoding: drop them.
    if (r.lo < 0xD800) split_utf8(r.lo, std::min<uint32_t>(r.hi, 0xD7FF), &out);
    if (r.hi > 0xDFFF) split_utf8(std::max<uint32_t>(r.lo, 0xE000), r.hi, &out);
  }
  return out;
}

}  // namespace radix::constrained
