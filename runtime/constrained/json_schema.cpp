// JSON schema -> regex for structured output: the schema walk (Converter). json_schema.h
// states what is accepted, the semantics chosen and where they differ from outlines. A
// string schema's `pattern` is translated by json_pattern.h.
#include "runtime/constrained/json_schema.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "core/check.h"
#include "runtime/constrained/json_pattern.h"
#include "runtime/constrained/regex_text.h"

namespace radix::constrained {
namespace {

using Json = nlohmann::ordered_json;  // keeps `properties` in the order the schema gives
// A regex, or nullopt for the empty language: a schema no generated value satisfies
// (false, a $ref cut at max_depth). Callers drop such branches or propagate them.
using Rx = std::optional<std::string>;

constexpr size_t kMaxRegexBytes = size_t{4} << 20;
constexpr int kMaxSchemaNesting = 256;
constexpr int64_t kMaxCount = (int64_t{1} << 31) - 1;
constexpr int kMaxJsonObjectDepth = 5;

// One character of a JSON string as it appears in the text: a raw character other than
// '"', '\' and controls (C0, DEL, C1 as outlines excludes them), or an escape sequence.
constexpr std::string_view kStringUnit =
    R"((?:[^"\\\x00-\x1F\x7F-\x9F]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4}))";
constexpr std::string_view kInteger = R"(-?(?:0|[1-9][0-9]*))";
constexpr std::string_view kNumber = R"(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)";
constexpr std::string_view kBoolean = "(?:true|false)";
constexpr std::string_view kNull = "null";
constexpr std::string_view kDateBody = "[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])";
constexpr std::string_view kTimeBody =
    R"((?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?)";
constexpr std::string_view kUuidBody =
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

