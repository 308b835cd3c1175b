// Regex -> byte DFA: parse to an AST of code-point sets, expand the sets to UTF-8 byte
// ranges in a Thompson NFA, determinize (subset construction over byte classes), prune
// states that cannot reach acceptance, minimize (Hopcroft) and emit the dense table.
// See regex_dfa.h for the supported syntax and semantics.
#include "runtime/constrained/regex_dfa.h"

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/check.h"

namespace radix::constrained {
namespace {

constexpr uint32_t kMaxCodePoint = 0x10FFFF;
constexpr int kMaxNesting = 500;                // group depth (bounds parser/builder recursion)
constexpr int64_t kMaxNfaStates = 1'000'000;    // "regex: too large" beyond this
constexpr int64_t kMaxRepeat = 1'000'000'000;   // counts saturate here while parsing
constexpr int64_t kMaxSubsetWork = 10'000'000;  // NFA-state visits in determinization (~40 MB)

bool decode_utf8(std::string_view s, size_t pos, uint32_t* cp, size_t* len);

// Messages quote pieces of the pattern; keep them valid, printable UTF-8 (they end up in
// JSON error bodies) by writing invalid bytes and control characters as \xHH.
std::string printable(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    size_t len = 0;
    if (decode_utf8(text, i, &cp, &len) && cp >= 0x20 && cp != 0x7F) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      uint8_t b = static_cast<uint8_t>(text[i]);
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 15];
      ++i;
    }
  }
  return out;
}

Status regex_error(const std::string& what, size_t offset) {
  return invalid_argument("regex: " + printable(what) + " at offset " + std::to_string(offset));
}

// ---- code point sets --------------------------------------------------------------

struct CodeRange {
  uint32_t lo, hi;  // inclusive
};
using CodeSet = std::vector<CodeRange>;  // sorted, disjoint, non-adjacent once normalized

void normalize(CodeSet& set) {
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
  set = std::move(out);
}

