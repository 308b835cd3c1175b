// Tests of JSON schema -> regex (runtime/constrained/json_schema.h). The regexes are
// checked with std::wregex (ECMAScript, full match; the produced syntax is valid there
// too, and wchar_t holds the code points of \x7F-\x9F): for each schema, lists of JSON
// texts that must match (whitespace variants included) and texts that must not (missing
// required properties, extra properties, trailing commas, wrong types, unescaped quotes).
// Exhaustive subset checks cover the comma logic of optional properties. Errors name
// the keyword and the path.
#include "runtime/constrained/json_schema.h"

#include <gtest/gtest.h>

// GCC 12 at -O1 with ASan warns (falsely) that std::regex's internal std::function may
// be used uninitialized; the warning is raised inside <regex>'s templates.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>
#include <string>
#include <vector>

namespace radix::constrained {
namespace {

// The tests' texts and regexes are ASCII: bytes are code points.
std::wstring widen(const std::string& s) {
  return std::wstring(s.begin(), s.end());
}

class Language {
 public:
  explicit Language(const std::string& regex) : regex_(regex), re_(widen(regex)) {}
  bool matches(const std::string& text) const { return std::regex_match(widen(text), re_); }
  const std::string& regex() const { return regex_; }

 private:
  std::string regex_;
  std::wregex re_;
};

Language schema_language(const std::string& schema, const JsonRegexOptions& opt = {}) {
  auto r = json_schema_to_regex(schema, opt);
  EXPECT_TRUE(r.is_ok()) << schema << ": " << r.status().to_string();
  return Language(r.is_ok() ? *r : std::string("$^"));
}

void expect_language(const Language& lang, const std::vector<std::string>& valid,
                     const std::vector<std::string>& invalid) {
  for (const auto& t : valid)
    EXPECT_TRUE(lang.matches(t)) << "should match: " << t << "\nregex: " << lang.regex();
  for (const auto& t : invalid)
    EXPECT_FALSE(lang.matches(t)) << "should not match: " << t << "\nregex: " << lang.regex();
}

std::string error_of(const std::string& schema, const JsonRegexOptions& opt = {}) {
  auto r = json_schema_to_regex(schema, opt);
  EXPECT_FALSE(r.is_ok()) << schema << " gave " << (r.is_ok() ? *r : "");
  if (r.is_ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

// "{" + the members whose bit is set in `mask`, in order + "}", with a value of 1.
std::string object_with(const std::vector<std::string>& names, unsigned mask,
                        const std::string& sep) {
  std::string out = "{";
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!(mask & (1u << i))) continue;
    if (!first) out += sep;
    out += "\"" + names[i] + "\":1";
    first = false;
  }
  return out + "}";
}

TEST(JsonSchema, SmallObjectGivesTheExpectedRegex) {
  auto r = json_schema_to_regex(
      R"({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]})");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(*r, R"(\{[ ]?"a"[ ]?:[ ]?-?(?:0|[1-9][0-9]*)[ ]?\})");
}

TEST(JsonSchema, FlatObjectWithRequiredAndOptionalPropertiesOfEveryType) {
  const Language lang = schema_language(R"({
    "type": "object",
    "properties": {
      "name": {"type": "string"}, "age": {"type": "integer"}, "score": {"type": "number"},
      "active": {"type": "boolean"}, "nothing": {"type": "null"}
    },
    "required": ["name", "age"]})");
  expect_language(
      lang,
      {R"({"name":"Al","age":3})", R"({"name": "Al", "age": 3})",
       R"({ "name" : "Al" , "age" : 3 })",
       R"({"name":"A\"l\\n\u00e9\/","age":-12,"score":1.5e+3,"active":true,"nothing":null})",
       R"({"name":"","age":0,"nothing":null})", R"({"name":"x","age":1,"active":false})",
       R"({"name":"x","age":1,"score":-0.25})", R"({"name":"x","age":1,"score":2E7})"},
      {R"({"age":3})", R"({"name":"Al"})", R"({"name":"Al","age":3,})",
       R"({"name":"Al","age":3,"extra":1})", R"({"age":3,"name":"Al"})",
       R"({"name":"A"l","age":3})", R"({"name":"Al","age":"3"})", R"({"name":"Al","age":3.5})",
       R"({"name":"Al",,"age":3})", R"({"name":"Al","age":01})",
       R"({"name":"Al","age":3,"active":"yes"})", R"({  "name":"Al","age":3})",
       R"({"name":"A\ql","age":3})", R"({"name":"A\u00g1","age":3})",
       "{\"name\":\"A\nl\",\"age\":3}", R"({"name":"Al","age":3,"score":1.})",
       R"({"name":"Al","age":3})"
       " "});
}

