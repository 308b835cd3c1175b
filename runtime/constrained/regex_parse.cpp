// Regex parser: recursive descent over the pattern's bytes into a RegexTree of code point
// sets (literals, classes, escapes), concatenations, alternations and repetitions. See
// regex_parse.h; the syntax is documented in regex_dfa.h.
#include "runtime/constrained/regex_parse.h"

#include <algorithm>
#include <string>
#include <utility>

namespace radix::constrained {
namespace {

constexpr int kMaxNesting = 500;  // group depth: bounds the recursion here and in regex_dfa.cpp
constexpr int64_t kMaxRepeat = 1'000'000'000;  // counts saturate here

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

// ---- parser ------------------------------------------------------------------------

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
  std::vector<RegexNode> take_nodes() { return std::move(nodes_); }

 private:
  size_t size() const { return p_.size(); }
  bool at(char c) const { return pos_ < p_.size() && p_[pos_] == c; }

  int add(RegexNode node) {
    nodes_.push_back(std::move(node));
    return static_cast<int>(nodes_.size()) - 1;
  }
  int add_set(CodeSet set) {
    RegexNode node;
    node.kind = RegexNodeKind::kSet;
    node.set = normalized(std::move(set));
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
      RegexNode node;
      node.kind = RegexNodeKind::kAlt;
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
        RegexNode node;
        node.kind = RegexNodeKind::kRepeat;
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
      RegexNode node;
      node.kind = items.empty() ? RegexNodeKind::kEmpty : RegexNodeKind::kConcat;
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
      int h = pos_ < size() ? hex_value(static_cast<uint8_t>(p_[pos_])) : -1;
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
    set = normalized(std::move(set));
    *out = add_set(negate ? complement(set) : set);
    return Status::ok();
  }

  std::string_view p_;
  size_t pos_ = 0;
  std::vector<RegexNode> nodes_;
};

}  // namespace

Result<RegexTree> parse_regex(std::string_view pattern) {
  Parser parser(pattern);
  RADIX_ASSIGN_OR_RETURN(int root, parser.parse());
  return RegexTree{parser.take_nodes(), root};
}

}  // namespace radix::constrained
