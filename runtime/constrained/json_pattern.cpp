// JSON schema `pattern` translator: a small recursive-descent parser over the pattern's
// code points that writes the regex as it goes, each set of characters through
// encode_set (JSON encodings of decoded characters). See json_pattern.h.
#include "runtime/constrained/json_pattern.h"

#include <optional>
#include <utility>
#include <vector>

#include "runtime/constrained/codepoints.h"
#include "runtime/constrained/regex_text.h"

namespace radix::constrained {
namespace {

constexpr int kMaxPatternNesting = 100;

std::string hex(uint32_t c, int digits) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out(static_cast<size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, c >>= 4) out[static_cast<size_t>(i)] = kHex[c & 0xF];
  return out;
}

// A code point as a class member: printable ASCII as itself, others as \xHH / \uHHHH,
// astral ones as raw UTF-8 (regex_dfa.h reads UTF-8 in classes).
std::string class_member(uint32_t c) {
  if (c >= 0x20 && c < 0x7F) {
    const char ch = static_cast<char>(c);
    return std::string_view(R"(\]^-[)").find(ch) != std::string_view::npos ? std::string{'\\', ch}
                                                                           : std::string(1, ch);
  }
  if (c < 0x100) return "\\x" + hex(c, 2);
  if (c < 0x10000) return "\\u" + hex(c, 4);
  return encode_utf8(c);
}

std::string class_body(const CodeSet& s) {
  std::string out;
  for (const auto& [lo, hi] : s) {
    out += class_member(lo);
    if (hi > lo) out += (hi > lo + 1 ? "-" : "") + class_member(hi);
  }
  return out;
}

// Characters a JSON string never carries raw in our output: '"', '\', controls, DEL, C1.
const CodeSet& raw_forbidden() {
  static const CodeSet s = {{0x00, 0x1F}, {'"', '"'}, {'\\', '\\'}, {0x7F, 0x9F}};
  return s;
}

// The JSON encodings of a set of decoded characters: raw where allowed, short escapes
// for '"' '\' \b \f \n \r \t; other forbidden characters are dropped (never emitted).
// nullopt when nothing is left.
std::optional<std::string> encode_set(const CodeSet& set) {
  std::vector<std::string> alts;
  const CodeSet safe = subtract(set, raw_forbidden());
  if (safe.size() == 1 && safe[0].lo == safe[0].hi) {
    const uint32_t c = safe[0].lo;
    if (c < 0x80) {
      alts.push_back(regex_escape(std::string(1, static_cast<char>(c))));
    } else {
      alts.push_back("[" + class_member(c) + "]");
    }
  } else if (!safe.empty()) {
    // A set reaching the end of Unicode is written as the negation of its (BMP) rest.
    alts.push_back(safe.back().hi == kMaxCodePoint ? "[^" + class_body(complement(safe)) + "]"
                                                   : "[" + class_body(safe) + "]");
  }
  static const std::pair<char32_t, const char*> kShortEscapes[] = {
      {'"', "\""}, {'\\', "\\\\"}, {0x08, "b"}, {0x0C, "f"}, {0x0A, "n"}, {0x0D, "r"}, {0x09, "t"}};
  std::string letters;
  int count = 0;
  for (const auto& [c, letter] : kShortEscapes) {
    if (contains(set, c)) {
      letters += letter;
      ++count;
    }
  }
  if (count == 1) alts.push_back("\\\\" + letters);
  if (count > 1) alts.push_back("\\\\[" + letters + "]");
  if (alts.empty()) return std::nullopt;
  return alternation(alts);
}

// Translates a JSON Schema `pattern` (over the decoded string) into a regex over the
// string's JSON encoding, checking it stays within the supported syntax.
class PatternTranslator {
 public:
  PatternTranslator(std::u32string p, std::string source)
      : p_(std::move(p)), source_(std::move(source)) {}

  Result<std::string> run() {
    end_ = p_.size();
    if (!p_.empty() && p_[0] == '^') pos_ = 1;
    if (end_ > pos_ && p_[end_ - 1] == '$' && !escaped_at(end_ - 1)) --end_;
    RADIX_ASSIGN_OR_RETURN(std::string body, parse_alternation(0));
    if (pos_ != end_) return error("unbalanced ')'");
    return body;
  }

 private:
  Status error(const std::string& what) const {
    return invalid_argument("pattern '" + source_ + "': " + what + " (at character " +
                            std::to_string(pos_) + ")");
  }
  bool escaped_at(size_t i) const {
    size_t n = 0;
    while (i > n && p_[i - n - 1] == '\\') ++n;
    return n % 2 == 1;
  }
  bool at(char32_t c) const { return pos_ < end_ && p_[pos_] == c; }