TEST(JsonSchema, AllOptionalPropertiesAllowEverySubsetInOrderAndNothingElse) {
  const Language lang = schema_language(R"({"type": "object", "properties": {
      "a": {"type": "integer"}, "b": {"type": "integer"}, "c": {"type": "integer"}}})");
  const std::vector<std::string> names = {"a", "b", "c"};
  for (unsigned mask = 0; mask < 8; ++mask) {
    EXPECT_TRUE(lang.matches(object_with(names, mask, ","))) << object_with(names, mask, ",");
    EXPECT_TRUE(lang.matches(object_with(names, mask, " , "))) << object_with(names, mask, " , ");
  }
  expect_language(lang, {"{ }", R"({ "a":1 })"},
                  {R"({,"a":1})", R"({"a":1,})", R"({"b":1,"a":1})", R"({"a":1,"a":1})",
                   R"({"a":1 "b":1})", R"({"c":1,"b":1})", R"({,})", R"({"d":1})"});
}

TEST(JsonSchema, RequiredPropertiesBetweenOptionalOnesGetCommasRightInEveryCombination) {
  // a, c, e optional; b, d required: exactly the subsets containing b and d match.
  const Language lang = schema_language(R"({"type": "object", "properties": {
      "a": {"type": "integer"}, "b": {"type": "integer"}, "c": {"type": "integer"},
      "d": {"type": "integer"}, "e": {"type": "integer"}}, "required": ["d", "b"]})");
  const std::vector<std::string> names = {"a", "b", "c", "d", "e"};
  for (unsigned mask = 0; mask < 32; ++mask) {
    const bool valid = (mask & 2u) && (mask & 8u);
    EXPECT_EQ(lang.matches(object_with(names, mask, ",")), valid) << object_with(names, mask, ",");
  }
  expect_language(lang, {}, {R"({"b":1,"d":1,})", R"({,"b":1,"d":1})", R"({"b":1,,"d":1})"});
}

TEST(JsonSchema, NestedObjectsAndArraysOfObjects) {
  const Language lang = schema_language(R"({
    "type": "object",
    "properties": {
      "id": {"type": "integer"},
      "address": {"type": "object",
                  "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
                  "required": ["city"]},
      "friends": {"type": "array", "items": {"type": "object",
                  "properties": {"name": {"type": "string"}}, "required": ["name"]}}
    },
    "required": ["id", "address"]})");
  expect_language(
      lang,
      {R"({"id":1,"address":{"city":"Oslo"}})",
       R"({"id": 1, "address": {"city": "Oslo", "zip": "0150"}, "friends": []})",
       R"({"id":1,"address":{"city":"Oslo"},"friends":[{"name":"a"},{"name":"b"}]})",
       R"({ "id" : 1 , "address" : { "city" : "Oslo" } , "friends" : [ { "name" : "a" } ] })"},
      {R"({"id":1})", R"({"id":1,"address":{}})", R"({"id":1,"address":{"zip":"1"}})",
       R"({"id":1,"address":"Oslo"})", R"({"id":1,"address":{"city":"Oslo"},"friends":[{}]})",
       R"({"id":1,"address":{"city":"Oslo"},"friends":[{"name":"a"},]})",
       R"({"id":1,"address":{"city":"Oslo",}})"});
}

