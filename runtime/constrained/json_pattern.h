// JSON schema `pattern` -> regex over the string's JSON encoding, for json_schema.cpp.
//
// A `pattern` constrains the decoded string; the constrained text is its JSON encoding.
// The translation reads the pattern as anchored at both ends and rewrites every set of
// characters into the encodings the output may use: raw where JSON allows it, '"' and
// '\' as \" and \\, \b \f \n \r \t as those escapes; other control characters and
// U+007F-U+009F are never emitted. json_schema.h documents the pattern syntax accepted.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace radix::constrained {

// The regex for the body of a JSON string (between the quotes) whose decoded value fully
// matches `pattern`. Errors: invalid_argument "'pattern' is not valid UTF-8", or
// "pattern '<pattern>': <what> (at character <n>)"; the caller adds the schema path.
Result<std::string> json_pattern_to_regex(std::string_view pattern);

}  // namespace radix::constrained
