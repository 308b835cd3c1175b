// FieldReader: strict, typed reads of optional fields from a request's JSON object.
// Every request parser (openai_protocol, native_protocol) reads through it so wrong
// types, out-of-range or non-finite numbers all become one 400 naming the field.
// The first failure is kept; later reads are no-ops.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/constrained/constraint.h"
#include "server/api_error.h"

namespace radix::server {

class FieldReader {
 public:
  // `obj` must outlive the reader. `prefix` names nested objects in messages
  // ("sampling_params.").
  explicit FieldReader(const nlohmann::json& obj, std::string prefix = {});

  bool ok() const { return !error_.has_value(); }
  const std::optional<ApiError>& error() const { return error_; }
  void fail(const std::string& key, const std::string& message);

  // True when the field is present and not null.
  bool has(const char* key) const;

  // Each leaves *out untouched when the field is absent or null.
  void read_int(const char* key, int64_t lo, int64_t hi, int* out);
  void read_int64(const char* key, int64_t lo, int64_t hi, int64_t* out);
  void read_seed(const char* key, std::optional<uint64_t>* out);
  // In [lo, hi], or (lo, hi] with lo_exclusive (top_p, repetition_penalty).
  void read_float(const char* key, double lo, double hi, float* out, bool lo_exclusive = false);
  void read_bool(const char* key, bool* out);
  void read_string(const char* key, size_t max_len, std::string* out);
  // A string or a list of strings (OpenAI `stop`); at most `max_items`, none empty.
  void read_strings(const char* key, size_t max_items, std::vector<std::string>* out);
  // A list of integers in [lo, hi] (`stop_token_ids`).
  void read_int_list(const char* key, size_t max_items, int64_t lo, int64_t hi,
                     std::vector<int32_t>* out);
  // The field's value when present and an object, else nullptr (and a failure when it
  // is present with another type).
  const nlohmann::json* object(const char* key);
  // Structured output: `regex` (a string), `json_schema` (the schema as a JSON string,
  // as SGLang takes it, or as an object) and, with `response_format` (the OpenAI
  // routes), `response_format` {"type": "text" | "json_object" | "json_schema",
  // "json_schema": {"schema": {...}}}. At most one of them; `ebnf` is refused. Empty
  // strings count as absent (clients that always send the field). vLLM's guided_regex,
  // guided_json and guided_choice (a list of strings, one of which is the output) are
  // taken too; guided_grammar is refused like ebnf.
  void read_constraint(bool response_format, constrained::Constraint* out);

 private:
  std::string name(const char* key) const { return prefix_ + key; }

  const nlohmann::json& obj_;
  std::string prefix_;
  std::optional<ApiError> error_;
};

// Reads an integer from a JSON value (an integral float such as 16.0 is accepted);
// nullopt when it is not an integer in [lo, hi].
std::optional<int64_t> json_to_int(const nlohmann::json& v, int64_t lo, int64_t hi);

// The deepest nesting of arrays/objects in JSON text (strings skipped), computed without
// parsing: bodies nested deeper than a limit are refused before anything recursive
// (copy, dump, compare) touches them.
size_t json_nesting_depth(std::string_view text);
inline constexpr size_t kMaxJsonDepth = 64;

// A short description of a value for messages: scalars as JSON, containers by type.
std::string json_preview(const nlohmann::json& v);

// A JSON type name for messages ("string", "array", ...).
std::string json_type_name(const nlohmann::json& v);

// Serializes a response; invalid UTF-8 (e.g. a lone byte token) becomes U+FFFD instead of
// throwing.
std::string dump_json(const nlohmann::json& v);

}  // namespace radix::server
