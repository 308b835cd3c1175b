// Runtime values of the Jinja interpreter (tokenizer/jinja): what template variables,
// literals and expression results are. Chat requests enter as JSON (from_json) and leave
// as text (to_str); the semantics follow Python Jinja2 as used by transformers.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace radix::jinja {

// A render-time error (raise_exception, type errors, limits). Thrown only inside the
// interpreter and turned into a Status at the Template boundary; `offset` is the byte
// offset in the template source (npos when unknown) used to report line:column.
class RenderError : public std::runtime_error {
 public:
  explicit RenderError(const std::string& message, size_t offset = std::string::npos)
      : std::runtime_error(message), offset(offset) {}
  size_t offset;
};

class Value;
using List = std::vector<Value>;

// An insertion-ordered string-keyed map (Python dict as it comes from JSON).
struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  void set(const std::string& key, Value value);
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
  // The keyword argument `name`, or nullptr.
  const Value* kwarg(std::string_view name) const;
};

using Function = std::function<Value(CallArgs&)>;

class Value {
 public:
  enum class Kind {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kList,
    kDict,
    kNamespace,
    kFunction
  };

  Value() = default;  // undefined
  static Value undefined(std::string hint = {});
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value floating(double f);
  static Value string(std::string s);
  static Value list(List items);
  static Value dict(Dict d);
  static Value namespace_of(Dict d);  // mutable attribute bag of `namespace()`
  static Value function(Function f);

  // JSON -> Value. Throws RenderError past `max_depth` levels of nesting. Use
  // ordered_json to keep object key order (tojson output depends on it, as in Python).
  static Value from_json(const nlohmann::ordered_json& j, int max_depth = 256);
  static Value from_json(const nlohmann::json& j, int max_depth = 256);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  bool is_number() const {
    return kind_ == Kind::kInt || kind_ == Kind::kFloat || kind_ == Kind::kBool;
  }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_namespace() const { return kind_ == Kind::kNamespace; }
  bool is_function() const { return kind_ == Kind::kFunction; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return kind_ == Kind::kBool ? (b_ ? 1 : 0) : i_; }
  double as_double() const;  // int, float or bool as a double
  const std::string& as_string() const { return *s_; }
  // What an undefined stands for (a variable or attribute name), for error messages.
  std::string undefined_hint() const { return kind_ == Kind::kUndefined && s_ ? *s_ : ""; }
  const List& as_list() const { return *list_; }
  const Dict& as_dict() const { return *dict_; }  // dict or namespace
  Dict& namespace_dict() const { return *dict_; }
  const std::shared_ptr<Dict>& dict_ptr() const { return dict_; }
  const Function& as_function() const { return *fn_; }

  // Python truthiness (undefined and empty containers are false).
  bool truthy() const;
  // Python str(): what {{ value }} prints ("None", "True", "['a', 1]"; undefined -> "").
  std::string to_str() const;
  // Python repr(): strings quoted, used inside containers. Throws RenderError past a
  // nesting depth (a namespace can be made to contain itself).
  std::string repr(int depth = 0) const;
  // A short type name for error messages ("str", "int", "list", ...).
  const char* type_name() const;

 private:
  Kind kind_ = Kind::kUndefined;
  bool b_ = false;
  int64_t i_ = 0;
  double f_ = 0.0;
  std::shared_ptr<const std::string> s_;
  std::shared_ptr<const List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<const Function> fn_;
};

// Python ==, with 1 == 1.0 == True and element-wise containers.
bool values_equal(const Value& a, const Value& b);
// Python <: numbers, strings (code point order), lists. Throws RenderError otherwise.
bool values_less(const Value& a, const Value& b);

// Python float repr: "1.0", "0.1", "1e+16", "1.5e-05", "inf", "nan".
std::string format_float(double f);

// UTF-8 helpers: strings are UTF-8 bytes; Python indexes them by code point.
std::u32string utf8_decode(std::string_view s);
std::string utf8_encode(std::u32string_view s);
void utf8_append(std::string& out, char32_t c);
// Python str.isspace for one code point.
bool is_py_space(char32_t c);

}  // namespace radix::jinja