TEST(JsonSchema, ArraysHonourMinItemsAndMaxItems) {
  const Language bounded = schema_language(
      R"({"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 3})");
  expect_language(bounded, {"[1,2]", "[1, 2, 3]", "[ 1 , 2 ]"},
                  {"[]", "[1]", "[1,2,3,4]", "[1,2,]", R"(["1",2])", "[1 2]", "[,1,2]"});
  const Language unbounded = schema_language(R"({"type": "array", "items": {"type": "string"}})");
  expect_language(unbounded, {"[]", "[ ]", R"(["a"])", R"(["a","b","c","d","e"])"},
                  {R"(["a",])", "[1]", R"(["a" "b"])"});
  const Language at_least_one = schema_language(R"({"items": {"type": "boolean"}, "minItems": 1})");
  expect_language(at_least_one, {"[true]", "[true,false,true]"}, {"[]", "[null]"});
  const Language none =
      schema_language(R"({"type": "array", "items": {"type": "integer"}, "maxItems": 0})");
  expect_language(none, {"[]", "[ ]"}, {"[1]"});
  const Language anything = schema_language(R"({"type": "array"})", {"[ ]?", 2});
  expect_language(anything, {"[]", R"([1,"a",null,[2],{"k":true}])"}, {"[[[1]]]", "[1,]"});
}

TEST(JsonSchema, TuplesFromPrefixItems) {
  const Language pair =
      schema_language(R"({"prefixItems": [{"type": "string"}, {"type": "integer"}]})");
  expect_language(pair, {R"(["a",1])", R"([ "a" , 1 ])"},
                  {R"(["a"])", R"(["a",1,2])", R"([1,"a"])"});
  const Language rest = schema_language(
      R"({"type": "array", "prefixItems": [{"type": "string"}], "items": {"type": "integer"}})");
  expect_language(rest, {R"(["a"])", R"(["a",1,2,3])"}, {R"(["a","b"])", "[]"});
}

TEST(JsonSchema, EnumsOfMixedTypesAreEscapedLiterals) {
  const Language lang = schema_language(
      R"({"enum": ["red", "a\"b", 1, 2.5, true, null, "x.y*", "back\\slash", [1, "z"], {"k": "v"}]})");
  expect_language(lang,
                  {R"("red")", R"("a\"b")", "1", "2.5", "true", "null", R"("x.y*")",
                   R"("back\\slash")", R"([1,"z"])", R"([ 1 , "z" ])", R"({"k": "v"})"},
                  {R"("xay*")", R"("x.yyy")", R"("green")", "3", "false", "red", R"("a"b")", "2.50",
                   R"([1])", R"({"k":"w"})", R"("red" )"});
  const Language typed = schema_language(R"({"type": "string", "enum": ["a", 1, "b"]})");
  expect_language(typed, {R"("a")", R"("b")"}, {"1"});
}

TEST(JsonSchema, ConstValues) {
  expect_language(schema_language(R"({"const": "fixed"})"), {R"("fixed")"}, {R"("fixe")", "fixed"});
  const Language shape = schema_language(R"({"type": "object", "properties": {
      "kind": {"const": "circle"}, "r": {"type": "number"}}, "required": ["kind", "r"]})");
  expect_language(shape, {R"({"kind":"circle","r":1.5})"}, {R"({"kind":"square","r":1.5})"});
  expect_language(schema_language(R"({"const": 42})"), {"42"}, {"42.0", "4"});
}

