// JSON schema -> regular expression, for structured output (`json_schema` and
// `response_format`), as SGLang v0.3 does through outlines' `build_regex_from_schema`.
//
// Where it sits: an HTTP thread turns a request's schema into a regex here; regex_dfa.h
// compiles that regex into a byte-level DFA and grammar.h masks tokens with it. The
// regex's language is the set of JSON texts the model may produce: every one of them is
// valid JSON and an instance of the schema, except for the keywords listed as "ignored"
// below. It is usually a strict subset of the schema's instances (one property order,
// one spelling of each literal, bounded nesting), which is what constrained decoding
// needs: every path the model can take ends in a valid document.
//
// Regex syntax produced (the subset regex_dfa.h compiles, also valid for ECMAScript):
// literals, escaped punctuation, classes [...] / [^...] with ranges and \xHH / \uXXXX
// escapes (classes are sets of code points, as in Python on str), \d \w \s, groups (?:...)
// and (...), |, and the quantifiers * + ? {n} {n,} {n,m}. No anchors, lookarounds or
// backreferences. Whitespace: `JsonRegexOptions::whitespace` between every pair of
// structural tokens (after '{' and '[', around ':' and ',', before '}' and ']'), nowhere
// else (none before or after the whole document), as outlines does.
//
// Schemas accepted (draft 2020-12 keywords; `true` is the empty schema):
//   type        "string" "integer" "number" "boolean" "null" "object" "array", or a list
//               of them (alternation; unlike outlines, "object" in a list is kept). Without
//               `type`, the type is inferred from the keywords present (properties ->
//               object, items -> array, pattern -> string, ...); with none of those the
//               schema is the empty schema.
//   string      "([^"\\\x00-\x1F\x7F-\x9F]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*": escape
//               sequences allowed (outlines v0.0.4x allowed only \" and \\). minLength /
//               maxLength bound the number of such units (an escape is one unit; a
//               surrogate pair written as two \u escapes counts as two).
//               `pattern` replaces the body; it is read as anchored at both ends (like
//               outlines; JSON Schema searches, so anchored matches are a subset) and
//               translated from the decoded string to its JSON encoding: '.' and negated
//               classes never emit '"', '\' or control characters raw, a '"' or '\' the
//               pattern allows is emitted as \" or \\, \b \f \n \r \t as their escapes;
//               other control characters and U+007F-U+009F are never emitted (outlines
//               pasted the pattern between quotes, so '.*' could close the string). Pattern
//               syntax: the regex subset above plus \D \W \S \v \0 and (?P<n>...); \d \w
//               are ASCII (as in ECMA-262), \s is [ \t\n\r\f\v].
//               `format` date-time, date, time, uuid: outlines' regexes, except that time
//               and date-time take any number of fraction digits (outlines: exactly 3 in
//               date-time; its time regex had a \\. typo) and an optional Z or +hh:mm
//               offset (outlines: optional Z only); date-time years are exactly 4 digits.
//               Other formats are annotations (draft 2020-12's default): a plain string.
//               At most one of {length bounds, pattern, known format} per schema.
//   integer     -?(0|[1-9][0-9]*)
//   number      -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
//   boolean     (true|false);   null: null
//   enum/const  each value serialized as nlohmann's dump() does (1.5 is "1.5", strings
//               with JSON escapes, UTF-8 kept) and regex-escaped; arrays and objects too
//               (structurally, with whitespace between tokens, keys in the given order;
//               outlines rejected them). A sibling `type` filters the values; other
//               sibling keywords are not checked against them.
//   object      `properties` in the given order; `required` ones always present, the
//               others optional; commas right in every combination. Only the listed
//               properties are produced, whatever `additionalProperties` says (absent
//               means "none", as outlines does). A `required` name missing from
//               `properties` is an error. Without `properties`: any keys, values matching
//               `additionalProperties` (a schema), any value (absent or true; nesting
//               bounded by max_depth) or nothing (false: only {}); minProperties /
//               maxProperties bound the count there (with `properties` they are errors).
//   array       `items` (a schema; true or absent: any value, nesting bounded by max_depth;
//               false: only []), minItems / maxItems. `prefixItems`: exactly those
//               elements in order, then any number of `items` elements when `items` is a
//               schema (no minItems/maxItems with it).
//   anyOf/oneOf alternation (oneOf's exclusivity is not enforced, as in outlines).
//   allOf       with exactly one subschema: that subschema (more: error).
//   $ref        "#", "#/$defs/...", "#/definitions/..." or any local JSON pointer. A
//               $ref is expanded at most max_depth times along one path: beyond that the
//               branch is dropped (an optional property or array element disappears, an
//               anyOf loses an alternative); a schema left with no instance is an error.
//   {} / true   any JSON value with nesting depth <= max_depth (a scalar has depth 0, a
//               container 1 + the deepest of its elements), counted from where the
//               schema-less value starts.   false: nothing (an error at the top).
// Ignored, not enforced (as outlines): minimum, maximum, exclusiveMinimum,
// exclusiveMaximum, multipleOf, uniqueItems, and annotations (title, description,
// default, examples, $schema, $id, $comment, $defs, ...) and unknown keywords.
// Rejected (invalid_argument naming the keyword and its JSON-pointer path): patternProperties,
// if/then/else, not, dependentRequired, dependentSchemas, dependencies, propertyNames,
// unevaluatedProperties, unevaluatedItems, contains, minContains, maxContains,
// additionalItems, $dynamicRef, $recursiveRef, remote or anchor $refs, `items` as an array,
// $ref / anyOf / oneOf / allOf next to other structural keywords, min > max bounds,
// patterns outside the subset, and regexes past a size limit (deep recursion).
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace radix::constrained {

struct JsonRegexOptions {
  // Between structural tokens; a regex. outlines' default in SGLang v0.3.
  std::string whitespace = "[ ]?";
  // Nesting allowed for schema-less values (json_object, {} or true schemas, objects
  // without `properties`, arrays without `items`) and $ref expansions along one path.
  // Must be >= 1.
  int max_depth = 3;
};

// schema_json: the schema as JSON text. Errors: invalid_argument with a message naming
// the offending keyword and path, e.g.
// "json_schema: unsupported keyword 'patternProperties' at /properties/a".
Result<std::string> json_schema_to_regex(std::string_view schema_json,
                                         const JsonRegexOptions& opt = {});

// Any JSON object (response_format {"type": "json_object"}) of nesting depth up to
// opt.max_depth (clamped to [1, 5]: the regex grows 4x per level).
std::string json_object_regex(const JsonRegexOptions& opt = {});

}  // namespace radix::constrained