  Result<std::string> parse_alternation(int depth) {
    if (depth > kMaxPatternNesting) return error("groups nested too deeply");
    std::vector<std::string> alts;
    while (true) {
      RADIX_ASSIGN_OR_RETURN(std::string seq, parse_sequence(depth));
      alts.push_back(std::move(seq));
      if (!at('|')) break;
      ++pos_;
    }
    return join(alts, "|");
  }

  Result<std::string> parse_sequence(int depth) {
    std::string out;
    while (pos_ < end_ && !at('|') && !at(')')) {
      RADIX_ASSIGN_OR_RETURN(std::string atom, parse_atom(depth));
      RADIX_ASSIGN_OR_RETURN(std::string q, parse_quantifier());
      out += q.empty() ? atom : "(?:" + atom + ")" + q;
    }
    return out;
  }

  // "{n}", "{n,}", "{n,m}", "{,m}" at pos_, or nullopt (then '{' is a literal, as in Python).
  std::optional<std::string> brace_quantifier(size_t* next) const {
    size_t i = pos_ + 1;
    auto number = [&](std::optional<int64_t>* v) {
      int64_t n = 0;
      size_t start = i;
      while (i < end_ && p_[i] >= '0' && p_[i] <= '9' && i - start < 9)
        n = n * 10 + (p_[i++] - '0');
      if (i > start) *v = n;
    };
    std::optional<int64_t> lo, hi;
    number(&lo);
    bool comma = false;
    if (i < end_ && p_[i] == ',') {
      comma = true;
      ++i;
      number(&hi);
    }
    if (i >= end_ || p_[i] != '}' || (!lo && !hi)) return std::nullopt;
    *next = i + 1;
    if (!comma) return "{" + std::to_string(*lo) + "}";
    return "{" + std::to_string(lo.value_or(0)) + "," + (hi ? std::to_string(*hi) : "") + "}";
  }

  Result<std::string> parse_quantifier() {
    std::string q;
    if (at('*') || at('+') || at('?')) {
      q = std::string(1, static_cast<char>(p_[pos_++]));
    } else if (at('{')) {
      size_t next = 0;
      auto b = brace_quantifier(&next);
      if (!b) return q;
      // {n,m} with n > m
      const size_t comma = b->find(',');
      if (comma != std::string::npos && comma + 2 < b->size() &&
          std::stoll(b->substr(1, comma - 1)) > std::stoll(b->substr(comma + 1))) {
        return error("quantifier " + *b + " has min > max");
      }
      q = *b;
      pos_ = next;
    } else {
      return q;
    }
    if (at('?')) ++pos_;  // lazy: the same language under full match
    size_t unused = 0;
    if (at('*') || at('+') || at('?') || (at('{') && brace_quantifier(&unused))) {
      return error("multiple repeat (possessive quantifiers are not supported)");
    }
    return q;
  }

  Result<std::string> encoded(const CodeSet& set) const {
    auto r = encode_set(normalized(set));
    if (!r) return error("matches only characters radix never emits in a JSON string (controls)");
    return *r;
  }

  Result<std::string> parse_atom(int depth) {
    const char32_t c = p_[pos_];
    switch (c) {
      case '(': {
        ++pos_;
        if (at('?')) {
          const bool non_capturing = pos_ + 1 < end_ && p_[pos_ + 1] == ':';
          const bool named = pos_ + 2 < end_ &&
                             ((p_[pos_ + 1] == 'P' && p_[pos_ + 2] == '<') ||
                              (p_[pos_ + 1] == '<' && p_[pos_ + 2] != '=' && p_[pos_ + 2] != '!'));
          if (non_capturing) {
            pos_ += 2;
          } else if (named) {
            while (pos_ < end_ && p_[pos_] != '>') ++pos_;
            if (pos_ == end_) return error("unterminated group name");
            ++pos_;
          } else {
            return error("lookarounds, inline flags and backreferences are not supported");
          }
        }
        RADIX_ASSIGN_OR_RETURN(std::string body, parse_alternation(depth + 1));
        if (!at(')')) return error("missing ')'");
        ++pos_;
        return "(?:" + body + ")";
      }
      case '[':
        return parse_class();
      case '.': {
        ++pos_;
        // ECMA-262 '.': anything but line terminators.
        return encoded(complement({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}}));
      }
      case '\\': {
        RADIX_ASSIGN_OR_RETURN(CodeSet set, parse_escape(false));
        return encoded(set);
      }
      case '^':
      case '$':
        return error("anchors are supported only at the start and end of the pattern");
      case '*':
      case '+':
      case '?':
        return error("nothing to repeat");
      case '{': {
        size_t unused = 0;
        if (brace_quantifier(&unused)) return error("nothing to repeat");
        ++pos_;
        return encoded({{c, c}});
      }
      default:
        ++pos_;
        return encoded({{c, c}});
    }
  }

