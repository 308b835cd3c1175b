// Helpers for reading tokenizer.json components: typed field access with defaults and
// errors that name the component and field, and the {"String": ...} / {"Regex": ...}
// pattern objects shared by Split, Replace and the Replace decoder.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "tokenizer/regex.h"

namespace radix::tok {

using Json = nlohmann::json;

// Field `key` of object `j` as a string; `fallback` when absent or null.
Result<std::string> json_string(const Json& j, const char* key, const std::string& where,
                                const std::string& fallback = "");
Result<bool> json_bool(const Json& j, const char* key, const std::string& where, bool fallback);
Result<int64_t> json_int(const Json& j, const char* key, const std::string& where,
                         int64_t fallback);
// The "type" field of a component object.
Result<std::string> json_type(const Json& j, const std::string& where);
// A single character (Rust `char` fields such as Metaspace.replacement) as UTF-8.
Result<std::string> json_char(const Json& j, const char* key, const std::string& where,
                              const std::string& fallback);
// {"String": s} -> a literal matcher, {"Regex": r} -> the compiled pattern.
Result<std::unique_ptr<Regex>> json_pattern(const Json& j, const std::string& where);

// The sub-components of a Sequence: j[key] must be an array; `parse` (Json -> Result of a
// unique_ptr, null for a null entry) is applied to each, null results dropped.
template <typename T, typename ParseFn>
Result<std::vector<std::unique_ptr<T>>> json_sequence(const Json& j, const char* key,
                                                      const std::string& where, ParseFn parse) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) {
    return invalid_argument(where + ": '" + key + "' must be an array");
  }
  std::vector<std::unique_ptr<T>> steps;
  for (const auto& sub : *it) {
    RADIX_ASSIGN_OR_RETURN(auto step, parse(sub));
    if (step) steps.push_back(std::move(step));
  }
  return steps;
}

}  // namespace radix::tok
