// Jinja lexer: splits a template into text and tag tokens and applies whitespace control
// the way Python Jinja2 does with trim_blocks=True and lstrip_blocks=True (transformers'
// chat-template environment).
#include "tokenizer/jinja/lexer.h"

#include <cstring>

#include "tokenizer/jinja/value.h"

namespace radix::jinja {
namespace {

struct LexError {
  std::string message;
  size_t offset;
};

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_name_char(char c) {
  return is_name_start(c) || is_digit(c);
}

void rstrip_py(std::string& s) {
  std::u32string u = utf8_decode(s);
  while (!u.empty() && is_py_space(u.back())) u.pop_back();
  s = utf8_encode(u);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  explicit Lexer(const std::string& src) : src_(src) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      const size_t tag = find_tag(pos_);
      std::string text = src_.substr(pos_, (tag == std::string::npos ? src_.size() : tag) - pos_);
      if (tag == std::string::npos) {
        emit_text(std::move(text), pos_);
        pos_ = src_.size();
        break;
      }
      const char kind = src_[tag + 1];  // '{', '%' or '#'
      const char mod = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      const bool has_mod = mod == '-' || (mod == '+' && kind != '{');
      if (mod == '-') {
        rstrip_py(text);
      } else if (kind != '{' && mod != '+') {
        lstrip_block(text);
      }
      emit_text(std::move(text), pos_);
      const size_t body = tag + 2 + (has_mod ? 1 : 0);
      if (kind == '#') {
        lex_comment(tag, body);
      } else if (kind == '%' && lex_raw(tag, body)) {
        // raw block emitted as text
      } else {
        out_.push_back({kind == '{' ? TokenKind::kVarBegin : TokenKind::kBlockBegin, "", tag});
        pos_ = body;
        lex_tag(kind, tag);
      }
    }
    out_.push_back({TokenKind::kEof, "", src_.size()});
    return std::move(out_);
  }

 private:
  size_t find_tag(size_t from) const {
    size_t p = from;
    while ((p = src_.find('{', p)) != std::string::npos) {
      if (p + 1 < src_.size() && (src_[p + 1] == '{' || src_[p + 1] == '%' || src_[p + 1] == '#'))
        return p;
      ++p;
    }
    return std::string::npos;
  }

  void emit_text(std::string text, size_t offset) {
    if (!text.empty()) out_.push_back({TokenKind::kText, std::move(text), offset});
  }

  // lstrip_blocks: spaces and tabs between the start of a line and a block tag go away.
  void lstrip_block(std::string& text) const {
    const size_t nl = text.rfind('\n');
    const size_t l = nl == std::string::npos ? 0 : nl + 1;
    if (!(l > 0 || line_starting_) || l >= text.size()) return;
    for (size_t i = l; i < text.size(); ++i) {
      if (!is_ascii_space(text[i])) return;
    }
    text.resize(l);
  }

  // After a tag end at `end`: `-` strips all following whitespace, trim_blocks drops one
  // newline after block and comment tags unless `+` is given.
  void after_tag(char kind, char mod, size_t end) {
    pos_ = end;
    if (mod == '-') {
      size_t p = pos_;
      while (p < src_.size()) {
        const unsigned char c = static_cast<unsigned char>(src_[p]);
        size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        if (p + len > src_.size()) break;
        char32_t cp = utf8_decode(std::string_view(src_).substr(p, len))[0];
        if (!is_py_space(cp)) break;
        p += len;
      }
      line_starting_ = p > pos_ && src_[p - 1] == '\n';
      pos_ = p;
    } else if (kind != '{' && mod != '+' && pos_ < src_.size() && src_[pos_] == '\n') {
      ++pos_;
      line_starting_ = true;
    } else {
      line_starting_ = false;
    }
  }

  void lex_comment(size_t tag, size_t body) {
    const size_t end = src_.find("#}", body);
    if (end == std::string::npos) throw LexError{"unterminated comment", tag};
    char mod = '\0';
    if (end > body && (src_[end - 1] == '-' || src_[end - 1] == '+')) mod = src_[end - 1];
    after_tag('#', mod, end + 2);
  }

