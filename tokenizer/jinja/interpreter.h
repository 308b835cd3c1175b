// Jinja interpreter (tokenizer/jinja): walks the parsed statement tree with a context of
// variables and produces text. Internal to the jinja module; use template.h.
#pragma once

#include <string>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/template.h"

namespace radix::jinja {

// Renders `body`; throws RenderError (with the source offset of the failing node).
std::string render_body(const Body& body, const Dict& context, const RenderLimits& limits);

}  // namespace radix::jinja