TEST(JsonSchema, AnyOfAndOneOfAreAlternations) {
  const Language any_of =
      schema_language(R"({"anyOf": [{"type": "string"}, {"type": "integer"}]})");
  expect_language(any_of, {R"("x")", "12"}, {"1.5", "null", R"("x"1)"});
  const Language one_of = schema_language(R"({"oneOf": [
      {"type": "object", "properties": {"cat": {"type": "string"}}, "required": ["cat"]},
      {"type": "object", "properties": {"dog": {"type": "integer"}}, "required": ["dog"]}]})");
  expect_language(one_of, {R"({"cat":"tom"})", R"({"dog":3})"},
                  {R"({"cat":3})", R"({"cat":"tom","dog":3})", "{}"});
  const Language single_all_of = schema_language(R"({"allOf": [{"type": "boolean"}]})");
  expect_language(single_all_of, {"true", "false"}, {"1"});
}

TEST(JsonSchema, TypeListsAreAlternationsOfTheTypes) {
  expect_language(schema_language(R"({"type": ["string", "null"]})"), {R"("x")", "null"},
                  {"1", "nul"});
  const Language obj_or_int = schema_language(R"({"type": ["integer", "object"],
      "properties": {"a": {"type": "boolean"}}, "required": ["a"]})");
  expect_language(obj_or_int, {"7", R"({"a":true})"}, {"{}", R"("7")", "7.5"});
}

TEST(JsonSchema, RefsToDefsAndDefinitionsResolve) {
  const Language defs = schema_language(R"({
    "$defs": {"Pet": {"type": "object", "properties": {"name": {"type": "string"}},
                      "required": ["name"], "title": "Pet"}},
    "type": "object",
    "properties": {"pet": {"$ref": "#/$defs/Pet", "description": "the pet"},
                   "pets": {"type": "array", "items": {"$ref": "#/$defs/Pet"}},
                   "maybe": {"anyOf": [{"$ref": "#/$defs/Pet"}, {"type": "null"}], "default": null}},
    "required": ["pet"]})");
  expect_language(defs,
                  {R"({"pet":{"name":"rex"}})",
                   R"({"pet":{"name":"rex"},"pets":[{"name":"a"},{"name":"b"}],"maybe":null})",
                   R"({"pet":{"name":"rex"},"maybe":{"name":"c"}})"},
                  {R"({"pet":{}})", R"({"pets":[]})", R"({"pet":{"name":"rex"},"pets":[{}]})"});
  const Language definitions =
      schema_language(R"({"definitions": {"n": {"type": "integer"}}, "$ref": "#/definitions/n"})");
  expect_language(definitions, {"5"}, {R"("5")"});
  // JSON-pointer escapes (~1 is '/') and array indices.
  expect_language(
      schema_language(R"({"$defs": {"a/b": {"type": "integer"}}, "$ref": "#/$defs/a~1b"})"), {"5"},
      {"true"});
  expect_language(schema_language(R"({"type": "object", "properties": {
      "x": {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
      "y": {"$ref": "#/properties/x/anyOf/0"}}, "required": ["x", "y"]})"),
                  {R"({"x":null,"y":true})"}, {R"({"x":null,"y":null})"});
}

TEST(JsonSchema, RecursiveRefsAreCutAtMaxDepth) {
  const std::string tree = R"({
    "$defs": {"node": {"type": "object",
                       "properties": {"v": {"type": "integer"},
                                      "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
                       "required": ["v", "kids"]}},
    "$ref": "#/$defs/node"})";
  // max_depth 2: the node is expanded twice along a path, the third level's kids must be [].
  const Language lang = schema_language(tree, {"[ ]?", 2});
  expect_language(
      lang, {R"({"v":1,"kids":[]})", R"({"v":1,"kids":[{"v":2,"kids":[]},{"v":3,"kids":[]}]})"},
      {R"({"v":1,"kids":[{"v":2,"kids":[{"v":3,"kids":[]}]}]})", R"({"v":1})"});
  // A linked list through the root: root + 2 expansions.
  const Language list =
      schema_language(R"({"type": "object", "properties": {"next": {"$ref": "#"}}})", {"[ ]?", 2});
  expect_language(list, {"{}", R"({"next":{}})", R"({"next":{"next":{}}})"},
                  {R"({"next":{"next":{"next":{}}}})"});
  // A required recursive property has no finite instance.
  EXPECT_NE(error_of(R"({"type": "object", "properties": {"next": {"$ref": "#"}},
                         "required": ["next"]})")
                .find("no value satisfies the schema"),
            std::string::npos);
}