  // Matches `ws* word ws* [-+]? %}` at p; returns the position after `%}` or npos.
  size_t match_simple_tag(size_t p, const char* word, char* mod) const {
    while (p < src_.size() && is_ascii_space(src_[p])) ++p;
    const size_t n = std::strlen(word);
    if (src_.compare(p, n, word) != 0) return std::string::npos;
    p += n;
    if (p < src_.size() && is_name_char(src_[p])) return std::string::npos;
    while (p < src_.size() && is_ascii_space(src_[p])) ++p;
    *mod = '\0';
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) *mod = src_[p++];
    if (src_.compare(p, 2, "%}") != 0) return std::string::npos;
    return p + 2;
  }

  // {% raw %}...{% endraw %}: the body is text, tags inside it are not interpreted.
  bool lex_raw(size_t tag, size_t body) {
    char mod;
    const size_t start = match_simple_tag(body, "raw", &mod);
    if (start == std::string::npos) return false;
    after_tag('%', mod, start);
    size_t p = pos_;
    while (true) {
      const size_t open = src_.find("{%", p);
      if (open == std::string::npos) throw LexError{"'raw' block is never closed", tag};
      const char omod = open + 2 < src_.size() ? src_[open + 2] : '\0';
      const size_t ebody = open + 2 + ((omod == '-' || omod == '+') ? 1 : 0);
      char emod;
      const size_t end = match_simple_tag(ebody, "endraw", &emod);
      if (end == std::string::npos) {
        p = open + 2;
        continue;
      }
      std::string text = src_.substr(pos_, open - pos_);
      if (omod == '-') {
        rstrip_py(text);
      } else if (omod != '+') {
        lstrip_block(text);
      }
      emit_text(std::move(text), pos_);
      after_tag('%', emod, end);
      return true;
    }
  }

  void lex_tag(char kind, size_t tag) {
    int depth = 0;  // open brackets; `}}` only ends a variable tag at depth 0
    while (true) {
      while (pos_ < src_.size() && is_ascii_space(src_[pos_])) ++pos_;
      if (pos_ >= src_.size()) {
        throw LexError{kind == '{' ? "unexpected end of template, expected '}}'"
                                   : "unexpected end of template, expected '%}'",
                       tag};
      }
      const size_t start = pos_;
      if (kind == '%') {
        for (const char* end : {"-%}", "+%}", "%}"}) {
          if (src_.compare(pos_, std::strlen(end), end) == 0) {
            out_.push_back({TokenKind::kBlockEnd, "", start});
            after_tag('%', end[0] == '%' ? '\0' : end[0], pos_ + std::strlen(end));
            return;
          }
        }
      } else if (depth == 0) {
        for (const char* end : {"-}}", "}}"}) {
          if (src_.compare(pos_, std::strlen(end), end) == 0) {
            out_.push_back({TokenKind::kVarEnd, "", start});
            after_tag('{', end[0] == '-' ? '-' : '\0', pos_ + std::strlen(end));
            return;
          }
        }
      }
      const char c = src_[pos_];
      if (c == '\'' || c == '"') {
        out_.push_back({TokenKind::kString, lex_string(), start});
      } else if (is_digit(c)) {
        lex_number(start);
      } else if (is_name_start(c)) {
        while (pos_ < src_.size() && is_name_char(src_[pos_])) ++pos_;
        out_.push_back({TokenKind::kName, src_.substr(start, pos_ - start), start});
      } else {
        static const char* kTwo[] = {"**", "//", "==", "!=", "<=", ">="};
        std::string op;
        for (const char* t : kTwo) {
          if (src_.compare(pos_, 2, t) == 0) op = t;
        }
        if (op.empty()) {
          if (std::strchr("+-*/%~<>=()[]{},.:|", c) == nullptr || c == '\0') {
            throw LexError{std::string("unexpected character '") + c + "'", start};
          }
          op = std::string(1, c);
          if (c == '(' || c == '[' || c == '{') ++depth;
          if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
        }
        pos_ += op.size();
        out_.push_back({TokenKind::kOp, op, start});
      }
    }
  }

  void lex_number(size_t start) {
    auto digits = [&] {
      while (pos_ < src_.size() && (is_digit(src_[pos_]) || src_[pos_] == '_')) ++pos_;
    };
    digits();
    bool is_float = false;
    // `x.0` is attribute access, so a number right after '.' never takes a fraction.
    const bool after_dot = start > 0 && src_[start - 1] == '.';
    if (!after_dot && pos_ + 1 < src_.size() && src_[pos_] == '.' && is_digit(src_[pos_ + 1])) {
      ++pos_;
      digits();
      is_float = true;
    }
    if (!after_dot && pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      size_t p = pos_ + 1;
      if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
      if (p < src_.size() && is_digit(src_[p])) {
        pos_ = p;
        digits();
        is_float = true;
      }
    }
    std::string text;
    for (size_t i = start; i < pos_; ++i) {
      if (src_[i] != '_') text.push_back(src_[i]);
    }
    out_.push_back({is_float ? TokenKind::kFloat : TokenKind::kInt, text, start});
  }

  // A Python string literal body with its escapes (\n, \t, \xNN, \uNNNN, ...). Unknown
  // escapes keep their backslash, as Python does.
  std::string lex_string() {
    const size_t start = pos_;
    const char quote = src_[pos_++];
    std::string out;
    while (true) {
      if (pos_ >= src_.size()) throw LexError{"unterminated string literal", start};
      const char c = src_[pos_++];
      if (c == quote) return out;
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= src_.size()) throw LexError{"unterminated string literal", start};
      const char e = src_[pos_++];
      switch (e) {
        case 'n':
          out.push_back('\n');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '\'':
          out.push_back('\'');
          break;
        case '"':
          out.push_back('"');
          break;
        case 'a':
          out.push_back('\a');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'v':
          out.push_back('\v');
          break;
        case '\n':
          break;  // line continuation
        case 'x':
        case 'u':
        case 'U': {
          const int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          char32_t cp = 0;
          for (int i = 0; i < n; ++i) {
            const int h = pos_ < src_.size() ? hex_value(src_[pos_]) : -1;
            if (h < 0) throw LexError{std::string("truncated \\") + e + " escape", pos_};
            cp = cp * 16 + static_cast<char32_t>(h);
            ++pos_;
          }
          if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            throw LexError{"escape is not a valid Unicode scalar value", pos_};
          }
          utf8_append(out, cp);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {  // octal, up to 3 digits
            char32_t cp = static_cast<char32_t>(e - '0');
            for (int i = 0; i < 2 && pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '7';
                 ++i) {
              cp = cp * 8 + static_cast<char32_t>(src_[pos_++] - '0');
            }
            utf8_append(out, cp);
          } else {
            out.push_back('\\');
            out.push_back(e);
          }
      }
    }
  }

  const std::string& src_;
  size_t pos_ = 0;
  bool line_starting_ = true;
  std::vector<Token> out_;
};

}  // namespace

std::string prepare_source(const std::string& source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string describe_position(const std::string& source, size_t offset) {
  if (offset > source.size()) offset = source.size();
  size_t line = 1;
  size_t col = 1;
  for (size_t i = 0; i < offset; ++i) {
    if (source[i] == '\n') {
      ++line;
      col = 1;
    } else if ((static_cast<unsigned char>(source[i]) & 0xc0) != 0x80) {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

Result<std::vector<Token>> lex(const std::string& source) {
  try {
    return Lexer(source).run();
  } catch (const LexError& e) {
    return invalid_argument("template syntax error at " + describe_position(source, e.offset) +
                            ": " + e.message);
  }
}

}  // namespace radix::jinja
