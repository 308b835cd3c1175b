// FieldReader implementation (see json_fields.h).
#include "server/json_fields.h"

#include <algorithm>
#include <cmath>

#include "runtime/constrained/regex_text.h"

namespace radix::server {

FieldReader::FieldReader(const nlohmann::json& obj, std::string prefix)
    : obj_(obj), prefix_(std::move(prefix)) {}

void FieldReader::fail(const std::string& key, const std::string& message) {
  if (!error_) error_ = bad_request(message, key);
}

bool FieldReader::has(const char* key) const {
  auto it = obj_.find(key);
  return it != obj_.end() && !it->is_null();
}

std::optional<int64_t> json_to_int(const nlohmann::json& v, int64_t lo, int64_t hi) {
  if (v.is_number_integer() && !v.is_number_unsigned()) {
    int64_t x = v.get<int64_t>();
    if (x < lo || x > hi) return std::nullopt;
    return x;
  }
  if (v.is_number_unsigned()) {
    uint64_t x = v.get<uint64_t>();
    if (hi < 0 || x > static_cast<uint64_t>(hi) || static_cast<int64_t>(x) < lo) {
      return std::nullopt;
    }
    return static_cast<int64_t>(x);
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (!std::isfinite(d) || d != std::floor(d)) return std::nullopt;
    if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) return std::nullopt;
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

std::string json_type_name(const nlohmann::json& v) {
  return v.type_name();
}

size_t json_nesting_depth(std::string_view text) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

std::string json_preview(const nlohmann::json& v) {
  if (v.is_structured()) return std::string("an ") + (v.is_array() ? "array" : "object");
  return dump_json(v).substr(0, 64);
}

std::string dump_json(const nlohmann::json& v) {
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void FieldReader::read_int(const char* key, int64_t lo, int64_t hi, int* out) {
  int64_t v = *out;
  read_int64(key, lo, hi, &v);
  if (ok()) *out = static_cast<int>(v);
}

void FieldReader::read_int64(const char* key, int64_t lo, int64_t hi, int64_t* out) {
  if (!ok() || !has(key)) return;
  auto v = json_to_int(obj_[key], lo, hi);
  if (!v) {
    fail(name(key), "'" + name(key) + "' must be an integer in [" + std::to_string(lo) + ", " +
                        std::to_string(hi) + "], got " + json_preview(obj_[key]) + ".");
    return;
  }
  *out = *v;
}

void FieldReader::read_seed(const char* key, std::optional<uint64_t>* out) {
  if (!ok() || !has(key)) return;
  const auto& v = obj_[key];
  if (v.is_number_unsigned()) {
    *out = v.get<uint64_t>();
  } else if (auto x = json_to_int(v, INT64_MIN, INT64_MAX)) {
    *out = static_cast<uint64_t>(*x);  // negative seeds wrap, as in numpy/torch
  } else {
    fail(name(key), "'" + name(key) + "' must be an integer.");
  }
}

void FieldReader::read_float(const char* key, double lo, double hi, float* out, bool lo_exclusive) {
  if (!ok() || !has(key)) return;
  const auto& v = obj_[key];
  if (!v.is_number()) {
    fail(name(key), "'" + name(key) + "' must be a number, got " + json_type_name(v) + ".");
    return;
  }
  double d = v.get<double>();
  if (!std::isfinite(d) || d < lo || (lo_exclusive && d == lo) || d > hi) {
    fail(name(key), "'" + name(key) + "' must be a number in " + (lo_exclusive ? "(" : "[") + dump_json(lo) +
                        ", " + dump_json(hi) + "], got " + dump_json(v) + ".");
    return;
  }
  *out = static_cast<float>(d);
}

void FieldReader::read_bool(const char* key, bool* out) {
  if (!ok() || !has(key)) return;
  const auto& v = obj_[key];
  if (!v.is_boolean()) {
    fail(name(key), "'" + name(key) + "' must be a boolean, got " + json_type_name(v) + ".");
    return;
  }
  *out = v.get<bool>();
}

void FieldReader::read_string(const char* key, size_t max_len, std::string* out) {
  if (!ok() || !has(key)) return;
  const auto& v = obj_[key];
  if (!v.is_string()) {
    fail(name(key), "'" + name(key) + "' must be a string, got " + json_type_name(v) + ".");
    return;
  }
  const auto& s = v.get_ref<const std::string&>();
  if (s.size() > max_len) {
    fail(name(key), "'" + name(key) + "' is longer than " + std::to_string(max_len) + " bytes.");
    return;
  }
  *out = s;
}

void FieldReader::read_strings(const char* key, size_t max_items, std::vector<std::string>* out) {
  if (!ok() || !has(key)) return;
  const auto& v = obj_[key];
  std::vector<std::string> items;
  if (v.is_string()) {
    items.push_back(v.get<std::string>());
  } else if (v.is_array()) {
    for (const auto& e : v) {
      if (!e.is_string()) {
        fail(name(key), "'" + name(key) + "' must be a string or a list of strings.");
        return;
      }
      items.push_back(e.get<std::string>());
    }
  } else {
    fail(name(key), "'" + name(key) + "' must be a string or a list of strings, got " +
                        json_type_name(v) + ".");
    return;
  }
  if (items.size() > max_items) {
    fail(name(key), "'" + name(key) + "' may hold at most " + std::to_string(max_items) +
                        " entries, got " + std::to_string(items.size()) + ".");
    return;
  }
  for (const auto& s : items) {
    if (s.empty()) {
      fail(name(key), "'" + name(key) + "' entries must not be empty.");
      return;
    }
  }
  *out = std::move(items);
}

void FieldReader::read_int_list(const char* key, size_t max_items, int64_t lo, int64_t hi,
                                std::vector<int32_t>* out) {
  if (!ok() || !has(key)) return;
  const auto& v = obj_[key];
  if (!v.is_array() || v.size() > max_items) {
    fail(name(key), "'" + name(key) + "' must be a list of at most " + std::to_string(max_items) +
                        " integers.");
    return;
  }
  std::vector<int32_t> ids;
  ids.reserve(v.size());
  for (const auto& e : v) {
    auto x = json_to_int(e, lo, hi);
    if (!x) {
      fail(name(key), "'" + name(key) + "' entries must be integers in [" + std::to_string(lo) +
                          ", " + std::to_string(hi) + "], got " + json_preview(e) + ".");
      return;
    }
    ids.push_back(static_cast<int32_t>(*x));
  }
  *out = std::move(ids);
}

const nlohmann::json* FieldReader::object(const char* key) {
  if (!ok() || !has(key)) return nullptr;
  const auto& v = obj_[key];
  if (!v.is_object()) {
    fail(name(key), "'" + name(key) + "' must be an object, got " + json_type_name(v) + ".");
    return nullptr;
  }
  return &v;
}

void FieldReader::read_constraint(bool response_format, constrained::Constraint* out) {
  using Kind = constrained::Constraint::Kind;
  auto set = [&](Kind kind, std::string spec, const std::string& param) {
    if (!ok()) return;
    if (out->active()) {
      fail(param, "'" + param + "' cannot be combined with '" + out->param +
                      "': a request takes one structured-output constraint.");
      return;
    }
    *out = constrained::Constraint{kind, std::move(spec), param};
  };
  auto present = [&](const char* key) {
    if (!has(key)) return false;
    const auto& v = obj_[key];
    return !(v.is_string() && v.get_ref<const std::string&>().empty());
  };
  // Each name SGLang takes, then vLLM's name for the same (guided_choice below).
  for (const char* key : {"regex", "guided_regex"}) {
    if (!ok() || !present(key)) continue;
    std::string re;
    read_string(key, 1 << 20, &re);
    set(Kind::kRegex, std::move(re), name(key));
  }
  for (const char* key : {"json_schema", "guided_json"}) {
    if (!ok() || !present(key)) continue;
    const auto& v = obj_[key];
    if (v.is_string() && v.get_ref<const std::string&>().size() > (1 << 20)) {
      fail(name(key), "'" + name(key) + "' is longer than 1048576 bytes.");
    } else if (v.is_string()) {
      set(Kind::kJsonSchema, v.get<std::string>(), name(key));
    } else if (v.is_object() || v.is_boolean()) {
      set(Kind::kJsonSchema, v.dump(), name(key));
      out->from_object = v.is_object();
    } else {
      fail(name(key), "'" + name(key) + "' must be a JSON schema (an object or its JSON text).");
    }
  }
  if (ok() && present("guided_choice")) {
    const auto& v = obj_["guided_choice"];
    std::vector<std::string> alts;
    for (size_t i = 0; v.is_array() && i < v.size(); ++i) {
      if (!v[i].is_string() || v[i].get_ref<const std::string&>().empty()) break;
      alts.push_back(constrained::regex_escape(v[i].get_ref<const std::string&>()));
    }
    if (!v.is_array() || v.empty() || alts.size() != v.size()) {
      fail(name("guided_choice"), "'" + name("guided_choice") + "' must be a non-empty list of non-empty strings.");
    } else {
      set(Kind::kRegex, constrained::alternation(alts), name("guided_choice"));
    }
  }
  for (const char* key : {"ebnf", "guided_grammar"}) {
    if (ok() && present(key)) {
      fail(name(key), "'" + name(key) + "' (EBNF grammars) is not supported; use 'regex' or 'json_schema'.");
    }
  }
  if (!response_format || !ok()) return;
  const nlohmann::json* rf = object("response_format");
  if (rf == nullptr) return;
  const auto type = rf->find("type");
  if (type == rf->end() || !type->is_string()) {
    fail("response_format.type", "'response_format.type' must be \"text\", \"json_object\" or \"json_schema\".");
    return;
  }
  const std::string& t = type->get_ref<const std::string&>();
  if (t == "text") return;
  if (t == "json_object") {
    set(Kind::kJsonObject, "", "response_format");
    return;
  }
  if (t != "json_schema") {
    fail("response_format.type", "'response_format.type' must be \"text\", \"json_object\" or \"json_schema\", got \"" +
                                     t + "\".");
    return;
  }
  const auto js = rf->find("json_schema");
  if (js == rf->end() || !js->is_object()) {
    fail("response_format.json_schema", "'response_format.json_schema' must be an object with a 'schema'.");
    return;
  }
  const auto schema = js->find("schema");
  if (schema == js->end() || !(schema->is_object() || schema->is_boolean())) {
    fail("response_format.json_schema.schema", "'response_format.json_schema.schema' must be a JSON schema object.");
    return;
  }
  set(Kind::kJsonSchema, schema->dump(), "response_format.json_schema.schema");
  out->from_object = schema->is_object();
}

}  // namespace radix::server
