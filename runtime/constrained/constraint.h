// What a request's output must match (structured output), as the server parsed it:
// `regex`, `json_schema` (SGLang's native and OpenAI extra fields) or
// `response_format` json_object / json_schema. runtime/constrained/grammar.h compiles it.
#pragma once

#include <string>

namespace radix::constrained {

struct Constraint {
  enum class Kind { kNone, kRegex, kJsonSchema, kJsonObject };
  Kind kind = Kind::kNone;
  std::string spec;   // the regex, or the schema as JSON text
  std::string param;  // the request field it came from, for error messages
  // The schema came as a JSON object (not as JSON text): the server's parsed copy has
  // its keys sorted, so the server takes it from the body again in its own order.
  bool from_object = false;
  bool active() const { return kind != Kind::kNone; }
  // "regex", "json_schema", "json_object" or "none"
  const char* name() const {
    switch (kind) {
      case Kind::kRegex: return "regex";
      case Kind::kJsonSchema: return "json_schema";
      case Kind::kJsonObject: return "json_object";
      case Kind::kNone: break;
    }
    return "none";
  }
};

}  // namespace radix::constrained
