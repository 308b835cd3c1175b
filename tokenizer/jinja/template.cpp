// Template: the jinja module's public face. Parses (prepare -> lex -> parse) once and
// renders with fresh scopes per call, turning internal RenderErrors into Status.
#include "tokenizer/jinja/template.h"

#include <utf8proc.h>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/lexer.h"
#include "tokenizer/jinja/parser.h"

namespace radix::jinja {
namespace {

// Offset of the first invalid UTF-8 byte, or npos.
size_t invalid_utf8_offset(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    utf8proc_int32_t cp;
    const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data()) + i,
                                    static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
    if (n <= 0) return i;
    i += static_cast<size_t>(n);
  }
  return std::string::npos;
}

}  // namespace

Result<Template> Template::parse(const std::string& source) {
  if (const size_t bad = invalid_utf8_offset(source); bad != std::string::npos) {
    return invalid_argument("template is not valid UTF-8 at " + describe_position(source, bad));
  }
  Template t;
  t.source_ = prepare_source(source);
  RADIX_ASSIGN_OR_RETURN(std::vector<Token> tokens, lex(t.source_));
  RADIX_ASSIGN_OR_RETURN(Body body, jinja::parse(tokens, t.source_));
  t.body_ = std::make_shared<const Body>(std::move(body));
  return t;
}

Result<std::string> Template::render(const Dict& context, const RenderLimits& limits) const {
  try {
    return render_body(*body_, context, limits);
  } catch (const RenderError& e) {
    std::string where;
    if (e.offset != std::string::npos) where = " at " + describe_position(source_, e.offset);
    return invalid_argument("template render error" + where + ": " + e.what());
  } catch (const std::bad_alloc&) {
    return resource_exhausted("template render ran out of memory");
  }
}

}  // namespace radix::jinja