  // After '\' (pos_ at the '\').
  Result<CodeSet> parse_escape(bool in_class) {
    ++pos_;
    if (pos_ >= end_) return error("trailing backslash");
    const char32_t e = p_[pos_++];
    static const CodeSet kDigit = ascii_class('d');
    static const CodeSet kWord = ascii_class('w');
    static const CodeSet kSpaceAscii = ascii_class('s');
    // ECMA-262 white space and line terminators: \S excludes all of them.
    static const CodeSet kSpaceEcma = {
        {0x09, 0x0D},     {' ', ' '},       {0xA0, 0xA0},     {0x1680, 0x1680}, {0x2000, 0x200A},
        {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};
    auto hex_digits = [&](int n) -> std::optional<char32_t> {
      char32_t v = 0;
      for (int i = 0; i < n; ++i, ++pos_) {
        if (pos_ >= end_) return std::nullopt;
        const int d = hex_value(p_[pos_]);
        if (d < 0) return std::nullopt;
        v = v * 16 + static_cast<char32_t>(d);
      }
      return v;
    };
    auto single = [](char32_t x) { return CodeSet{{x, x}}; };
    switch (e) {
      case 'd':
        return kDigit;
      case 'D':
        return complement(kDigit);
      case 'w':
        return kWord;
      case 'W':
        return complement(kWord);
      case 's':
        return kSpaceAscii;
      case 'S':
        return complement(kSpaceEcma);
      case 'n':
        return single('\n');
      case 't':
        return single('\t');
      case 'r':
        return single('\r');
      case 'f':
        return single('\f');
      case 'v':
        return single('\v');
      case '0':
        return single(0);
      case 'b':
        if (in_class) return single(0x08);
        return error("word boundaries (\\b) are not supported");
      case 'x':
      case 'u':
      case 'U': {
        if (at('{')) return error("\\u{...} escapes are not supported");
        auto v = hex_digits(e == 'x' ? 2 : e == 'u' ? 4 : 8);
        if (!v || *v > kMaxCodePoint)
          return error("bad \\" + std::string(1, static_cast<char>(e)) + " escape");
        return single(*v);
      }
      default:
        break;
    }
    if (e >= '1' && e <= '9') return error("backreferences are not supported");
    if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) {
      return error("unsupported escape \\" + std::string(1, static_cast<char>(e)));
    }
    return single(e);  // escaped punctuation (or any non-ASCII character) is itself
  }

  Result<std::string> parse_class() {
    ++pos_;
    const bool negate = at('^');
    if (negate) ++pos_;
    CodeSet set;
    bool first = true;
    // One member: a code point (range endpoint) or a set from \d \w \s and friends.
    auto member = [&](CodeSet* out, std::optional<char32_t>* cp) -> Status {
      if (at('\\')) {
        RADIX_ASSIGN_OR_RETURN(*out, parse_escape(true));
      } else {
        *out = {{p_[pos_], p_[pos_]}};
        ++pos_;
      }
      *cp = out->size() == 1 && (*out)[0].lo == (*out)[0].hi ? std::optional<char32_t>((*out)[0].lo)
                                                             : std::nullopt;
      return Status::ok();
    };
    while (true) {
      if (pos_ >= end_) return error("unterminated character class");
      if (at(']') && !first) {
        ++pos_;
        break;
      }
      first = false;
      CodeSet a;
      std::optional<char32_t> a_cp;
      RADIX_RETURN_IF_ERROR(member(&a, &a_cp));
      if (at('-') && pos_ + 1 < end_ && p_[pos_ + 1] != ']') {
        ++pos_;
        CodeSet b;
        std::optional<char32_t> b_cp;
        RADIX_RETURN_IF_ERROR(member(&b, &b_cp));
        if (!a_cp || !b_cp || *a_cp > *b_cp) return error("bad range in character class");
        set.push_back({*a_cp, *b_cp});
      } else {
        set.insert(set.end(), a.begin(), a.end());
      }
    }
    set = normalized(set);
    return encoded(negate ? complement(set) : set);
  }

  std::u32string p_;
  std::string source_;
  size_t pos_ = 0;
  size_t end_ = 0;
};

}  // namespace

Result<std::string> json_pattern_to_regex(std::string_view pattern) {
  std::optional<std::u32string> cps = decode_utf8(pattern);
  if (!cps) return invalid_argument("'pattern' is not valid UTF-8");
  PatternTranslator t(std::move(*cps), std::string(pattern));
  return t.run();
}

}  // namespace radix::constrained
