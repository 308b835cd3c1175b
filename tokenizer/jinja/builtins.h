// Jinja built-ins (tokenizer/jinja): filters, tests, attribute/item access, methods of
// strings and dicts, and tojson, with Python Jinja2 / transformers semantics. The
// interpreter calls these; all of them throw RenderError on bad input.
#pragma once

#include <optional>
#include <string>

#include "tokenizer/jinja/value.h"

namespace radix::jinja {

bool is_filter_name(const std::string& name);
bool is_test_name(const std::string& name);

Value apply_filter(const std::string& name, const Value& operand, CallArgs& args);
bool apply_test(const std::string& name, const Value& operand, CallArgs& args);

// obj.name: dict keys (and the dict methods items/keys/values/get), string methods;
// undefined for anything missing (also on an undefined object).
Value get_attr(const Value& obj, const std::string& name);
// obj[key]: dict keys, list/string indices (negative from the end); undefined if missing.
Value get_item(const Value& obj, const Value& key);
// obj[start:stop:step] on lists and strings (each bound may be none/undefined).
Value slice_value(const Value& obj, const Value& start, const Value& stop, const Value& step);
// Python `item in container`.
bool contains(const Value& container, const Value& item);
// The items a for loop visits: list items, dict keys, string characters; none for undefined.
List iterate(const Value& v);

struct JsonOptions {
  std::optional<std::string> indent;          // None: one line
  std::optional<std::string> item_separator;  // default ", " (or "," when indenting)
  std::string key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;  // transformers' tojson default
};
// Python json.dumps as transformers' tojson filter calls it.
std::string to_json(const Value& v, const JsonOptions& options);

// range, dict, raise_exception, strftime_now (namespace is the interpreter's own).
void install_globals(Dict& globals);

// Strings may not grow past this (guards 'x' * 10**12 and friends).
constexpr size_t kMaxStringBytes = size_t{256} << 20;

}  // namespace radix::jinja
