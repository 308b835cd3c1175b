// Jinja lexer (tokenizer/jinja): template source -> tokens, with whitespace control
// applied as transformers configures Jinja (trim_blocks, lstrip_blocks, `-`/`+` modifiers,
// a single trailing newline dropped). The parser (parser.h) consumes the tokens.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace radix::jinja {

enum class TokenKind {
  kText,        // literal template text (whitespace control already applied)
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,        // identifiers and keywords
  kString,      // string literal (value unescaped)
  kInt,
  kFloat,
  kOp,  // operators and punctuation: + - * / // % ** ~ == != < <= > >= = ( ) [ ] { } , . : |
  kEof,
};

struct Token {
  TokenKind kind;
  std::string text;  // value for text/name/string/number/op
  size_t offset;     // byte offset in the source (for line:column)
};

// Jinja's source preparation: \r\n and \r become \n, one trailing newline is dropped
// (keep_trailing_newline=False). lex() expects a prepared source.
std::string prepare_source(const std::string& source);

// Tokenizes a prepared template; errors carry "line L, column C".
Result<std::vector<Token>> lex(const std::string& source);

// "line L, column C" of a byte offset (columns count code points, both 1-based).
std::string describe_position(const std::string& source, size_t offset);

}  // namespace radix::jinja
