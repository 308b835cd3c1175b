// A compiled Jinja template (tokenizer/jinja): parse once at load (syntax errors with line
// and column), render many times on HTTP threads with a context of variables. This is the
// interpreter's public face; chat_template.h builds on it. Rendering is const and
// thread-safe; each call has its own scopes.
//
//   RADIX_ASSIGN_OR_RETURN(auto t, jinja::Template::parse("Hello {{ name }}!"));
//   Dict ctx; ctx.set("name", Value::string("world"));
//   RADIX_ASSIGN_OR_RETURN(std::string s, t.render(ctx));   // "Hello world!"
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "tokenizer/jinja/value.h"

namespace radix::jinja {

struct Stmt;

struct RenderLimits {
  size_t max_output_bytes = size_t{64} << 20;  // the rendered text (and each macro's)
  int max_call_depth = 100;                    // nested macro calls (recursion guard)
  uint64_t max_steps = 20'000'000;             // statements + expressions evaluated
};

class Template {
 public:
  // Whitespace handling is transformers': trim_blocks, lstrip_blocks, one trailing
  // newline dropped. Errors: InvalidArgument "template syntax error at line L, column C: ...".
  static Result<Template> parse(const std::string& source);

  // Renders with `context` (variables; globals range/namespace/dict/raise_exception/
  // strftime_now are added underneath). Errors (raise_exception, type errors, limits):
  // InvalidArgument "template render error at line L, column C: ...".
  Result<std::string> render(const Dict& context, const RenderLimits& limits = {}) const;

 private:
  std::string source_;  // prepared source (positions refer to it)
  std::shared_ptr<const std::vector<std::unique_ptr<Stmt>>> body_;
};

}  // namespace radix::jinja