TEST(JsonSchema, StringLengthBoundsCountCharactersAndEscapes) {
  const Language lang = schema_language(R"({"type": "string", "minLength": 2, "maxLength": 4})");
  expect_language(lang, {R"("ab")", R"("abcd")", R"("a\nb")", R"("\"\"")", R"("\u0041b")"},
                  {R"("a")", R"("abcde")", R"("")", R"("a"")"});
  expect_language(schema_language(R"({"type": "string", "maxLength": 1})"), {R"("")", R"("x")"},
                  {R"("xy")"});
  expect_language(schema_language(R"({"type": "string", "minLength": 1})"),
                  {R"("x")", R"("xyzzy")"}, {R"("")"});
}

TEST(JsonSchema, PatternsAreAnchoredAndTranslatedToJsonEncoding) {
  expect_language(schema_language(R"({"type": "string", "pattern": "^[a-z]+-[0-9]{2,3}$"})"),
                  {R"("ab-12")", R"("x-999")"},
                  {R"("ab-1")", R"("AB-12")", R"("ab-1234")", "ab-12"});
  // '.' matches a decoded '"' or '\', which the JSON text carries escaped; never raw.
  expect_language(schema_language(R"({"pattern": "^a.c$"})"),
                  {R"("abc")", R"("a\"c")", R"("a\\c")", R"("a\tc")"},
                  {R"("a"c")", R"("ac")", "\"a\nc\"", R"("a\nc")"});
  // Alternation stays inside the quotes.
  expect_language(schema_language(R"({"pattern": "cat|dog"})"), {R"("cat")", R"("dog")"},
                  {R"("catdog")", R"("cat)", R"(dog")"});
  expect_language(schema_language(R"({"pattern": "^say \"(hi|yo)\"\\.$"})"),
                  {R"("say \"hi\".")", R"("say \"yo\".")"}, {R"("say "hi".")", R"("say \"hi\"x")"});
  expect_language(schema_language(R"({"pattern": "^[^a-z]\\d\\w?$"})"),
                  {R"("A1")", R"("\"1x")", R"("\\2_")"}, {R"("a1")", R"("""1")", R"("A")"});
  expect_language(schema_language(R"({"pattern": "^(ab){2}x*?$"})"), {R"("abab")", R"("ababxx")"},
                  {R"("ab")", R"("ababy")"});
}

TEST(JsonSchema, FormatsDateTimeDateTimeAndUuid) {
  expect_language(schema_language(R"({"type": "string", "format": "date"})"),
                  {R"("2024-02-29")", R"("1999-12-31")"},
                  {R"("2024-13-01")", R"("24-01-01")", R"("2024-01-32")", "2024-01-01"});
  expect_language(schema_language(R"({"type": "string", "format": "date-time"})"),
                  {R"("2024-01-02T03:04:05Z")", R"("2024-01-02T03:04:05.123+02:00")",
                   R"("2024-01-02T23:59:59")"},
                  {R"("2024-01-02 03:04:05")", R"("2024-01-02T24:00:00Z")", R"("2024-01-02")"});
  expect_language(schema_language(R"({"type": "string", "format": "time"})"),
                  {R"("03:04:05")", R"("03:04:05.5Z")"}, {R"("3:04:05")", R"("03:60:00")"});
  expect_language(
      schema_language(R"({"type": "string", "format": "uuid"})"),
      {R"("123e4567-e89b-12d3-a456-426614174000")", R"("123E4567-E89B-12D3-A456-426614174000")"},
      {R"("123e4567e89b12d3a456426614174000")", R"("123e4567-e89b-12d3-a456-42661417400g")"});
  // Formats without a regex are annotations: any string.
  expect_language(schema_language(R"({"type": "string", "format": "email"})"),
                  {R"("not an email")"}, {"1"});
}

TEST(JsonSchema, JsonObjectRegexAcceptsObjectsUpToMaxDepth) {
  const Language lang(json_object_regex({"[ ]?", 2}));
  expect_language(lang,
                  {"{}", R"({"a":1})", R"({"a":{"b":1}})", R"({"a": [1, "x", null, true, -2.5e3]})",
                   R"({"a":[],"b":{},"c":"\"q\""})"},
                  {"[1]", R"("x")", R"({"a":{"b":{}}})", R"({"a":[[1]]})", R"({"a":1,})", "{a:1}",
                   R"({"a"})", "1"});
  EXPECT_EQ(json_object_regex({"[ ]?", 100}), json_object_regex({"[ ]?", 5}));
  EXPECT_EQ(json_object_regex({"[ ]?", 0}), json_object_regex({"[ ]?", 1}));
  EXPECT_NE(json_object_regex(), json_object_regex({"[ ]?", 2}));
}

TEST(JsonSchema, EmptySchemaAndTrueAcceptAnyValueUpToMaxDepth) {
  for (const char* schema : {"{}", "true", R"({"description": "anything"})"}) {
    const Language lang = schema_language(schema, {"[ ]?", 2});
    expect_language(lang, {"1", R"("x")", "null", "[1,[2]]", R"({"a":[1]})", "-0.5E-2"},
                    {"[[[1]]]", "1 2", "tru", R"({"a":{"b":{}}})", ""});
  }
  // Object without properties: any members (depth-limited); additionalProperties shapes the values.
  expect_language(schema_language(R"({"type": "object"})", {"[ ]?", 2}),
                  {"{}", R"({"x":1,"y":{"z":2}})"}, {R"({"x":{"y":{"z":1}}})", "[]"});
  expect_language(schema_language(R"({"type": "object", "additionalProperties": {"type": "integer"},
                                      "minProperties": 1})"),
                  {R"({"x":1})", R"({"x":1,"y":2})"}, {"{}", R"({"x":"s"})"});
  expect_language(schema_language(R"({"type": "object", "additionalProperties": false})"), {"{}"},
                  {R"({"x":1})"});
}

TEST(JsonSchema, PropertyNamesWithMetacharactersAndEscapes) {
  const Language lang = schema_language(R"({"type": "object", "properties": {
      "a.b": {"type": "integer"}, "say \"hi\"": {"type": "integer"}, "x(y)|z": {"type": "integer"}},
      "required": ["a.b", "say \"hi\"", "x(y)|z"]})");
  expect_language(lang, {R"({"a.b":1,"say \"hi\"":2,"x(y)|z":3})"},
                  {R"({"aXb":1,"say \"hi\"":2,"x(y)|z":3})", R"({"a.b":1,"say "hi"":2,"x(y)|z":3})",
                   R"({"a.b":1,"say \"hi\"":2,"z":3})"});
}

TEST(JsonSchema, WhitespaceOptionIsUsedBetweenTokens) {
  const std::string schema = R"({"type": "object", "properties": {"a": {"type": "array",
      "items": {"type": "integer"}}}, "required": ["a"]})";
  expect_language(schema_language(schema, {"", 3}), {R"({"a":[1,2]})"}, {R"({ "a":[1,2]})"});
  expect_language(schema_language(schema, {"[ \\n]*", 3}),
                  {R"({"a":[1,2]})", "{\n  \"a\" :  [ 1,\n 2 ]\n}"}, {R"({"a":[1,2]} )"});
  expect_language(schema_language(schema, {" |\\n", 3}), {"{ \"a\" :\n[ 1 ,\n2 ]\n}"},
                  {R"({"a":[1,2]})"});
}

TEST(JsonSchema, ErrorsNameTheKeywordAndPath) {
  EXPECT_NE(error_of("{\"type\": ").find("json_schema: invalid JSON"), std::string::npos);
  EXPECT_NE(error_of("false").find("no value satisfies the schema"), std::string::npos);
  EXPECT_EQ(error_of(R"({"properties": {"a": {"type": "object", "patternProperties": {}}}})"),
            "json_schema: unsupported keyword 'patternProperties' at /properties/a");
  EXPECT_EQ(error_of(R"({"if": {"type": "string"}, "then": {"minLength": 1}})"),
            "json_schema: unsupported keyword 'if' at /");
  EXPECT_EQ(error_of(R"({"allOf": [{"type": "string"}, {"minLength": 1}]})"),
            "json_schema: 'allOf' with 2 subschemas is not supported (only one) at /allOf");
  EXPECT_EQ(error_of(R"({"properties": {"p": {"$ref": "#/$defs/Missing"}}, "$defs": {}})"),
            "json_schema: $ref '#/$defs/Missing' does not resolve at /properties/p/$ref");
  EXPECT_NE(error_of(R"({"$ref": "https://example.com/s.json"})").find("only local JSON pointers"),
            std::string::npos);
  EXPECT_EQ(error_of(R"({"properties": {"a": {}}, "required": ["b"]})"),
            "json_schema: required property 'b' is not in 'properties' at /required");
  EXPECT_EQ(error_of(R"({"type": "array", "minItems": 3, "maxItems": 1})"),
            "json_schema: 'minItems' 3 is greater than 'maxItems' 1 at /");
  EXPECT_EQ(error_of(R"({"type": "strng"})"), "json_schema: unknown type 'strng' at /type");
  EXPECT_EQ(error_of(R"({"type": "string", "minLength": -1})"),
            "json_schema: 'minLength' must be a non-negative integer at /minLength");
  EXPECT_EQ(error_of(R"({"type": "object", "anyOf": [{"required": ["a"]}]})"),
            "json_schema: 'type' next to 'anyOf' is not supported at /");
  EXPECT_NE(error_of(R"({"type": "string", "pattern": "(?=a)b"})").find("lookarounds"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type": "string", "pattern": "(a)\\1"})").find("backreferences"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type": "string", "pattern": "a^b"})").find("anchors"), std::string::npos);
  EXPECT_NE(error_of(R"({"type": "string", "pattern": "[a-"})").find("unterminated"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type": "string", "pattern": "(ab"})").find("missing ')'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type": "string", "pattern": "\\x01"})").find("never emits"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"items": [{"type": "string"}]})").find("prefixItems"), std::string::npos);
  EXPECT_NE(error_of("{}", {"[ ]?", 0}).find("max_depth"), std::string::npos);
  EXPECT_NE(error_of("[1]").find("a schema must be an object or a boolean"), std::string::npos);
}

TEST(JsonSchema, IgnoredKeywordsDoNotChangeTheLanguage) {
  auto plain = json_schema_to_regex(R"({"type": "integer"})");
  auto bounded = json_schema_to_regex(
      R"({"type": "integer", "minimum": 0, "maximum": 9, "multipleOf": 3, "title": "n"})");
  ASSERT_TRUE(plain.is_ok() && bounded.is_ok());
  EXPECT_EQ(*plain, *bounded);
}

TEST(JsonSchema, HugeRecursionFailsWithASizeErrorInsteadOfExhaustingMemory) {
  // Three recursive children per node: the regex grows ~8x per level.
  const std::string schema = R"({"type": "object", "properties": {
      "a": {"$ref": "#"}, "b": {"$ref": "#"}, "c": {"$ref": "#"}, "d": {"$ref": "#"}}})";
  const std::string msg = error_of(schema, {"[ ]?", 12});
  EXPECT_NE(msg.find("the regex grows past"), std::string::npos) << msg;
}

}  // namespace
}  // namespace radix::constrained
