// tokenizer.json field helpers (see json_util.h).
#include "tokenizer/json_util.h"

#include "tokenizer/unicode.h"

namespace radix::tok {

Result<std::string> json_string(const Json& j, const char* key, const std::string& where,
                                const std::string& fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_string()) return invalid_argument(where + ": field '" + key + "' must be a string");
  return it->get<std::string>();
}

Result<bool> json_bool(const Json& j, const char* key, const std::string& where, bool fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) return invalid_argument(where + ": field '" + key + "' must be a bool");
  return it->get<bool>();
}

Result<int64_t> json_int(const Json& j, const char* key, const std::string& where,
                         int64_t fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number_integer()) {
    return invalid_argument(where + ": field '" + key + "' must be an integer");
  }
  return it->get<int64_t>();
}

Result<std::string> json_type(const Json& j, const std::string& where) {
  if (!j.is_object()) return invalid_argument(where + " must be a JSON object");
  auto it = j.find("type");
  if (it == j.end() || !it->is_string()) {
    return invalid_argument(where + " has no \"type\" field");
  }
  return it->get<std::string>();
}

Result<std::string> json_char(const Json& j, const char* key, const std::string& where,
                              const std::string& fallback) {
  RADIX_ASSIGN_OR_RETURN(std::string s, json_string(j, key, where, fallback));
  char32_t c = 0;
  if (s.empty() || decode_utf8(s, 0, &c) != s.size()) {
    return invalid_argument(where + ": field '" + key + "' must be a single character");
  }
  return s;
}

Result<std::unique_ptr<Regex>> json_pattern(const Json& j, const std::string& where) {
  if (!j.is_object()) return invalid_argument(where + ": pattern must be an object");
  if (auto it = j.find("String"); it != j.end() && it->is_string()) {
    return Regex::literal(it->get<std::string>());
  }
  if (auto it = j.find("Regex"); it != j.end() && it->is_string()) {
    auto re = Regex::compile(it->get<std::string>());
    if (!re.is_ok()) return re.status().with_context(where);
    return re;
  }
  return invalid_argument(where + ": pattern must be {\"String\": ...} or {\"Regex\": ...}");
}

}  // namespace radix::tok
