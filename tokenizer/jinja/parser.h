// Jinja parser (tokenizer/jinja): tokens from the lexer -> a statement tree (ast.h) that
// the interpreter renders. Syntax errors carry the line and column of the offending token.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/lexer.h"

namespace radix::jinja {

// `source` is the prepared source the tokens came from (for error positions).
Result<Body> parse(const std::vector<Token>& tokens, const std::string& source);

}  // namespace radix::jinja