bool one_of(std::string_view s, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

// Keywords whose constraint cannot be expressed; they fail instead of being ignored.
bool is_rejected_keyword(std::string_view k) {
  return one_of(
      k, {"patternProperties", "if", "then", "else", "not", "dependentRequired", "dependentSchemas",
          "dependencies", "propertyNames", "unevaluatedProperties", "unevaluatedItems", "contains",
          "minContains", "maxContains", "additionalItems", "$dynamicRef", "$recursiveRef"});
}
const std::initializer_list<std::string_view> kObjectKeywords = {
    "properties", "required", "additionalProperties", "minProperties", "maxProperties"};
const std::initializer_list<std::string_view> kArrayKeywords = {"items", "prefixItems", "minItems",
                                                                "maxItems"};
const std::initializer_list<std::string_view> kStringKeywords = {"minLength", "maxLength",
                                                                 "pattern", "format"};
const std::initializer_list<std::string_view> kCompositionKeywords = {"$ref", "anyOf", "oneOf",
                                                                      "allOf"};
// Keywords that shape the regex (everything else is an annotation or ignored).
bool is_structural_keyword(std::string_view k) {
  return one_of(k, kObjectKeywords) || one_of(k, kArrayKeywords) || one_of(k, kStringKeywords) ||
         one_of(k, kCompositionKeywords) || one_of(k, {"type", "enum", "const"});
}

// x repeated lo..hi times (hi nullopt: unbounded). Callers never ask for exactly 0.
std::string repeat(const std::string& x, int64_t lo, std::optional<int64_t> hi) {
  if (hi && *hi == 1 && lo == 1) return x;
  std::string q;
  if (!hi) {
    q = lo == 0 ? "*" : lo == 1 ? "+" : "{" + std::to_string(lo) + ",}";
  } else if (lo == *hi) {
    q = "{" + std::to_string(lo) + "}";
  } else if (lo == 0 && *hi == 1) {
    q = "?";
  } else {
    q = "{" + std::to_string(lo) + "," + std::to_string(*hi) + "}";
  }
  return "(?:" + x + ")" + q;
}

std::string json_string_regex() {
  return "\"" + std::string(kStringUnit) + "*\"";
}

std::string display_path(const std::string& path) {
  return path.empty() ? "/" : path;
}

Status schema_error(const std::string& path, const std::string& what) {
  return invalid_argument("json_schema: " + what + " at " + display_path(path));
}

// JSON pointer child: "~" -> "~0", "/" -> "~1".
std::string child_path(const std::string& path, std::string_view token) {
  std::string out = path + "/";
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

// ---- the schema walk ----

class Converter {
 public:
  Converter(const Json& root, const JsonRegexOptions& opt)
      : root_(root),
        max_depth_(opt.max_depth),
        ws_(opt.whitespace.find('|') == std::string::npos ? opt.whitespace
                                                          : "(?:" + opt.whitespace + ")") {}

  Result<Rx> convert(const Json& s, const std::string& path) {
    if (nesting_ >= kMaxSchemaNesting) return schema_error(path, "schema nested too deeply");
    ++nesting_;
    Result<Rx> r = convert_inner(s, path);
    --nesting_;
    if (r.is_ok() && *r && (*r)->size() > kMaxRegexBytes) return too_large(path);
    return r;
  }

  // Any JSON value of nesting depth <= depth.
  Result<std::string> any_value(int depth) {
    while (static_cast<int>(any_value_.size()) <= depth) {
      const int d = static_cast<int>(any_value_.size());
      std::string v = "(?:" + json_string_regex() + "|" + std::string(kNumber) + "|true|false|null";
      if (d > 0) {
        RADIX_ASSIGN_OR_RETURN(std::string obj, any_object(d));
        v +=
            "|" + obj + "|" + sequence("\\[", "\\]", any_value_[static_cast<size_t>(d - 1)], 0, {});
      }
      any_value_.push_back(v + ")");
    }
    return any_value_[static_cast<size_t>(depth)];
  }

  // Any JSON object of nesting depth <= depth (>= 1).
  Result<std::string> any_object(int depth) {
    RADIX_ASSIGN_OR_RETURN(std::string value, any_value(depth - 1));
    if (value.size() * 4 > kMaxRegexBytes) return too_large("");
    return sequence("\\{", "\\}", member_regex(json_string_regex(), value), 0, {});
  }

 private:
  Status too_large(const std::string& path) const {
    return schema_error(path, "the regex grows past " + std::to_string(kMaxRegexBytes >> 20) +
                                  " MiB (lower max_depth or simplify the schema)");
  }

  std::string member_regex(const std::string& key, const std::string& value) const {
    return key + ws_ + ":" + ws_ + value;
  }

  // open, then `elem` repeated min..max times separated by commas, then close.
  std::string sequence(const std::string& open, const std::string& close, const std::string& elem,
                       int64_t min, std::optional<int64_t> max) const {
    if (max && *max == 0) return open + ws_ + close;
    const std::optional<int64_t> more_max = max ? std::optional<int64_t>(*max - 1) : std::nullopt;
    std::string body = elem;
    if (!more_max || *more_max > 0) {
      body += repeat(ws_ + "," + ws_ + elem, std::max<int64_t>(min - 1, 0), more_max);
    }
    if (min == 0) return open + ws_ + "(?:" + body + ws_ + ")?" + close;
    return open + ws_ + body + ws_ + close;
  }

  Result<Rx> convert_inner(const Json& s, const std::string& path) {
    if (s.is_boolean()) {
      if (!s.get<bool>()) return Rx{};
      RADIX_ASSIGN_OR_RETURN(std::string any, any_value(max_depth_));
      return Rx(std::move(any));
    }
    if (!s.is_object()) return schema_error(path, "a schema must be an object or a boolean");
    std::string composition;
    for (const auto& [key, value] : s.items()) {
      if (is_rejected_keyword(key)) return schema_error(path, "unsupported keyword '" + key + "'");
      if (one_of(key, kCompositionKeywords)) {
        if (!composition.empty()) {
          return schema_error(path, "'" + composition + "' and '" + key + "' cannot be combined");
        }
        composition = key;
      }
    }
    if (!composition.empty()) {
      for (const auto& [key, value] : s.items()) {
        if (key != composition && is_structural_keyword(key)) {
          return schema_error(path, "'" + key + "' next to '" + composition + "' is not supported");
        }
      }
      if (composition == "$ref") return ref_schema(s, path);
      return combined_schema(s.at(composition), composition, child_path(path, composition));
    }
    if (s.contains("enum") || s.contains("const")) return enum_schema(s, path);

    std::vector<std::string> types;
    if (s.contains("type")) {
      RADIX_ASSIGN_OR_RETURN(types, read_types(s.at("type"), child_path(path, "type")));
    } else {
      // No type: the schema constrains only the types its keywords apply to; we generate
      // those types (a subset of the instances), or anything when there are none.
      auto has_any = [&](std::initializer_list<std::string_view> keys) {
        for (auto k : keys) {
          if (s.contains(std::string(k))) return true;
        }
        return false;
      };
      if (has_any(kObjectKeywords)) types.push_back("object");
      if (has_any(kArrayKeywords)) types.push_back("array");
      if (has_any(kStringKeywords)) types.push_back("string");
      if (types.empty()) {
        RADIX_ASSIGN_OR_RETURN(std::string any, any_value(max_depth_));
        return Rx(std::move(any));
      }
    }
    std::vector<std::string> alts;
    for (const auto& t : types) {
      RADIX_ASSIGN_OR_RETURN(Rx r, typed_schema(s, t, path));
      if (r) alts.push_back(std::move(*r));
    }
    if (alts.empty()) return Rx{};
    return Rx(alternation(alts));
  }

  Result<std::vector<std::string>> read_types(const Json& t, const std::string& path) const {
    std::vector<std::string> types;
    if (t.is_string()) {
      types.push_back(t.get<std::string>());
    } else if (t.is_array() && !t.empty()) {
      for (const auto& x : t) {
        if (!x.is_string())
          return schema_error(path, "'type' must be a string or a list of strings");
        types.push_back(x.get<std::string>());
      }
    } else {
      return schema_error(path, "'type' must be a string or a non-empty list of strings");
    }
    for (const auto& x : types) {
      if (!one_of(x, {"string", "integer", "number", "boolean", "null", "object", "array"})) {
        return schema_error(path, "unknown type '" + x + "'");
      }
    }
    return types;
  }

  Result<Rx> typed_schema(const Json& s, const std::string& type, const std::string& path) {
    if (type == "string") return string_schema(s, path);
    if (type == "integer") return Rx(std::string(kInteger));
    if (type == "number") return Rx(std::string(kNumber));
    if (type == "boolean") return Rx(std::string(kBoolean));
    if (type == "null") return Rx(std::string(kNull));
    if (type == "object") return object_schema(s, path);
    return array_schema(s, path);
  }

  // A count keyword (minItems, maxLength, ...): absent, or a non-negative integer.
  Result<std::optional<int64_t>> read_count(const Json& s, const char* key,
                                            const std::string& path) const {
    auto it = s.find(key);
    if (it == s.end()) return std::optional<int64_t>{};
    const Json& v = *it;
    double d = -1;
    if (v.is_number_integer() || v.is_number_float()) d = v.get<double>();
    if (!(d >= 0 && d <= static_cast<double>(kMaxCount)) || d != static_cast<int64_t>(d)) {
      return schema_error(child_path(path, key),
                          std::string("'") + key + "' must be a non-negative integer");
    }
    return std::optional<int64_t>(static_cast<int64_t>(d));
  }

  Status check_bounds(std::optional<int64_t> lo, std::optional<int64_t> hi, const char* lo_key,
                      const char* hi_key, const std::string& path) const {
    if (lo && hi && *lo > *hi) {
      return schema_error(path, std::string("'") + lo_key + "' " + std::to_string(*lo) +
                                    " is greater than '" + hi_key + "' " + std::to_string(*hi));
    }
    return Status::ok();
  }

  Result<Rx> string_schema(const Json& s, const std::string& path) {
    RADIX_ASSIGN_OR_RETURN(auto min_len, read_count(s, "minLength", path));
    RADIX_ASSIGN_OR_RETURN(auto max_len, read_count(s, "maxLength", path));
    RADIX_RETURN_IF_ERROR(check_bounds(min_len, max_len, "minLength", "maxLength", path));
    const Json* pattern = s.contains("pattern") ? &s.at("pattern") : nullptr;
    if (pattern && !pattern->is_string()) {
      return schema_error(child_path(path, "pattern"), "'pattern' must be a string");
    }
    std::string format;
    if (s.contains("format")) {
      if (!s.at("format").is_string()) {
        return schema_error(child_path(path, "format"), "'format' must be a string");
      }
      format = s.at("format").get<std::string>();
      // Formats without a regex are annotations (draft 2020-12's default): plain strings.
      if (!one_of(format, {"date-time", "date", "time", "uuid"})) format.clear();
    }
    const int kinds = (min_len || max_len ? 1 : 0) + (pattern ? 1 : 0) + (format.empty() ? 0 : 1);
    if (kinds > 1) {
      return schema_error(path,
                          "combining minLength/maxLength, 'pattern' and 'format' is not supported");
    }
    if (format == "date-time")
      return Rx("\"" + std::string(kDateBody) + "T" + std::string(kTimeBody) + "\"");
    if (format == "date") return Rx("\"" + std::string(kDateBody) + "\"");
    if (format == "time") return Rx("\"" + std::string(kTimeBody) + "\"");
    if (format == "uuid") return Rx("\"" + std::string(kUuidBody) + "\"");
    if (pattern) {
      Result<std::string> body = json_pattern_to_regex(pattern->get<std::string>());
      if (!body.is_ok()) return schema_error(child_path(path, "pattern"), body.status().message());
      return Rx("\"(?:" + *body + ")\"");
    }
    if (min_len || max_len) {
      if (max_len && *max_len == 0) return Rx(std::string("\"\""));
      return Rx("\"" + repeat(std::string(kStringUnit), min_len.value_or(0), max_len) + "\"");
    }
    return Rx(json_string_regex());
  }

  Result<Rx> object_schema(const Json& s, const std::string& path) {
    RADIX_ASSIGN_OR_RETURN(auto min_props, read_count(s, "minProperties", path));
    RADIX_ASSIGN_OR_RETURN(auto max_props, read_count(s, "maxProperties", path));
    std::vector<std::string> required;
    if (s.contains("required")) {
      const Json& r = s.at("required");
      if (!r.is_array())
        return schema_error(child_path(path, "required"), "'required' must be a list");
      for (const auto& name : r) {
        if (!name.is_string()) {
          return schema_error(child_path(path, "required"), "'required' must list strings");
        }
        required.push_back(name.get<std::string>());
      }
    }
    const Json* additional =
        s.contains("additionalProperties") ? &s.at("additionalProperties") : nullptr;
    if (additional && !additional->is_boolean() && !additional->is_object()) {
      return schema_error(child_path(path, "additionalProperties"),
                          "'additionalProperties' must be a schema");
    }

    if (s.contains("properties")) {
      const Json& props = s.at("properties");
      const std::string props_path = child_path(path, "properties");
      if (!props.is_object()) return schema_error(props_path, "'properties' must be an object");
      if (min_props || max_props) {
        return schema_error(path,
                            "minProperties/maxProperties next to 'properties' are not supported");
      }
      for (const auto& name : required) {
        if (!props.contains(name)) {
          return schema_error(child_path(path, "required"),
                              "required property '" + name + "' is not in 'properties'");
        }
      }
      std::vector<Member> members;
      for (const auto& [name, sub] : props.items()) {
        RADIX_ASSIGN_OR_RETURN(Rx value, convert(sub, child_path(props_path, name)));
        const bool is_required =
            std::find(required.begin(), required.end(), name) != required.end();
        if (!value) {
          if (is_required) return Rx{};  // a required property no value satisfies
          continue;                      // an optional one is simply never produced
        }
        RADIX_ASSIGN_OR_RETURN(std::string key, literal_regex(Json(name), path));
        members.push_back({member_regex(key, *value), is_required});
      }
      return object_from_members(members, path);
    }

    if (!required.empty()) {
      return schema_error(child_path(path, "required"),
                          "'required' without 'properties' is not supported");
    }
    RADIX_RETURN_IF_ERROR(
        check_bounds(min_props, max_props, "minProperties", "maxProperties", path));
    Rx value;
    if (!additional || (additional->is_boolean() && additional->get<bool>())) {
      RADIX_ASSIGN_OR_RETURN(std::string any, any_value(max_depth_ - 1));
      value = std::move(any);
    } else if (additional->is_object()) {
      RADIX_ASSIGN_OR_RETURN(value, convert(*additional, child_path(path, "additionalProperties")));
    }
    const int64_t lo = min_props.value_or(0);
    if (!value) return lo == 0 ? Rx("\\{" + ws_ + "\\}") : Rx{};
    return Rx(sequence("\\{", "\\}", member_regex(json_string_regex(), *value), lo, max_props));
  }

  struct Member {
    std::string regex;  // "name" ws : ws value
    bool required;
  };

  // The listed properties in order, the required ones always, commas right in every
  // combination. With a required property r (the first): optional ones before it each
  // carry a trailing comma, the ones after it a leading comma; every member appears once.
  // With none required: an alternation over which member comes first (quadratic, as
  // outlines), the whole optional.
  Result<Rx> object_from_members(const std::vector<Member>& members,
                                 const std::string& path) const {
    if (members.empty()) return Rx("\\{" + ws_ + "\\}");
    const std::string sep = ws_ + "," + ws_;
    auto first_required =
        std::find_if(members.begin(), members.end(), [](const Member& m) { return m.required; });
    std::string body;
    if (first_required != members.end()) {
      for (auto it = members.begin(); it != members.end(); ++it) {
        if (it < first_required) {
          body += "(?:" + it->regex + sep + ")?";
        } else if (it == first_required) {
          body += it->regex;
        } else {
          body += it->required ? sep + it->regex : "(?:" + sep + it->regex + ")?";
        }
      }
      return Rx("\\{" + ws_ + body + ws_ + "\\}");
    }
    size_t estimate = 0;
    for (size_t i = 0; i < members.size(); ++i) estimate += (members[i].regex.size() + 8) * (i + 1);
    if (estimate > kMaxRegexBytes) return too_large(path);
    std::vector<std::string> alts;
    for (size_t i = 0; i < members.size(); ++i) {
      std::string a = members[i].regex;
      for (size_t j = i + 1; j < members.size(); ++j) a += "(?:" + sep + members[j].regex + ")?";
      alts.push_back(std::move(a));
    }
    return Rx("\\{" + ws_ + "(?:" + alternation(alts) + ws_ + ")?\\}");
  }

  Result<Rx> array_schema(const Json& s, const std::string& path) {
    RADIX_ASSIGN_OR_RETURN(auto min_items, read_count(s, "minItems", path));
    RADIX_ASSIGN_OR_RETURN(auto max_items, read_count(s, "maxItems", path));
    RADIX_RETURN_IF_ERROR(check_bounds(min_items, max_items, "minItems", "maxItems", path));
    const std::string items_path = child_path(path, "items");
    const Json* items = s.contains("items") ? &s.at("items") : nullptr;
    if (items && items->is_array()) {
      return schema_error(items_path,
                          "'items' as a list (draft-4 tuples) is not supported; use 'prefixItems'");
    }
    if (items && !items->is_boolean() && !items->is_object()) {
      return schema_error(items_path, "'items' must be a schema");
    }
    const std::string empty = "\\[" + ws_ + "\\]";
    Rx elem;
    if (items && items->is_object()) {
      RADIX_ASSIGN_OR_RETURN(elem, convert(*items, items_path));
    } else if (!items || items->get<bool>()) {
      if (!s.contains("prefixItems")) {
        RADIX_ASSIGN_OR_RETURN(std::string any, any_value(max_depth_ - 1));
        elem = std::move(any);
      }
    }

    if (s.contains("prefixItems")) {
      const Json& prefix = s.at("prefixItems");
      const std::string prefix_path = child_path(path, "prefixItems");
      if (!prefix.is_array() || prefix.empty()) {
        return schema_error(prefix_path, "'prefixItems' must be a non-empty list of schemas");
      }
      if (min_items || max_items) {
        return schema_error(path, "minItems/maxItems next to 'prefixItems' are not supported");
      }
      // Exactly the prefix (shorter arrays are valid too, but not generated), cut before
      // the first element no value satisfies.
      std::vector<std::string> elems;
      for (size_t i = 0; i < prefix.size(); ++i) {
        RADIX_ASSIGN_OR_RETURN(Rx e,
                               convert(prefix[i], child_path(prefix_path, std::to_string(i))));
        if (!e) break;
        elems.push_back(std::move(*e));
      }
      if (elems.empty()) return Rx(empty);
      const std::string sep = ws_ + "," + ws_;
      std::string body = join(elems, sep);
      if (elems.size() == prefix.size() && items && items->is_object() && elem) {
        body += "(?:" + sep + *elem + ")*";
      }
      return Rx("\\[" + ws_ + body + ws_ + "\\]");
    }

    const int64_t lo = min_items.value_or(0);
    if (!elem) return lo == 0 ? Rx(empty) : Rx{};
    if (elem->size() * 2 > kMaxRegexBytes) return too_large(path);
    return Rx(sequence("\\[", "\\]", *elem, lo, max_items));
  }

  // A JSON value as a regex: scalars as nlohmann dumps them, containers token by token
  // with whitespace between (object keys in the given order).
  Result<std::string> literal_regex(const Json& v, const std::string& path, int depth = 0) const {
    if (depth > kMaxSchemaNesting) return schema_error(path, "literal nested too deeply");
    if (v.is_array()) {
      if (v.empty()) return "\\[" + ws_ + "\\]";
      std::vector<std::string> parts;
      for (const auto& x : v) {
        RADIX_ASSIGN_OR_RETURN(std::string p, literal_regex(x, path, depth + 1));
        parts.push_back(std::move(p));
      }
      return "\\[" + ws_ + join(parts, ws_ + "," + ws_) + ws_ + "\\]";
    }
    if (v.is_object()) {
      if (v.empty()) return "\\{" + ws_ + "\\}";
      std::vector<std::string> parts;
      for (const auto& [key, x] : v.items()) {
        RADIX_ASSIGN_OR_RETURN(std::string k, literal_regex(Json(key), path));
        RADIX_ASSIGN_OR_RETURN(std::string p, literal_regex(x, path, depth + 1));
        parts.push_back(member_regex(k, p));
      }
      return "\\{" + ws_ + join(parts, ws_ + "," + ws_) + ws_ + "\\}";
    }
    try {
      return regex_escape(v.dump());
    } catch (const nlohmann::json::exception& e) {
      return schema_error(path, std::string("cannot serialize a literal: ") + e.what());
    }
  }

  static bool value_has_type(const Json& v, const std::string& type) {
    if (type == "string") return v.is_string();
    if (type == "number") return v.is_number();
    if (type == "integer") {
      if (v.is_number_integer()) return true;
      if (!v.is_number_float()) return false;
      const double d = v.get<double>();
      return d == static_cast<double>(static_cast<int64_t>(d));
    }
    if (type == "boolean") return v.is_boolean();
    if (type == "null") return v.is_null();
    if (type == "object") return v.is_object();
    return v.is_array();
  }

  Result<Rx> enum_schema(const Json& s, const std::string& path) {
    if (s.contains("enum") && s.contains("const")) {
      return schema_error(path, "'enum' and 'const' cannot be combined");
    }
    std::vector<const Json*> values;
    if (s.contains("const")) {
      values.push_back(&s.at("const"));
    } else {
      const Json& e = s.at("enum");
      if (!e.is_array() || e.empty()) {
        return schema_error(child_path(path, "enum"), "'enum' must be a non-empty list");
      }
      for (const auto& v : e) values.push_back(&v);
    }
    std::vector<std::string> types;
    if (s.contains("type")) {
      RADIX_ASSIGN_OR_RETURN(types, read_types(s.at("type"), child_path(path, "type")));
    }
    std::vector<std::string> alts;
    for (const Json* v : values) {
      const bool typed =
          types.empty() || std::any_of(types.begin(), types.end(),
                                       [&](const auto& t) { return value_has_type(*v, t); });
      if (!typed) continue;
      RADIX_ASSIGN_OR_RETURN(std::string lit, literal_regex(*v, path));
      if (std::find(alts.begin(), alts.end(), lit) == alts.end()) alts.push_back(std::move(lit));
    }
    if (alts.empty()) return Rx{};
    return Rx(alternation(alts));
  }

  Result<Rx> combined_schema(const Json& subs, const std::string& keyword,
                             const std::string& path) {
    if (!subs.is_array() || subs.empty()) {
      return schema_error(path, "'" + keyword + "' must be a non-empty list of schemas");
    }
    if (keyword == "allOf") {
      if (subs.size() != 1) {
        return schema_error(path, "'allOf' with " + std::to_string(subs.size()) +
                                      " subschemas is not supported (only one)");
      }
      return convert(subs[0], child_path(path, "0"));
    }
    // anyOf and oneOf alike: oneOf's "exactly one" is not enforced (as outlines).
    std::vector<std::string> alts;
    for (size_t i = 0; i < subs.size(); ++i) {
      RADIX_ASSIGN_OR_RETURN(Rx r, convert(subs[i], child_path(path, std::to_string(i))));
      if (r && std::find(alts.begin(), alts.end(), *r) == alts.end()) alts.push_back(std::move(*r));
    }
    if (alts.empty()) return Rx{};
    return Rx(alternation(alts));
  }

  Result<Rx> ref_schema(const Json& s, const std::string& path) {
    const Json& ref = s.at("$ref");
    const std::string ref_path = child_path(path, "$ref");
    if (!ref.is_string()) return schema_error(ref_path, "'$ref' must be a string");
    const std::string r = ref.get<std::string>();
    if (r.empty() || r[0] != '#' || (r.size() > 1 && r[1] != '/')) {
      return schema_error(ref_path, "$ref '" + r +
                                        "' is not supported (only local JSON pointers: '#', "
                                        "'#/$defs/...', '#/definitions/...')");
    }
    const std::string pointer = r.substr(1);
    const Json* target = nullptr;
    try {
      const Json::json_pointer pointer_value(pointer);
      if (root_.contains(pointer_value)) target = &root_.at(pointer_value);
    } catch (const nlohmann::json::exception&) {
      // a malformed pointer (e.g. "#/items/01") resolves to nothing
    }
    if (!target) return schema_error(ref_path, "$ref '" + r + "' does not resolve");
    // Recursion bound: a target already being expanded max_depth times on this path is cut.
    int& expansions = ref_expansions_[pointer];
    if (expansions >= max_depth_) return Rx{};
    ++expansions;
    Result<Rx> out = convert(*target, pointer);
    --expansions;
    return out;
  }

  const Json& root_;
  const int max_depth_;
  const std::string ws_;
  int nesting_ = 0;
  std::map<std::string, int> ref_expansions_;  // JSON pointer -> expansions on the current path
  std::vector<std::string> any_value_;         // [depth]: any JSON value of that nesting depth
};

}  // namespace

Result<std::string> json_schema_to_regex(std::string_view schema_json,
                                         const JsonRegexOptions& opt) {
  if (opt.max_depth < 1) return invalid_argument("json_schema: max_depth must be at least 1");
  Json schema;
  try {
    schema = Json::parse(schema_json);
  } catch (const nlohmann::json::exception& e) {
    return invalid_argument(std::string("json_schema: invalid JSON: ") + e.what());
  }
  Converter converter(schema, opt);
  RADIX_ASSIGN_OR_RETURN(Rx regex, converter.convert(schema, ""));
  if (!regex) {
    return invalid_argument(
        "json_schema: no value satisfies the schema (false, an empty enum, a required property "
        "that cannot be produced, or a $ref recursion that does not end within max_depth " +
        std::to_string(opt.max_depth) + ")");
  }
  return std::move(*regex);
}

std::string json_object_regex(const JsonRegexOptions& opt) {
  JsonRegexOptions o = opt;
  o.max_depth = std::clamp(opt.max_depth, 1, kMaxJsonObjectDepth);
  const Json none;
  Converter converter(none, o);
  Result<std::string> r = converter.any_object(o.max_depth);
  RADIX_CHECK(r.is_ok());  // depth is clamped, so the size bound is never reached
  return std::move(r).value();
}

}  // namespace radix::constrained