CodeSet complement(const CodeSet& normalized) {
  CodeSet out;
  uint32_t next = 0;
  for (const CodeRange& r : normalized) {
    if (r.lo > next) out.push_back({next, r.lo - 1});
    next = r.hi + 1;
  }
  if (next <= kMaxCodePoint) out.push_back({next, kMaxCodePoint});
  return out;
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

// ---- UTF-8 -------------------------------------------------------------------------

// Decodes one strict UTF-8 character (no overlongs, surrogates or > U+10FFFF).
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

// A sequence of byte ranges matching exactly the UTF-8 encodings of a code point range.
struct ByteSeq {
  uint8_t lo[4], hi[4];
  int len;
};

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

std::vector<ByteSeq> utf8_sequences(const CodeSet& set) {
  std::vector<ByteSeq> out;
  for (const CodeRange& r : set) {
    // Surrogates have no UTF-8 encoding: drop them.
    if (r.lo < 0xD800) split_utf8(r.lo, std::min<uint32_t>(r.hi, 0xD7FF), &out);
    if (r.hi > 0xDFFF) split_utf8(std::max<uint32_t>(r.lo, 0xE000), r.hi, &out);
  }
  return out;
}

// ---- AST ---------------------------------------------------------------------------

enum class NodeKind { kEmpty, kSet, kConcat, kAlt, kRepeat };

struct Node {
  NodeKind kind = NodeKind::kEmpty;
  CodeSet set;                // kSet (normalized)
  std::vector<ByteSeq> seqs;  // kSet: its UTF-8 expansion, filled by estimate_nfa_size
  std::vector<int> children;  // kConcat, kAlt; kRepeat has one
  int64_t min = 0, max = 0;   // kRepeat; max < 0 means unbounded
};

struct Quantifier {
  int64_t min = 0, max = -1;
};

// One character or a class shorthand, as read from an escape or a class item.
struct Atom {
  bool is_set = false;
  uint32_t cp = 0;
  CodeSet set;
};

bool is_octal(char c) {
  return c >= '0' && c <= '7';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_ascii_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Recursive descent over the pattern's bytes; every error names its byte offset.
class Parser {
 public:
  explicit Parser(std::string_view pattern) : p_(pattern) {}

  Result<int> parse() {
    int root = 0;
    RADIX_RETURN_IF_ERROR(parse_alternation(0, &root));
    if (pos_ < p_.size()) return regex_error("unbalanced ')'", pos_);  // only ')' stops it
    return root;
  }
  std::vector<Node>& nodes() { return nodes_; }

 private:
  size_t size() const { return p_.size(); }
  bool at(char c) const { return pos_ < p_.size() && p_[pos_] == c; }

  int add(Node node) {
    nodes_.push_back(std::move(node));
    return static_cast<int>(nodes_.size()) - 1;
  }
  int add_set(CodeSet set) {
    normalize(set);
    Node node;
    node.kind = NodeKind::kSet;
    node.set = std::move(set);
    return add(std::move(node));
  }

  Status parse_alternation(int depth, int* out) {
    std::vector<int> alternatives;
    while (true) {
      int seq = 0;
      RADIX_RETURN_IF_ERROR(parse_sequence(depth, &seq));
      alternatives.push_back(seq);
      if (!at('|')) break;
      ++pos_;
    }
    if (alternatives.size() == 1) {
      *out = alternatives[0];
    } else {
      Node node;
      node.kind = NodeKind::kAlt;
      node.children = std::move(alternatives);
      *out = add(std::move(node));
    }
    return Status::ok();
  }

  // Python's rule: {n}, {n,}, {,m}, {n,m}, {,}; anything else starting with '{' is a
  // literal '{' (returns false with *error ok).
  bool parse_brace_quantifier(size_t start, Quantifier* q, size_t* end, Status* error) {
    size_t i = start + 1;
    if (i < size() && p_[i] == '}') return false;
    auto read_number = [&](int64_t* value) {
      bool any = false;
      while (i < size() && is_digit(p_[i])) {
        *value = std::min<int64_t>(*value * 10 + (p_[i] - '0'), kMaxRepeat);
        any = true;
        ++i;
      }
      return any;
    };
    int64_t lo = 0, hi = 0;
    bool has_lo = read_number(&lo);
    bool has_hi;
    if (i < size() && p_[i] == ',') {
      ++i;
      has_hi = read_number(&hi);
    } else {
      hi = lo;
      has_hi = has_lo;
    }
    if (i >= size() || p_[i] != '}') return false;
    q->min = has_lo ? lo : 0;
    q->max = has_hi ? hi : -1;
    if (q->max >= 0 && q->min > q->max) {
      *error = regex_error("min repeat greater than max repeat in '" +
                               std::string(p_.substr(start, i + 1 - start)) + "'",
                           start);
      return false;
    }
    *end = i + 1;
    return true;
  }

  Status parse_sequence(int depth, int* out) {
    std::vector<int> items;
    bool can_repeat = false;       // the last item may take a quantifier
    bool last_quantified = false;  // the last item already has one
    while (pos_ < size()) {
      size_t start = pos_;
      char c = p_[pos_];
      if (c == '|' || c == ')') break;

      // Quantifiers.
      Quantifier q;
      size_t q_end = pos_ + 1;
      bool is_quantifier = true;
      if (c == '*') {
        q = {0, -1};
      } else if (c == '+') {
        q = {1, -1};
      } else if (c == '?') {
        q = {0, 1};
      } else if (c == '{') {
        Status error;
        is_quantifier = parse_brace_quantifier(pos_, &q, &q_end, &error);
        if (!error.is_ok()) return error;
      } else {
        is_quantifier = false;
      }
      if (is_quantifier) {
        std::string quant(p_.substr(start, q_end - start));
        if (last_quantified) return regex_error("multiple repeat '" + quant + "'", start);
        if (!can_repeat) return regex_error("nothing to repeat before '" + quant + "'", start);
        pos_ = q_end;
        if (at('?')) {
          ++pos_;  // lazy: the same language under full match
        } else if (at('+')) {
          return regex_error("possessive quantifier '" + quant + "+' is not supported", start);
        }
        Node node;
        node.kind = NodeKind::kRepeat;
        node.children = {items.back()};
        node.min = q.min;
        node.max = q.max;
        items.back() = add(std::move(node));
        can_repeat = false;
        last_quantified = true;
        continue;
      }

      int item = -1;  // stays -1 for zero-width tokens (ignored anchors, comments)
      switch (c) {
        case '(': {
          bool is_comment = false;
          RADIX_RETURN_IF_ERROR(parse_group(depth, &item, &is_comment));
          if (is_comment) continue;  // transparent, as in Python
          break;
        }
        case '[':
          RADIX_RETURN_IF_ERROR(parse_class(&item));
          break;
        case '.':
          ++pos_;
          item = add_set(complement({{'\n', '\n'}}));
          break;
        case '^':
          if (pos_ != 0) {
            return regex_error("unsupported '^' (only allowed as the first character)", pos_);
          }
          ++pos_;
          break;
        case '$':
          if (pos_ + 1 != size()) {
            return regex_error("unsupported '$' (only allowed as the last character)", pos_);
          }
          ++pos_;
          break;
        case '\\':
          if (pos_ == 0 && pos_ + 1 < size() && p_[pos_ + 1] == 'A') {
            pos_ += 2;
          } else if (pos_ + 2 == size() && p_[pos_ + 1] == 'Z') {
            pos_ += 2;
          } else {
            Atom atom;
            RADIX_RETURN_IF_ERROR(parse_escape(/*in_class=*/false, &atom));
            item = add_set(atom.is_set ? atom.set : CodeSet{{atom.cp, atom.cp}});
          }
          break;
        default: {
          uint32_t cp = 0;
          RADIX_RETURN_IF_ERROR(parse_char(&cp));
          item = add_set({{cp, cp}});
          break;
        }
      }
      last_quantified = false;
      can_repeat = item >= 0;
      if (item >= 0) items.push_back(item);
    }
    if (items.size() == 1) {
      *out = items[0];
    } else {
      Node node;
      node.kind = items.empty() ? NodeKind::kEmpty : NodeKind::kConcat;
      node.children = std::move(items);
      *out = add(std::move(node));
    }
    return Status::ok();
  }

  Status parse_group_name() {
    size_t name_start = pos_;
    while (pos_ < size() && p_[pos_] != '>') ++pos_;
    if (pos_ >= size()) return regex_error("missing '>' after group name", name_start);
    std::string_view name = p_.substr(name_start, pos_ - name_start);
    bool valid = !name.empty() && !is_digit(name[0]);
    for (char ch : name) {
      valid = valid &&
              (is_ascii_alpha(ch) || is_digit(ch) || ch == '_' || static_cast<uint8_t>(ch) >= 0x80);
    }
    if (!valid) return regex_error("bad group name '" + std::string(name) + "'", name_start);
    ++pos_;  // '>'
    return Status::ok();
  }

  Status parse_group(int depth, int* out, bool* is_comment) {
    size_t open = pos_;
    ++pos_;  // '('
    if (depth + 1 > kMaxNesting) {
      return regex_error("groups nested more than " + std::to_string(kMaxNesting) + " deep", open);
    }
    if (at('?')) {
      ++pos_;
      if (pos_ >= size()) return regex_error("unexpected end of pattern after '(?'", open);
      char kind = p_[pos_];
      char after = pos_ + 1 < size() ? p_[pos_ + 1] : '\0';
      if (kind == ':') {
        ++pos_;
      } else if (kind == 'P' && after == '<') {
        pos_ += 2;
        RADIX_RETURN_IF_ERROR(parse_group_name());
      } else if (kind == 'P' && after == '=') {
        return regex_error("backreferences ('(?P=name)') are not supported", open);
      } else if (kind == '<' && (after == '=' || after == '!')) {
        return regex_error(
            "lookbehind assertions ('(?<" + std::string(1, after) + "') are not supported", open);
      } else if (kind == '<') {
        ++pos_;
        RADIX_RETURN_IF_ERROR(parse_group_name());
      } else if (kind == '=' || kind == '!') {
        return regex_error(
            "lookahead assertions ('(?" + std::string(1, kind) + "') are not supported", open);
      } else if (kind == '#') {
        size_t close = p_.find(')', pos_);
        if (close == std::string_view::npos) return regex_error("unterminated comment", open);
        pos_ = close + 1;
        *is_comment = true;
        return Status::ok();
      } else if (kind == '>') {
        return regex_error("atomic groups ('(?>') are not supported", open);
      } else if (kind == '(') {
        return regex_error("conditional groups ('(?(') are not supported", open);
      } else if (is_ascii_alpha(kind) || kind == '-') {
        return regex_error("inline flags ('(?" + std::string(1, kind) + "...') are not supported",
                           open);
      } else {
        return regex_error("unknown extension '(?" + std::string(1, kind) + "'", open);
      }
    }
    RADIX_RETURN_IF_ERROR(parse_alternation(depth + 1, out));
    if (!at(')')) return regex_error("missing ')' for the group opened", open);
    ++pos_;
    return Status::ok();
  }

  // One (possibly multi-byte) literal character at pos_.
  Status parse_char(uint32_t* cp) {
    size_t len = 0;
    if (!decode_utf8(p_, pos_, cp, &len)) return regex_error("invalid UTF-8 in the pattern", pos_);
    pos_ += len;
    return Status::ok();
  }

  Status parse_hex(size_t start, int digits, uint32_t* cp) {
    uint32_t value = 0;
    for (int i = 0; i < digits; ++i) {
      int h = pos_ < size() ? hex_value(p_[pos_]) : -1;
      if (h < 0) {
        return regex_error("incomplete escape '" + std::string(p_.substr(start, pos_ - start)) +
                               "' (expects " + std::to_string(digits) + " hex digits)",
                           start);
      }
      value = value * 16 + static_cast<uint32_t>(h);
      ++pos_;
    }
    if (value > kMaxCodePoint) {
      return regex_error(
          "escape '" + std::string(p_.substr(start, pos_ - start)) + "' is beyond U+10FFFF", start);
    }
    *cp = value;
    return Status::ok();
  }

  // Reads up to `max_digits` octal digits at pos_ (at least one is there).
  Status parse_octal(size_t start, int max_digits, uint32_t* cp) {
    uint32_t value = 0;
    for (int i = 0; i < max_digits && pos_ < size() && is_octal(p_[pos_]); ++i, ++pos_) {
      value = value * 8 + static_cast<uint32_t>(p_[pos_] - '0');
    }
    if (value > 0377) {
      return regex_error(
          "octal escape '" + std::string(p_.substr(start, pos_ - start)) + "' is beyond \\377",
          start);
    }
    *cp = value;
    return Status::ok();
  }

  Status parse_escape(bool in_class, Atom* atom) {
    size_t start = pos_;
    ++pos_;  // '\'
    if (pos_ >= size()) return regex_error("dangling '\\' at the end of the pattern", start);
    char c = p_[pos_];
    auto single = [&](uint32_t cp) {
      ++pos_;
      atom->cp = cp;
      return Status::ok();
    };
    static constexpr std::pair<char, char> kControlEscapes[] = {
        {'n', '\n'}, {'t', '\t'}, {'r', '\r'}, {'f', '\f'}, {'v', '\v'}, {'a', '\a'}};
    for (auto [letter, value] : kControlEscapes) {
      if (c == letter) return single(static_cast<uint8_t>(value));
    }
    switch (c) {
      case 'd':
      case 'w':
      case 's':
        ++pos_;
        atom->is_set = true;
        atom->set = ascii_class(c);
        return Status::ok();
      case 'D':
      case 'W':
      case 'S':
        ++pos_;
        atom->is_set = true;
        atom->set = complement(ascii_class(static_cast<char>(c - 'A' + 'a')));
        return Status::ok();
      case 'b':
        if (in_class) return single('\b');
        return regex_error("word boundaries ('\\b') are not supported", start);
      case 'B':
        return regex_error("word boundaries ('\\B') are not supported", start);
      case 'A':
      case 'Z':
        return regex_error("'\\" + std::string(1, c) + "' is only supported at the " +
                               (c == 'A' ? "start" : "end") + " of the pattern",
                           start);
      case 'x':
        ++pos_;
        return parse_hex(start, 2, &atom->cp);
      case 'u':
        ++pos_;
        return parse_hex(start, 4, &atom->cp);
      case 'U':
        ++pos_;
        return parse_hex(start, 8, &atom->cp);
      case 'N':
        return regex_error("named characters ('\\N{...}') are not supported", start);
      default:
        break;
    }
    if (is_digit(c)) {
      if (c == '0') return parse_octal(start, 3, &atom->cp);
      if (in_class) {
        if (!is_octal(c)) return regex_error("bad escape '\\" + std::string(1, c) + "'", start);
        return parse_octal(start, 3, &atom->cp);
      }
      // Python: three octal digits are an octal escape, otherwise a group reference.
      if (is_octal(c) && pos_ + 2 < size() && is_octal(p_[pos_ + 1]) && is_octal(p_[pos_ + 2])) {
        return parse_octal(start, 3, &atom->cp);
      }
      return regex_error("backreferences ('\\" + std::string(1, c) + "') are not supported", start);
    }
    if (is_ascii_alpha(c)) return regex_error("bad escape '\\" + std::string(1, c) + "'", start);
    return parse_char(&atom->cp);  // escaped punctuation, space or non-ASCII: itself
  }

  Status parse_class_atom(Atom* atom) {
    if (at('\\')) return parse_escape(/*in_class=*/true, atom);
    return parse_char(&atom->cp);
  }

  Status parse_class(int* out) {
    size_t open = pos_;
    ++pos_;  // '['
    bool negate = false;
    if (at('^')) {
      negate = true;
      ++pos_;
    }
    CodeSet set;
    bool first = true;
    while (true) {
      if (pos_ >= size()) return regex_error("unterminated character set", open);
      if (at(']') && !first) {
        ++pos_;
        break;
      }
      first = false;
      size_t item_start = pos_;
      Atom lo;
      RADIX_RETURN_IF_ERROR(parse_class_atom(&lo));
      if (at('-') && pos_ + 1 < size() && p_[pos_ + 1] != ']') {
        ++pos_;
        Atom hi;
        RADIX_RETURN_IF_ERROR(parse_class_atom(&hi));
        std::string range(p_.substr(item_start, pos_ - item_start));
        if (lo.is_set || hi.is_set) return regex_error("bad character range " + range, item_start);
        if (lo.cp > hi.cp) return regex_error("bad character range " + range, item_start);
        set.push_back({lo.cp, hi.cp});
      } else if (lo.is_set) {
        set.insert(set.end(), lo.set.begin(), lo.set.end());
      } else {
        set.push_back({lo.cp, lo.cp});
      }
    }
    normalize(set);
    *out = add_set(negate ? complement(set) : set);
    return Status::ok();
  }

  std::string_view p_;
  size_t pos_ = 0;
  std::vector<Node> nodes_;
};

// ---- NFA ---------------------------------------------------------------------------

// Upper bound on the NFA states `node` expands to, saturating at kMaxNfaStates + 1 so
// that huge counted repetitions are rejected before anything is allocated.
int64_t estimate_nfa_size(std::vector<Node>& nodes, int index) {
  constexpr int64_t kCap = kMaxNfaStates + 1;
  Node& node = nodes[index];
  int64_t total = 1;
  switch (node.kind) {
    case NodeKind::kEmpty:
      break;
    case NodeKind::kSet:
      node.seqs = utf8_sequences(node.set);
      for (const ByteSeq& seq : node.seqs) total += seq.len;
      break;
    case NodeKind::kConcat:
    case NodeKind::kAlt:
      for (int child : node.children) {
        total = std::min(kCap, total + estimate_nfa_size(nodes, child));
      }
      break;
    case NodeKind::kRepeat: {
      int64_t body = estimate_nfa_size(nodes, node.children[0]) + 1;
      int64_t copies = node.max < 0 ? node.min + 1 : std::max<int64_t>(node.max, 1);
      total = body > kCap / copies ? kCap : std::min(kCap, body * copies + 1);
      break;
    }
  }
  return std::min(total, kCap);
}

// Thompson NFA over bytes. A state either consumes one byte in [lo, hi] and goes to
// `out`, or (lo < 0) has epsilon moves to `eps`. State 0 is the match state.
struct NfaState {
  int16_t lo = -1, hi = -1;
  int32_t out = -1;
  std::vector<int32_t> eps;
};

class NfaBuilder {
 public:
  explicit NfaBuilder(const std::vector<Node>& nodes) : nodes_(nodes) {
    states_.emplace_back();  // kMatch
  }
  static constexpr int32_t kMatch = 0;

  // Builds `index` so that a match of it continues at state `next`; returns its entry.
  int32_t build(int index, int32_t next) {
    const Node& node = nodes_[index];
    switch (node.kind) {
      case NodeKind::kEmpty:
        return next;
      case NodeKind::kSet:
        return build_set(node, next);
      case NodeKind::kConcat:
        for (auto it = node.children.rbegin(); it != node.children.rend(); ++it) {
          next = build(*it, next);
        }
        return next;
      case NodeKind::kAlt: {
        std::vector<int32_t> entries;
        for (int child : node.children) entries.push_back(build(child, next));
        return add_epsilon(std::move(entries));
      }
      case NodeKind::kRepeat: {
        int body = node.children[0];
        int32_t tail = next;
        if (node.max < 0) {
          int32_t loop = add_epsilon({});
          int32_t entry = build(body, loop);
          states_[loop].eps = {entry, next};
          tail = loop;
        } else {
          // Optional copies nest as (x(x(x)?)?)? so that after k bytes of input only one
          // copy is live, instead of x?x?x? where every later copy is.
          for (int64_t i = node.min; i < node.max; ++i) {
            int32_t entry = build(body, tail);
            tail = add_epsilon({entry, next});
          }
        }
        for (int64_t i = 0; i < node.min; ++i) tail = build(body, tail);
        return tail;
      }
    }
    return next;
  }

  std::vector<NfaState> take() { return std::move(states_); }

 private:
  int32_t add_epsilon(std::vector<int32_t> targets) {
    NfaState s;
    s.eps = std::move(targets);
    states_.push_back(std::move(s));
    return static_cast<int32_t>(states_.size()) - 1;
  }

  int32_t build_set(const Node& node, int32_t next) {
    // Share suffixes such as the trailing [80-BF] continuation bytes within one set.
    std::map<std::tuple<int, int, int32_t>, int32_t> memo;
    auto range_state = [&](int lo, int hi, int32_t out) {
      auto [it, inserted] = memo.try_emplace({lo, hi, out}, 0);
      if (inserted) {
        NfaState s;
        s.lo = static_cast<int16_t>(lo);
        s.hi = static_cast<int16_t>(hi);
        s.out = out;
        states_.push_back(std::move(s));
        it->second = static_cast<int32_t>(states_.size()) - 1;
      }
      return it->second;
    };
    std::vector<int32_t> entries;
    for (const ByteSeq& seq : node.seqs) {
      int32_t t = next;
      for (int k = seq.len - 1; k >= 0; --k) t = range_state(seq.lo[k], seq.hi[k], t);
      entries.push_back(t);
    }
    std::sort(entries.begin(), entries.end());
    entries.erase(std::unique(entries.begin(), entries.end()), entries.end());
    if (entries.size() == 1) return entries[0];
    return add_epsilon(std::move(entries));  // none: a state with no moves (empty set)
  }

  const std::vector<Node>& nodes_;
  std::vector<NfaState> states_;
};

// ---- determinization ---------------------------------------------------------------

struct VectorHash {
  size_t operator()(const std::vector<int32_t>& v) const {
    uint64_t h = 1469598103934665603ull;
    for (int32_t x : v) h = (h ^ static_cast<uint32_t>(x)) * 1099511628211ull;
    return static_cast<size_t>(h);
  }
};

// A DFA over byte classes (bytes no NFA range distinguishes share a class).
struct ClassDfa {
  std::array<uint8_t, 256> byte_class{};
  int num_classes = 0;
  std::vector<int32_t> trans;  // [num_states][num_classes], -1 = no move
  std::vector<uint8_t> accepting;
  int32_t num_states() const { return static_cast<int32_t>(accepting.size()); }
  int32_t at(int32_t s, int c) const { return trans[static_cast<size_t>(s) * num_classes + c]; }
};

Result<ClassDfa> determinize(const std::vector<NfaState>& nfa, int32_t nfa_start,
                             const DfaLimits& limits) {
  ClassDfa dfa;
  std::array<bool, 257> boundary{};
  boundary[0] = true;
  for (const NfaState& s : nfa) {
    if (s.lo < 0) continue;
    boundary[s.lo] = true;
    boundary[s.hi + 1] = true;
  }
  int cls = -1;
  for (int b = 0; b < 256; ++b) {
    if (boundary[b]) ++cls;
    dfa.byte_class[b] = static_cast<uint8_t>(cls);
  }
  const int num_classes = dfa.num_classes = cls + 1;

  int64_t work = 0;
  std::vector<uint32_t> mark(nfa.size(), 0);
  uint32_t stamp = 0;
  std::vector<int32_t> stack;
  // Epsilon closure of `seeds`, keeping only the states that matter for the subset:
  // byte-consuming states and the match state.
  auto closure = [&](const std::vector<int32_t>& seeds) {
    ++stamp;
    std::vector<int32_t> result;
    stack.assign(seeds.begin(), seeds.end());
    while (!stack.empty()) {
      int32_t s = stack.back();
      stack.pop_back();
      if (mark[s] == stamp) continue;
      mark[s] = stamp;
      ++work;
      const NfaState& st = nfa[s];
      if (st.lo >= 0 || s == NfaBuilder::kMatch) {
        result.push_back(s);
      } else {
        stack.insert(stack.end(), st.eps.begin(), st.eps.end());
      }
    }
    std::sort(result.begin(), result.end());
    return result;
  };

  std::unordered_map<std::vector<int32_t>, int32_t, VectorHash> ids;
  std::vector<const std::vector<int32_t>*> sets;
  auto too_complex = [&]() {
    return invalid_argument("regex: too complex: more than " + std::to_string(limits.max_states) +
                            " DFA states");
  };
  auto intern = [&](std::vector<int32_t> set) -> int32_t {
    auto [it, inserted] = ids.try_emplace(std::move(set), static_cast<int32_t>(sets.size()));
    if (inserted) {
      sets.push_back(&it->first);
      dfa.accepting.push_back(
          std::binary_search(it->first.begin(), it->first.end(), NfaBuilder::kMatch));
    }
    return it->second;
  };

  std::vector<int32_t> start = closure({nfa_start});
  intern(std::move(start));
  std::vector<std::vector<int32_t>> buckets(num_classes);
  std::vector<std::pair<size_t, int>> distinct;  // (hash, class) of this state's buckets
  for (size_t d = 0; d < sets.size(); ++d) {
    if (static_cast<int64_t>(sets.size()) > limits.max_states) return too_complex();
    for (auto& b : buckets) b.clear();
    for (int32_t s : *sets[d]) {
      const NfaState& st = nfa[s];
      if (st.lo < 0) continue;
      for (int c = dfa.byte_class[st.lo]; c <= dfa.byte_class[st.hi]; ++c) {
        buckets[c].push_back(st.out);
      }
      work += dfa.byte_class[st.hi] - dfa.byte_class[st.lo] + 1;
    }
    // Classes often share a bucket (one wide range covers many): close each once.
    distinct.clear();
    for (int c = 0; c < num_classes; ++c) {
      int32_t target = -1;
      if (!buckets[c].empty()) {
        size_t hash = VectorHash()(buckets[c]);
        auto same = std::find_if(distinct.begin(), distinct.end(), [&](const auto& seen) {
          return seen.first == hash && buckets[seen.second] == buckets[c];
        });
        if (same != distinct.end()) {
          target = dfa.at(static_cast<int32_t>(d), same->second);
        } else {
          std::vector<int32_t> next = closure(buckets[c]);
          if (!next.empty()) target = intern(std::move(next));
          distinct.emplace_back(hash, c);
        }
      }
      dfa.trans.push_back(target);
    }
    if (work > kMaxSubsetWork) {
      return invalid_argument(
          "regex: too complex: determinization exceeded its work budget (try smaller "
          "counted repetitions)");
    }
  }
  if (static_cast<int64_t>(sets.size()) > limits.max_states) return too_complex();
  return dfa;
}

// ---- pruning and minimization ------------------------------------------------------

// Returns, for each state, the id of its class of equivalent states (Hopcroft's
// partition refinement), with every state that cannot reach acceptance in class -1.
// Classes are numbered 0..*num_classes_out-1.
std::vector<int32_t> minimize(const ClassDfa& dfa, int32_t* num_blocks_out) {
  const int32_t n = dfa.num_states();
  const int k = dfa.num_classes;

  // Live states: those that can reach an accepting state.
  std::vector<std::vector<int32_t>> reverse(n);
  for (int32_t s = 0; s < n; ++s) {
    for (int c = 0; c < k; ++c) {
      int32_t t = dfa.at(s, c);
      if (t >= 0) reverse[t].push_back(s);
    }
  }
  std::vector<uint8_t> live(n, 0);
  std::vector<int32_t> queue;
  for (int32_t s = 0; s < n; ++s) {
    if (dfa.accepting[s]) {
      live[s] = 1;
      queue.push_back(s);
    }
  }
  for (size_t i = 0; i < queue.size(); ++i) {
    for (int32_t p : reverse[queue[i]]) {
      if (!live[p]) {
        live[p] = 1;
        queue.push_back(p);
      }
    }
  }
  reverse.clear();

  // Complete DFA over the live states plus one sink (index m) standing for kDead.
  std::vector<int32_t> compact(n, -1), original;
  for (int32_t s = 0; s < n; ++s) {
    if (live[s]) {
      compact[s] = static_cast<int32_t>(original.size());
      original.push_back(s);
    }
  }
  const int32_t m = static_cast<int32_t>(original.size());
  const int32_t total = m + 1;
  auto delta = [&](int32_t s, int c) -> int32_t {
    if (s == m) return m;
    int32_t t = dfa.at(original[s], c);
    return t < 0 || compact[t] < 0 ? m : compact[t];
  };

  // Predecessors by (target, class), CSR.
  std::vector<int32_t> pred_start(static_cast<size_t>(total) * k + 1, 0);
  for (int32_t s = 0; s < total; ++s) {
    for (int c = 0; c < k; ++c) ++pred_start[static_cast<size_t>(delta(s, c)) * k + c + 1];
  }
  for (size_t i = 1; i < pred_start.size(); ++i) pred_start[i] += pred_start[i - 1];
  std::vector<int32_t> preds(pred_start.back());
  {
    std::vector<int32_t> fill(pred_start.begin(), pred_start.end() - 1);
    for (int32_t s = 0; s < total; ++s) {
      for (int c = 0; c < k; ++c) preds[fill[static_cast<size_t>(delta(s, c)) * k + c]++] = s;
    }
  }

  // Partition: elems is a permutation of the states; each block is a contiguous slice.
  struct Block {
    int32_t start, end, marked;
  };
  std::vector<Block> blocks;
  std::vector<int32_t> elems(total), loc(total), block_of(total);
  {
    int32_t i = 0;
    for (int pass = 0; pass < 2; ++pass) {
      int32_t begin = i;
      for (int32_t s = 0; s < total; ++s) {
        bool acc = s < m && dfa.accepting[original[s]];
        if (acc == (pass == 0)) {
          elems[i] = s;
          loc[s] = i;
          block_of[s] = static_cast<int32_t>(blocks.size());
          ++i;
        }
      }
      if (i > begin) blocks.push_back({begin, i, 0});
    }
  }
  std::vector<int32_t> worklist;
  std::vector<uint8_t> in_worklist;
  for (int32_t b = 0; b < static_cast<int32_t>(blocks.size()); ++b) {
    worklist.push_back(b);
    in_worklist.push_back(1);
  }

  std::vector<int32_t> splitter, touched;
  while (!worklist.empty()) {
    int32_t a = worklist.back();
    worklist.pop_back();
    in_worklist[a] = 0;
    splitter.assign(elems.begin() + blocks[a].start, elems.begin() + blocks[a].end);
    for (int c = 0; c < k; ++c) {
      touched.clear();
      for (int32_t t : splitter) {
        size_t key = static_cast<size_t>(t) * k + c;
        for (int32_t i = pred_start[key]; i < pred_start[key + 1]; ++i) {
          int32_t s = preds[i];
          Block& b = blocks[block_of[s]];
          if (b.marked == 0) touched.push_back(block_of[s]);
          // Move s into the marked prefix of its block.
          int32_t dst = b.start + b.marked;
          int32_t other = elems[dst];
          std::swap(elems[loc[s]], elems[dst]);
          loc[other] = loc[s];
          loc[s] = dst;
          ++b.marked;
        }
      }
      for (int32_t b : touched) {
        Block& blk = blocks[b];
        int32_t marked = blk.marked;
        blk.marked = 0;
        int32_t size = blk.end - blk.start;
        if (marked == size) continue;
        // The smaller part gets the new id, so relabelling stays O(n log n).
        Block fresh;
        if (marked <= size - marked) {
          fresh = {blk.start, blk.start + marked, 0};
          blk.start += marked;
        } else {
          fresh = {blk.start + marked, blk.end, 0};
          blk.end = blk.start + marked;
        }
        int32_t nb = static_cast<int32_t>(blocks.size());
        blocks.push_back(fresh);
        for (int32_t i = fresh.start; i < fresh.end; ++i) block_of[elems[i]] = nb;
        in_worklist.push_back(0);
        if (in_worklist[b]) {
          worklist.push_back(nb);
          in_worklist[nb] = 1;
        } else {
          // Either half suffices (Hopcroft): take the smaller.
          int32_t smaller = (fresh.end - fresh.start) <= (blocks[b].end - blocks[b].start) ? nb : b;
          worklist.push_back(smaller);
          in_worklist[smaller] = 1;
        }
      }
    }
  }

  // Number the blocks; the sink's block is -1 (only the sink can be in it: every other
  // state reaches acceptance).
  const int32_t sink_block = block_of[m];
  std::vector<int32_t> block_id(blocks.size(), -1);
  int32_t next_id = 0;
  std::vector<int32_t> result(n, -1);
  for (int32_t s = 0; s < m; ++s) {
    int32_t b = block_of[s];
    RADIX_CHECK_NE(b, sink_block);
    if (block_id[b] < 0) block_id[b] = next_id++;
    result[original[s]] = block_id[b];
  }
  *num_blocks_out = next_id;
  return result;
}

}  // namespace

// Assembles the final Dfa from a ClassDfa and its minimization.
class DfaBuilder {
 public:
  static Dfa assemble(const ClassDfa& dfa) {
    Dfa out;
    int32_t num_blocks = 0;
    std::vector<int32_t> block = minimize(dfa, &num_blocks);
    if (block[0] < 0) {  // the language is empty: one state, no moves
      out.table_.assign(256, Dfa::kDead);
      out.accepting_.assign(1, 0);
      out.can_continue_.assign(1, 0);
      return out;
    }
    // Representatives per block, then breadth-first numbering from the start.
    std::vector<int32_t> rep(num_blocks, -1);
    for (int32_t s = 0; s < dfa.num_states(); ++s) {
      if (block[s] >= 0 && rep[block[s]] < 0) rep[block[s]] = s;
    }
    std::vector<int32_t> order, number(num_blocks, -1);
    number[block[0]] = 0;
    order.push_back(block[0]);
    for (size_t i = 0; i < order.size(); ++i) {
      for (int c = 0; c < dfa.num_classes; ++c) {
        int32_t t = dfa.at(rep[order[i]], c);
        int32_t tb = t < 0 ? -1 : block[t];
        if (tb >= 0 && number[tb] < 0) {
          number[tb] = static_cast<int32_t>(order.size());
          order.push_back(tb);
        }
      }
    }
    const size_t count = order.size();
    out.table_.assign(count * 256, Dfa::kDead);
    out.accepting_.assign(count, 0);
    out.can_continue_.assign(count, 0);
    for (size_t i = 0; i < count; ++i) {
      int32_t s = rep[order[i]];
      out.accepting_[i] = dfa.accepting[s];
      for (int b = 0; b < 256; ++b) {
        int32_t t = dfa.at(s, dfa.byte_class[b]);
        int32_t v = t < 0 || block[t] < 0 ? Dfa::kDead : number[block[t]];
        out.table_[i * 256 + b] = v;
        if (v != Dfa::kDead) out.can_continue_[i] = 1;
      }
    }
    return out;
  }
};

Result<Dfa> Dfa::compile(std::string_view pattern, const DfaLimits& limits) {
  Parser parser(pattern);
  RADIX_ASSIGN_OR_RETURN(int root, parser.parse());
  std::vector<Node>& nodes = parser.nodes();
  if (estimate_nfa_size(nodes, root) > kMaxNfaStates) {
    return invalid_argument("regex: too large: it expands to more than " +
                            std::to_string(kMaxNfaStates) +
                            " NFA states (counted repetitions such as {n,m} are expanded)");
  }
  NfaBuilder builder(nodes);
  int32_t nfa_start = builder.build(root, NfaBuilder::kMatch);
  std::vector<NfaState> nfa = builder.take();
  RADIX_ASSIGN_OR_RETURN(ClassDfa dfa, determinize(nfa, nfa_start, limits));
  return DfaBuilder::assemble(dfa);
}

bool Dfa::matches(std::string_view text) const {
  int32_t s = start();
  for (char ch : text) {
    s = next(s, static_cast<uint8_t>(ch));
    if (s == kDead) return false;
  }
  return accepting(s);
}

}  // namespace radix::constrained
