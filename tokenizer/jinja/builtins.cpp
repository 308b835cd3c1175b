// Jinja built-ins: filters, tests, attribute and item access, string and dict methods,
// tojson and globals. Semantics follow Python Jinja2 3.x with transformers' chat-template
// environment (its own tojson: ensure_ascii=False, Python separators).
#include "tokenizer/jinja/builtins.h"

#include <utf8proc.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <set>

namespace radix::jinja {
namespace {

[[noreturn]] void fail(const std::string& message) {
  throw RenderError(message);
}

// ---- argument access ----

// The argument at `pos` (after the operand) or keyword `name`, or nullptr.
const Value* arg(const CallArgs& a, size_t pos, const char* name) {
  if (pos < a.positional.size()) return &a.positional[pos];
  return a.kwarg(name);
}

bool arg_bool(const CallArgs& a, size_t pos, const char* name, bool def) {
  const Value* v = arg(a, pos, name);
  return v && !v->is_undefined() ? v->truthy() : def;
}

const std::string& require_string(const Value& v, const char* what) {
  if (!v.is_string()) fail(std::string(what) + " expects a string, got '" + v.type_name() + "'");
  return v.as_string();
}

int64_t require_int(const Value& v, const char* what) {
  if (!v.is_int() && !v.is_bool()) {
    fail(std::string(what) + " expects an integer, got '" + v.type_name() + "'");
  }
  return v.as_int();
}

void check_size(size_t n) {
  if (n > kMaxStringBytes) fail("string result is too large");
}

// Jinja's soft_str: undefined is "", anything else str().
std::string soft_str(const Value& v) {
  return v.to_str();
}

// ---- unicode case ----

bool is_letter(char32_t c) {
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL ||
         cat == UTF8PROC_CATEGORY_LT || cat == UTF8PROC_CATEGORY_LM || cat == UTF8PROC_CATEGORY_LO;
}
char32_t to_upper(char32_t c) {
  return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c)));
}
char32_t to_lower(char32_t c) {
  return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
}
char32_t to_title(char32_t c) {
  return static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(c)));
}

std::string str_upper(const std::string& s) {
  std::u32string u = utf8_decode(s);
  for (auto& c : u) c = to_upper(c);
  return utf8_encode(u);
}
std::string str_lower(const std::string& s) {
  std::u32string u = utf8_decode(s);
  for (auto& c : u) c = to_lower(c);
  return utf8_encode(u);
}
// Python str.capitalize: first character title-cased, the rest lower-cased.
std::string str_capitalize(const std::string& s) {
  std::u32string u = utf8_decode(s);
  for (size_t i = 0; i < u.size(); ++i) u[i] = i == 0 ? to_title(u[i]) : to_lower(u[i]);
  return utf8_encode(u);
}
// Python str.title: a letter after a non-letter starts a word.
std::string str_title_method(const std::string& s) {
  std::u32string u = utf8_decode(s);
  bool prev_letter = false;
  for (auto& c : u) {
    const bool letter = is_letter(c);
    c = letter ? (prev_letter ? to_lower(c) : to_title(c)) : c;
    prev_letter = letter;
  }
  return utf8_encode(u);
}
// Jinja's title filter: words start after runs of whitespace, '-', '(', '{', '[', '<'.
std::string str_title_filter(const std::string& s) {
  std::u32string u = utf8_decode(s);
  bool at_start = true;
  for (auto& c : u) {
    const bool sep = is_py_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    if (sep) {
      at_start = true;
    } else {
      c = at_start ? to_upper(c) : to_lower(c);
      at_start = false;
    }
  }
  return utf8_encode(u);
}

// ---- strip / split / replace ----

enum class StripSide { kLeft, kRight, kBoth };

std::string str_strip(const std::string& s, const Value* chars, StripSide side) {
  std::u32string u = utf8_decode(s);
  std::u32string set;
  const bool use_set = chars && !chars->is_none() && !chars->is_undefined();
  if (use_set) set = utf8_decode(require_string(*chars, "strip"));
  auto strip_it = [&](char32_t c) {
    return use_set ? set.find(c) != std::u32string::npos : is_py_space(c);
  };
  size_t b = 0;
  size_t e = u.size();
  if (side != StripSide::kRight) {
    while (b < e && strip_it(u[b])) ++b;
  }
  if (side != StripSide::kLeft) {
    while (e > b && strip_it(u[e - 1])) --e;
  }
  return utf8_encode(u.substr(b, e - b));
}

List str_split(const std::string& s, const Value* sep_v, const Value* max_v, bool from_right) {
  int64_t maxsplit = -1;
  if (max_v && !max_v->is_none() && !max_v->is_undefined()) maxsplit = require_int(*max_v, "split");
  List parts;
  if (!sep_v || sep_v->is_none() || sep_v->is_undefined()) {
    // Split on runs of whitespace, dropping empty pieces.
    std::u32string u = utf8_decode(s);
    std::vector<std::u32string> words;
    if (!from_right) {
      size_t i = 0;
      while (i < u.size()) {
        while (i < u.size() && is_py_space(u[i])) ++i;
        if (i >= u.size()) break;
        if (maxsplit >= 0 && static_cast<int64_t>(words.size()) == maxsplit) {
          words.push_back(u.substr(i));  // the rest keeps its trailing whitespace
          break;
        }
        size_t j = i;
        while (j < u.size() && !is_py_space(u[j])) ++j;
        words.push_back(u.substr(i, j - i));
        i = j;
      }
    } else {
      size_t i = u.size();
      while (i > 0) {
        while (i > 0 && is_py_space(u[i - 1])) --i;
        if (i == 0) break;
        if (maxsplit >= 0 && static_cast<int64_t>(words.size()) == maxsplit) {
          words.push_back(u.substr(0, i));  // the rest keeps its leading whitespace
          break;
        }
        size_t j = i;
        while (j > 0 && !is_py_space(u[j - 1])) --j;
        words.push_back(u.substr(j, i - j));
        i = j;
      }
      std::reverse(words.begin(), words.end());
    }
    for (auto& w : words) parts.push_back(Value::string(utf8_encode(w)));
    return parts;
  }
  const std::string& sep = require_string(*sep_v, "split");
  if (sep.empty()) fail("empty separator");
  std::vector<std::string> pieces;
  if (!from_right) {
    size_t start = 0;
    while (true) {
      const size_t p = s.find(sep, start);
      if (p == std::string::npos ||
          (maxsplit >= 0 && static_cast<int64_t>(pieces.size()) == maxsplit)) {
        pieces.push_back(s.substr(start));
        break;
      }
      pieces.push_back(s.substr(start, p - start));
      start = p + sep.size();
    }
  } else {
    size_t end = s.size();
    while (true) {
      const size_t p = end >= sep.size() ? s.rfind(sep, end - sep.size()) : std::string::npos;
      if (p == std::string::npos ||
          (maxsplit >= 0 && static_cast<int64_t>(pieces.size()) == maxsplit)) {
        pieces.push_back(s.substr(0, end));
        break;
      }
      pieces.push_back(s.substr(p + sep.size(), end - p - sep.size()));
      end = p;
    }
    std::reverse(pieces.begin(), pieces.end());
  }
  for (auto& p : pieces) parts.push_back(Value::string(std::move(p)));
  return parts;
}

std::string str_replace(const std::string& s, const std::string& old, const std::string& repl,
                        int64_t count) {
  std::string out;
  int64_t done = 0;
  if (old.empty()) {  // Python inserts `repl` around every character
    std::u32string u = utf8_decode(s);
    for (size_t i = 0; i <= u.size(); ++i) {
      if (count < 0 || done < count) {
        out += repl;
        ++done;
      }
      if (i < u.size()) utf8_append(out, u[i]);
      check_size(out.size());
    }
    return out;
  }
  size_t start = 0;
  while (true) {
    const size_t p = (count >= 0 && done >= count) ? std::string::npos : s.find(old, start);
    if (p == std::string::npos) {
      out.append(s, start, std::string::npos);
      break;
    }
    out.append(s, start, p - start);
    out += repl;
    check_size(out.size());
    ++done;
    start = p + old.size();
  }
  return out;
}

bool str_affix(const std::string& s, const Value& affix, bool prefix) {
  auto test = [&](const std::string& a) {
    if (a.size() > s.size()) return false;
    return prefix ? s.compare(0, a.size(), a) == 0
                  : s.compare(s.size() - a.size(), a.size(), a) == 0;
  };
  if (affix.is_list()) {
    for (const Value& a : affix.as_list()) {
      if (test(require_string(a, prefix ? "startswith" : "endswith"))) return true;
    }
    return false;
  }
  return test(require_string(affix, prefix ? "startswith" : "endswith"));
}

// ---- sequences ----

size_t length_of(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return 0;
    case Value::Kind::kString:
      return utf8_decode(v.as_string()).size();
    case Value::Kind::kList:
      return v.as_list().size();
    case Value::Kind::kDict:
      return v.as_dict().items.size();
    default:
      fail(std::string("object of type '") + v.type_name() + "' has no len()");
  }
}

// Follows a dotted attribute path ("a.b", "0") as Jinja's make_attrgetter does.
Value attr_path(const Value& v, const std::string& path) {
  Value cur = v;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? dot : dot - start);
    const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    cur = numeric ? get_item(cur, Value::integer(std::stoll(part)))
                  : get_item(cur, Value::string(part));
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

// A sort key: strings lower-cased unless case sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::string(str_lower(v.as_string()));
  return v;
}

CallArgs tail_args(const CallArgs& a, size_t from) {
  CallArgs out;
  for (size_t i = from; i < a.positional.size(); ++i) out.positional.push_back(a.positional[i]);
  out.keyword = a.keyword;
  return out;
}

// ---- JSON ----

void json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out.push_back('"');
  for (char32_t c : utf8_decode(s)) {
    char buf[16];
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || (ensure_ascii && c >= 0x7f)) {
          if (c >= 0x10000) {
            const char32_t v = c - 0x10000;
            std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x",
                          static_cast<unsigned>(0xd800 + (v >> 10)),
                          static_cast<unsigned>(0xdc00 + (v & 0x3ff)));
          } else {
            std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
          }
          out += buf;
        } else {
          utf8_append(out, c);
        }
    }
  }
  out.push_back('"');
}

void json_dump(std::string& out, const Value& v, const JsonOptions& o, int depth) {
  if (depth > 256) fail("value is nested too deeply for tojson");
  check_size(out.size());
  const std::string item_sep = o.item_separator ? *o.item_separator : (o.indent ? "," : ", ");
  auto newline = [&](int d) {
    if (!o.indent) return;
    out.push_back('\n');
    for (int i = 0; i < d; ++i) out += *o.indent;
  };
  switch (v.kind()) {
    case Value::Kind::kNone:
      out += "null";
      return;
    case Value::Kind::kBool:
      out += v.as_bool() ? "true" : "false";
      return;
    case Value::Kind::kInt:
      out += std::to_string(v.as_int());
      return;
    case Value::Kind::kFloat: {
      const double f = v.as_double();
      if (std::isnan(f)) {
        out += "NaN";
      } else if (std::isinf(f)) {
        out += f > 0 ? "Infinity" : "-Infinity";
      } else {
        out += format_float(f);
      }
      return;
    }
    case Value::Kind::kString:
      json_string(out, v.as_string(), o.ensure_ascii);
      return;
    case Value::Kind::kList: {
      const List& l = v.as_list();
      if (l.empty()) {
        out += "[]";
        return;
      }
      out.push_back('[');
      for (size_t i = 0; i < l.size(); ++i) {
        if (i) out += item_sep;
        newline(depth + 1);
        json_dump(out, l[i], o, depth + 1);
      }
      newline(depth);
      out.push_back(']');
      return;
    }
    case Value::Kind::kDict: {
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& kv : v.as_dict().items) items.push_back(&kv);
      if (o.sort_keys) {
        std::stable_sort(items.begin(), items.end(),
                         [](auto* a, auto* b) { return a->first < b->first; });
      }
      if (items.empty()) {
        out += "{}";
        return;
      }
      out.push_back('{');
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += item_sep;
        newline(depth + 1);
        json_string(out, items[i]->first, o.ensure_ascii);
        out += o.key_separator;
        json_dump(out, items[i]->second, o, depth + 1);
      }
      newline(depth);
      out.push_back('}');
      return;
    }
    default:
      fail(std::string("Object of type ") + v.type_name() + " is not JSON serializable");
  }
}

Value filter_tojson(const Value& v, const CallArgs& a) {
  JsonOptions o;
  if (const Value* ind = arg(a, 0, "indent"); ind && !ind->is_none() && !ind->is_undefined()) {
    if (ind->is_string()) {
      o.indent = ind->as_string();
    } else {
      const int64_t n = require_int(*ind, "tojson indent");
      o.indent = std::string(static_cast<size_t>(std::clamp<int64_t>(n, 0, 64)), ' ');
    }
  }
  if (const Value* sep = a.kwarg("separators"); sep && !sep->is_none() && !sep->is_undefined()) {
    if (!sep->is_list() || sep->as_list().size() != 2) fail("separators must be a pair of strings");
    o.item_separator = require_string(sep->as_list()[0], "separators");
    o.key_separator = require_string(sep->as_list()[1], "separators");
  }
  o.sort_keys = arg_bool(a, 99, "sort_keys", false);
  o.ensure_ascii = arg_bool(a, 99, "ensure_ascii", false);
  return Value::string(to_json(v, o));
}

// ---- numbers ----

Value filter_int(const Value& v, const CallArgs& a) {
  const Value* def = arg(a, 0, "default");
  const Value fallback = def ? *def : Value::integer(0);
  switch (v.kind()) {
    case Value::Kind::kInt:
    case Value::Kind::kBool:
      return Value::integer(v.as_int());
    case Value::Kind::kFloat:
      if (!std::isfinite(v.as_double())) return fallback;
      return Value::integer(static_cast<int64_t>(std::trunc(v.as_double())));
    case Value::Kind::kString: {
      std::string s = str_strip(v.as_string(), nullptr, StripSide::kBoth);
      s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
      if (s.empty()) return fallback;
      char* end = nullptr;
      errno = 0;
      const long long i = std::strtoll(s.c_str(), &end, 10);
      if (*end == '\0' && errno == 0) return Value::integer(i);
      const double d = std::strtod(s.c_str(), &end);
      if (*end == '\0' && std::isfinite(d)) return Value::integer(static_cast<int64_t>(d));
      return fallback;
    }
    default:
      return fallback;
  }
}

Value filter_float(const Value& v, const CallArgs& a) {
  const Value* def = arg(a, 0, "default");
  const Value fallback = def ? *def : Value::floating(0.0);
  if (v.is_number()) return Value::floating(v.as_double());
  if (v.is_string()) {
    const std::string s = str_strip(v.as_string(), nullptr, StripSide::kBoth);
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && *end == '\0') return Value::floating(d);
  }
  return fallback;
}

Value filter_round(const Value& v, const CallArgs& a) {
  if (!v.is_number()) fail(std::string("round expects a number, got '") + v.type_name() + "'");
  const Value* p = arg(a, 0, "precision");
  const int64_t precision = p ? require_int(*p, "round precision") : 0;
  const Value* m = arg(a, 1, "method");
  const std::string method = m ? require_string(*m, "round method") : "common";
  const double x = v.as_double();
  const double scale = std::pow(10.0, static_cast<double>(precision));
  if (method == "ceil") return Value::floating(std::ceil(x * scale) / scale);
  if (method == "floor") return Value::floating(std::floor(x * scale) / scale);
  if (method != "common") fail("method must be 'common', 'ceil' or 'floor'");
  if (precision < 0 || precision > 30) return Value::floating(std::nearbyint(x * scale) / scale);
  // Python's round(): correctly rounded on the exact binary value, ties to even (glibc printf).
  char buf[512];
  std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(precision), x);
  return Value::floating(std::strtod(buf, nullptr));
}

// ---- filters on sequences ----

Value filter_join(const Value& v, const CallArgs& a) {
  const Value* d = arg(a, 0, "d");
  const std::string sep = d ? soft_str(*d) : "";
  const Value* attr = arg(a, 1, "attribute");
  std::string out;
  bool first = true;
  for (const Value& item : iterate(v)) {
    if (!first) out += sep;
    first = false;
    out += soft_str(attr ? attr_path(item, soft_str(*attr)) : item);
    check_size(out.size());
  }
  return Value::string(std::move(out));
}

Value filter_map(const Value& v, const CallArgs& a) {
  List out;
  if (const Value* attr = a.kwarg("attribute")) {
    const Value* def = a.kwarg("default");
    for (const Value& item : iterate(v)) {
      Value r = attr_path(item, soft_str(*attr));
      out.push_back(r.is_undefined() && def ? *def : r);
    }
    return Value::list(std::move(out));
  }
  if (a.positional.empty()) fail("map requires a filter name or attribute=");
  const std::string& name = require_string(a.positional[0], "map");
  if (!is_filter_name(name)) fail("no filter named '" + name + "'");
  for (const Value& item : iterate(v)) {
    CallArgs rest = tail_args(a, 1);
    out.push_back(apply_filter(name, item, rest));
  }
  return Value::list(std::move(out));
}

// select/reject (by_attr false) and selectattr/rejectattr (by_attr true).
Value filter_select(const Value& v, const CallArgs& a, bool by_attr, bool keep) {
  size_t next = 0;
  std::string attr;
  if (by_attr) {
    if (a.positional.empty()) fail("selectattr/rejectattr requires an attribute name");
    attr = soft_str(a.positional[next++]);
  }
  std::string test;
  if (next < a.positional.size()) test = require_string(a.positional[next++], "test name");
  if (!test.empty() && !is_test_name(test)) fail("no test named '" + test + "'");
  List out;
  for (const Value& item : iterate(v)) {
    const Value subject = by_attr ? attr_path(item, attr) : item;
    bool ok;
    if (test.empty()) {
      ok = subject.truthy();
    } else {
      CallArgs rest = tail_args(a, next);
      ok = apply_test(test, subject, rest);
    }
    if (ok == keep) out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value filter_sort(const Value& v, const CallArgs& a) {
  const bool reverse = arg_bool(a, 0, "reverse", false);
  const bool case_sensitive = arg_bool(a, 1, "case_sensitive", false);
  const Value* attr = arg(a, 2, "attribute");
  List items = iterate(v);
  std::vector<std::pair<Value, size_t>> keyed;
  for (size_t i = 0; i < items.size(); ++i) {
    keyed.emplace_back(
        sort_key(attr ? attr_path(items[i], soft_str(*attr)) : items[i], case_sensitive), i);
  }
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return reverse ? values_less(y.first, x.first) : values_less(x.first, y.first);
  });
  List out;
  for (const auto& [k, i] : keyed) out.push_back(items[i]);
  return Value::list(std::move(out));
}

Value filter_unique(const Value& v, const CallArgs& a) {
  const bool case_sensitive = arg_bool(a, 0, "case_sensitive", false);
  const Value* attr = arg(a, 1, "attribute");
  List seen;
  List out;
  for (const Value& item : iterate(v)) {
    Value key = sort_key(attr ? attr_path(item, soft_str(*attr)) : item, case_sensitive);
    bool dup = false;
    for (const Value& s : seen) {
      if (values_equal(s, key)) {
        dup = true;
        break;
      }
    }
    if (dup) continue;
    seen.push_back(key);
    out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value filter_minmax(const Value& v, const CallArgs& a, bool want_max) {
  const bool case_sensitive = arg_bool(a, 0, "case_sensitive", false);
  const Value* attr = arg(a, 1, "attribute");
  List items = iterate(v);
  if (items.empty()) return Value::undefined("min/max of an empty sequence");
  size_t best = 0;
  Value best_key = sort_key(attr ? attr_path(items[0], soft_str(*attr)) : items[0], case_sensitive);
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = sort_key(attr ? attr_path(items[i], soft_str(*attr)) : items[i], case_sensitive);
    if (want_max ? values_less(best_key, k) : values_less(k, best_key)) {
      best = i;
      best_key = k;
    }
  }
  return items[best];
}

Value filter_sum(const Value& v, const CallArgs& a) {
  const Value* attr = arg(a, 0, "attribute");
  const Value* start = arg(a, 1, "start");
  Value total = start ? *start : Value::integer(0);
  for (const Value& item : iterate(v)) {
    const Value x = attr ? attr_path(item, soft_str(*attr)) : item;
    if (!x.is_number() || !total.is_number()) {
      fail(std::string("unsupported operand type(s) for +: '") + total.type_name() + "' and '" +
           x.type_name() + "'");
    }
    if (total.is_float() || x.is_float()) {
      total = Value::floating(total.as_double() + x.as_double());
    } else {
      int64_t r;
      if (__builtin_add_overflow(total.as_int(), x.as_int(), &r)) fail("integer overflow");
      total = Value::integer(r);
    }
  }
  return total;
}

Value items_of(const Value& v) {
  if (v.is_undefined()) return Value::list({});
  if (!v.is_dict()) fail(std::string("items expects a mapping, got '") + v.type_name() + "'");
  List out;
  for (const auto& [k, x] : v.as_dict().items) out.push_back(Value::list({Value::string(k), x}));
  return Value::list(std::move(out));
}

Value filter_dictsort(const Value& v, const CallArgs& a) {
  const bool case_sensitive = arg_bool(a, 0, "case_sensitive", false);
  const Value* by = arg(a, 1, "by");
  const bool by_value = by && soft_str(*by) == "value";
  const bool reverse = arg_bool(a, 2, "reverse", false);
  List items = items_of(v).as_list();
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    const Value kx = sort_key(x.as_list()[by_value ? 1 : 0], case_sensitive);
    const Value ky = sort_key(y.as_list()[by_value ? 1 : 0], case_sensitive);
    return reverse ? values_less(ky, kx) : values_less(kx, ky);
  });
  return Value::list(std::move(items));
}

Value filter_indent(const Value& v, const CallArgs& a) {
  const Value* w = arg(a, 0, "width");
  std::string indention = "    ";
  if (w && w->is_string()) {
    indention = w->as_string();
  } else if (w) {
    indention = std::string(
        static_cast<size_t>(std::clamp<int64_t>(require_int(*w, "indent"), 0, 1024)), ' ');
  }
  const bool first = arg_bool(a, 1, "first", false);
  const bool blank = arg_bool(a, 2, "blank", false);
  std::string s = soft_str(v) + "\n";
  // str.splitlines on the common line breaks.
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' || s[i] == '\r') {
      lines.push_back(s.substr(start, i - start));
      if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      start = i + 1;
    }
  }
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += "\n";
    const bool indent_line = (i > 0 || first) && (blank || !lines[i].empty());
    if (indent_line) out += indention;
    out += lines[i];
    check_size(out.size());
  }
  return Value::string(std::move(out));
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

Value first_or_last(const Value& v, bool first) {
  List items = iterate(v);
  if (items.empty()) return Value::undefined("no first/last item of an empty sequence");
  return first ? items.front() : items.back();
}

// ---- string methods ----

Value string_method(const std::string& s, const std::string& name, CallArgs& a) {
  if (name == "strip") return Value::string(str_strip(s, arg(a, 0, "chars"), StripSide::kBoth));
  if (name == "lstrip") return Value::string(str_strip(s, arg(a, 0, "chars"), StripSide::kLeft));
  if (name == "rstrip") return Value::string(str_strip(s, arg(a, 0, "chars"), StripSide::kRight));
  if (name == "startswith" || name == "endswith") {
    const Value* affix = arg(a, 0, "prefix");
    if (!affix) fail(name + "() takes at least 1 argument");
    return Value::boolean(str_affix(s, *affix, name == "startswith"));
  }
  if (name == "split" || name == "rsplit") {
    return Value::list(str_split(s, arg(a, 0, "sep"), arg(a, 1, "maxsplit"), name == "rsplit"));
  }
  if (name == "splitlines") {
    List out;
    size_t start = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\n' || s[i] == '\r') {
        out.push_back(Value::string(s.substr(start, i - start)));
        if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
        start = i + 1;
      }
    }
    if (start < s.size()) out.push_back(Value::string(s.substr(start)));
    return Value::list(std::move(out));
  }
  if (name == "upper") return Value::string(str_upper(s));
  if (name == "lower") return Value::string(str_lower(s));
  if (name == "title") return Value::string(str_title_method(s));
  if (name == "capitalize") return Value::string(str_capitalize(s));
  if (name == "replace") {
    if (a.positional.size() < 2) fail("replace() takes at least 2 arguments");
    const Value* count = arg(a, 2, "count");
    return Value::string(str_replace(s, require_string(a.positional[0], "replace"),
                                     require_string(a.positional[1], "replace"),
                                     count ? require_int(*count, "replace count") : -1));
  }
  if (name == "find" || name == "count" || name == "index") {
    const Value* sub = arg(a, 0, "sub");
    if (!sub) fail(name + "() takes at least 1 argument");
    const std::string& needle = require_string(*sub, name.c_str());
    if (name == "count") {
      if (needle.empty()) return Value::integer(static_cast<int64_t>(utf8_decode(s).size() + 1));
      int64_t n = 0;
      for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + needle.size()))
        ++n;
      return Value::integer(n);
    }
    const size_t p = s.find(needle);
    if (p == std::string::npos) {
      if (name == "index") fail("substring not found");
      return Value::integer(-1);
    }
    return Value::integer(static_cast<int64_t>(utf8_decode(s.substr(0, p)).size()));
  }
  if (name == "join") {
    std::string out;
    bool first = true;
    for (const Value& item : iterate(a.positional.empty() ? Value() : a.positional[0])) {
      if (!first) out += s;
      first = false;
      out += require_string(item, "join");
      check_size(out.size());
    }
    return Value::string(std::move(out));
  }
  if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" ||
      name == "isupper" || name == "islower") {
    std::u32string u = utf8_decode(s);
    if (u.empty()) return Value::boolean(false);
    bool ok = true;
    bool cased = false;
    for (char32_t c : u) {
      const bool digit = c >= '0' && c <= '9';
      if (name == "isdigit") ok &= digit;
      if (name == "isalpha") ok &= is_letter(c);
      if (name == "isalnum") ok &= digit || is_letter(c);
      if (name == "isspace") ok &= is_py_space(c);
      if (name == "isupper" || name == "islower") {
        if (to_lower(c) != to_upper(c)) {
          cased = true;
          ok &= name == "isupper" ? to_upper(c) == c : to_lower(c) == c;
        }
      }
    }
    if (name == "isupper" || name == "islower") ok &= cased;
    return Value::boolean(ok);
  }
  if (name == "format") {  // "{}" and "{0}" placeholders only
    std::string out;
    size_t auto_index = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '{' && i + 1 < s.size() && s[i + 1] == '{') {
        out.push_back('{');
        ++i;
      } else if (s[i] == '}' && i + 1 < s.size() && s[i + 1] == '}') {
        out.push_back('}');
        ++i;
      } else if (s[i] == '{') {
        const size_t close = s.find('}', i);
        if (close == std::string::npos) fail("single '{' encountered in format string");
        const std::string field = s.substr(i + 1, close - i - 1);
        Value v;
        if (field.empty()) {
          if (auto_index >= a.positional.size()) fail("format: not enough arguments");
          v = a.positional[auto_index++];
        } else if (std::all_of(field.begin(), field.end(), ::isdigit)) {
          const size_t k = std::stoul(field);
          if (k >= a.positional.size()) fail("format: not enough arguments");
          v = a.positional[k];
        } else if (const Value* kw = a.kwarg(field)) {
          v = *kw;
        } else {
          fail("format: unsupported field '" + field + "'");
        }
        out += v.to_str();
        i = close;
      } else {
        out.push_back(s[i]);
      }
    }
    return Value::string(std::move(out));
  }
  fail("'str' object has no method '" + name + "'");
}

bool is_string_method(const std::string& name) {
  static const std::set<std::string> kNames = {
      "strip", "lstrip",  "rstrip",  "startswith", "endswith", "split",   "rsplit",  "splitlines",
      "upper", "lower",   "title",   "capitalize", "replace",  "find",    "count",   "index",
      "join",  "isdigit", "isalpha", "isalnum",    "isspace",  "isupper", "islower", "format"};
  return kNames.count(name) > 0;
}

bool is_dict_method(const std::string& name) {
  return name == "items" || name == "keys" || name == "values" || name == "get";
}

Value dict_method(const Value& d, const std::string& name) {
  return Value::function([d, name](CallArgs& a) -> Value {
    const Dict& dict = d.as_dict();
    if (name == "items") return items_of(d);
    if (name == "keys") {
      List out;
      for (const auto& kv : dict.items) out.push_back(Value::string(kv.first));
      return Value::list(std::move(out));
    }
    if (name == "values") {
      List out;
      for (const auto& kv : dict.items) out.push_back(kv.second);
      return Value::list(std::move(out));
    }
    // get(key, default=None)
    const Value* key = arg(a, 0, "key");
    if (!key) fail("get() takes at least 1 argument");
    const Value* def = arg(a, 1, "default");
    if (key->is_string()) {
      if (const Value* v = dict.find(key->as_string())) return *v;
    }
    return def ? *def : Value::none();
  });
}

}  // namespace

// ---- public ----

List iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return {};
    case Value::Kind::kList:
      return v.as_list();
    case Value::Kind::kDict: {
      List keys;
      for (const auto& kv : v.as_dict().items) keys.push_back(Value::string(kv.first));
      return keys;
    }
    case Value::Kind::kString: {
      List chars;
      for (char32_t c : utf8_decode(v.as_string())) {
        std::string s;
        utf8_append(s, c);
        chars.push_back(Value::string(std::move(s)));
      }
      return chars;
    }
    default:
      fail(std::string("'") + v.type_name() + "' object is not iterable");
  }
}

Value get_attr(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Value::Kind::kDict:
      if (is_dict_method(name)) return dict_method(obj, name);
      [[fallthrough]];
    case Value::Kind::kNamespace:
      if (const Value* v = obj.as_dict().find(name)) return *v;
      return Value::undefined(name);
    case Value::Kind::kString:
      if (is_string_method(name)) {
        return Value::function(
            [obj, name](CallArgs& a) { return string_method(obj.as_string(), name, a); });
      }
      return Value::undefined(name);
    default:
      return Value::undefined(name);
  }
}

Value get_item(const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case Value::Kind::kDict:
    case Value::Kind::kNamespace:
      if (key.is_string()) {
        if (const Value* v = obj.as_dict().find(key.as_string())) return *v;
        if (obj.is_dict() && is_dict_method(key.as_string()))
          return dict_method(obj, key.as_string());
        return Value::undefined(key.as_string());
      }
      return Value::undefined();
    case Value::Kind::kList:
    case Value::Kind::kString: {
      if (!key.is_int() && !key.is_bool()) {
        return key.is_string() ? get_attr(obj, key.as_string()) : Value::undefined();
      }
      int64_t i = key.as_int();
      if (obj.is_list()) {
        const int64_t n = static_cast<int64_t>(obj.as_list().size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) return Value::undefined("list index out of range");
        return obj.as_list()[static_cast<size_t>(i)];
      }
      std::u32string u = utf8_decode(obj.as_string());
      const int64_t n = static_cast<int64_t>(u.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Value::undefined("string index out of range");
      std::string s;
      utf8_append(s, u[static_cast<size_t>(i)]);
      return Value::string(std::move(s));
    }
    default:
      return Value::undefined();
  }
}

Value slice_value(const Value& obj, const Value& start_v, const Value& stop_v,
                  const Value& step_v) {
  auto bound = [](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.is_none() || v.is_undefined()) return std::nullopt;
    return require_int(v, what);
  };
  const std::optional<int64_t> start_o = bound(start_v, "slice start");
  const std::optional<int64_t> stop_o = bound(stop_v, "slice stop");
  const int64_t step = bound(step_v, "slice step").value_or(1);
  if (step == 0) fail("slice step cannot be zero");
  if (obj.is_undefined()) return Value::undefined();
  std::u32string chars;
  int64_t n;
  if (obj.is_list()) {
    n = static_cast<int64_t>(obj.as_list().size());
  } else if (obj.is_string()) {
    chars = utf8_decode(obj.as_string());
    n = static_cast<int64_t>(chars.size());
  } else {
    fail(std::string("'") + obj.type_name() + "' object is not subscriptable");
  }
  // Python's slice.indices().
  auto clamp = [&](std::optional<int64_t> v, int64_t def) {
    if (!v) return def;
    int64_t x = *v;
    if (x < 0) x += n;
    if (step > 0) return std::clamp<int64_t>(x, 0, n);
    return std::clamp<int64_t>(x, -1, n - 1);
  };
  const int64_t start = clamp(start_o, step > 0 ? 0 : n - 1);
  const int64_t stop = clamp(stop_o, step > 0 ? n : -1);
  std::vector<size_t> idx;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
    idx.push_back(static_cast<size_t>(i));
  if (obj.is_list()) {
    List out;
    for (size_t i : idx) out.push_back(obj.as_list()[i]);
    return Value::list(std::move(out));
  }
  std::u32string out;
  for (size_t i : idx) out.push_back(chars[i]);
  return Value::string(utf8_encode(out));
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::kUndefined:
      return false;
    case Value::Kind::kString:
      if (!item.is_string()) {
        fail(std::string("'in <string>' requires string as left operand, not ") + item.type_name());
      }
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::kList:
      for (const Value& v : container.as_list()) {
        if (values_equal(v, item)) return true;
      }
      return false;
    case Value::Kind::kDict:
    case Value::Kind::kNamespace:
      return item.is_string() && container.as_dict().find(item.as_string()) != nullptr;
    default:
      fail(std::string("argument of type '") + container.type_name() + "' is not iterable");
  }
}

std::string to_json(const Value& v, const JsonOptions& options) {
  std::string out;
  json_dump(out, v, options, 0);
  return out;
}

bool is_filter_name(const std::string& name) {
  static const std::set<std::string> kNames = {
      "abs",    "attr",       "capitalize", "count",    "d",       "default", "dictsort",
      "e",      "escape",     "first",      "float",    "indent",  "int",     "items",
      "join",   "last",       "length",     "list",     "lower",   "map",     "max",
      "min",    "reject",     "rejectattr", "replace",  "reverse", "round",   "safe",
      "select", "selectattr", "sort",       "string",   "sum",     "title",   "tojson",
      "trim",   "unique",     "upper",      "wordcount"};
  return kNames.count(name) > 0;
}

bool is_test_name(const std::string& name) {
  static const std::set<std::string> kNames = {
      "boolean",  "callable",    "defined",  "divisibleby", "eq",      "equalto", "==",
      "even",     "false",       "float",    "ge",          "gt",      "in",      "integer",
      "iterable", "le",          "lower",    "lt",          "mapping", "ne",      "none",
      "number",   "odd",         "sameas",   "sequence",    "string",  "true",    "undefined",
      "upper",    "greaterthan", "lessthan", "filter",      "test"};
  return kNames.count(name) > 0;
}

Value apply_filter(const std::string& name, const Value& v, CallArgs& a) {
  if (name == "default" || name == "d") {
    const Value* def = arg(a, 0, "default_value");
    const bool boolean = arg_bool(a, 1, "boolean", false);
    if (v.is_undefined() || (boolean && !v.truthy())) return def ? *def : Value::string("");
    return v;
  }
  if (name == "length" || name == "count")
    return Value::integer(static_cast<int64_t>(length_of(v)));
  if (name == "tojson") return filter_tojson(v, a);
  if (name == "trim")
    return Value::string(str_strip(soft_str(v), arg(a, 0, "chars"), StripSide::kBoth));
  if (name == "upper") return Value::string(str_upper(soft_str(v)));
  if (name == "lower") return Value::string(str_lower(soft_str(v)));
  if (name == "title") return Value::string(str_title_filter(soft_str(v)));
  if (name == "capitalize") return Value::string(str_capitalize(soft_str(v)));
  if (name == "string") return Value::string(soft_str(v));
  if (name == "safe") return v;
  if (name == "e" || name == "escape") return Value::string(html_escape(soft_str(v)));
  if (name == "replace") {
    if (a.positional.size() < 2) fail("replace requires 'old' and 'new'");
    const Value* count = arg(a, 2, "count");
    return Value::string(
        str_replace(soft_str(v), soft_str(a.positional[0]), soft_str(a.positional[1]),
                    count && !count->is_none() ? require_int(*count, "replace count") : -1));
  }
  if (name == "join") return filter_join(v, a);
  if (name == "first") return first_or_last(v, true);
  if (name == "last") return first_or_last(v, false);
  if (name == "list") return Value::list(iterate(v));
  if (name == "items") return items_of(v);
  if (name == "dictsort") return filter_dictsort(v, a);
  if (name == "map") return filter_map(v, a);
  if (name == "select") return filter_select(v, a, false, true);
  if (name == "reject") return filter_select(v, a, false, false);
  if (name == "selectattr") return filter_select(v, a, true, true);
  if (name == "rejectattr") return filter_select(v, a, true, false);
  if (name == "sort") return filter_sort(v, a);
  if (name == "unique") return filter_unique(v, a);
  if (name == "min") return filter_minmax(v, a, false);
  if (name == "max") return filter_minmax(v, a, true);
  if (name == "sum") return filter_sum(v, a);
  if (name == "reverse") {
    if (v.is_string()) {
      std::u32string u = utf8_decode(v.as_string());
      std::reverse(u.begin(), u.end());
      return Value::string(utf8_encode(u));
    }
    List items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  }
  if (name == "int") return filter_int(v, a);
  if (name == "float") return filter_float(v, a);
  if (name == "abs") {
    if (v.is_float()) return Value::floating(std::fabs(v.as_double()));
    if (v.is_int() || v.is_bool()) {
      if (v.as_int() == INT64_MIN) fail("integer overflow");
      return Value::integer(std::llabs(v.as_int()));
    }
    fail(std::string("bad operand type for abs(): '") + v.type_name() + "'");
  }
  if (name == "round") return filter_round(v, a);
  if (name == "indent") return filter_indent(v, a);
  if (name == "attr") {
    if (a.positional.empty()) fail("attr requires a name");
    return get_attr(v, soft_str(a.positional[0]));
  }
  if (name == "wordcount") {
    return Value::integer(
        static_cast<int64_t>(str_split(soft_str(v), nullptr, nullptr, false).size()));
  }
  fail("no filter named '" + name + "'");
}

bool apply_test(const std::string& name, const Value& v, CallArgs& a) {
  auto other = [&]() -> const Value& {
    if (a.positional.empty()) fail("test '" + name + "' requires an argument");
    return a.positional[0];
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable") return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
  if (name == "sequence") return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
  if (name == "callable") return v.is_function();
  if (name == "odd" || name == "even") {
    const int64_t i = require_int(v, name.c_str());
    return ((i % 2) != 0) == (name == "odd");
  }
  if (name == "divisibleby") {
    const int64_t d = require_int(other(), "divisibleby");
    if (d == 0) fail("integer division or modulo by zero");
    return require_int(v, "divisibleby") % d == 0;
  }
  if (name == "eq" || name == "equalto" || name == "==") return values_equal(v, other());
  if (name == "ne") return !values_equal(v, other());
  if (name == "lt" || name == "lessthan") return values_less(v, other());
  if (name == "le") return !values_less(other(), v);
  if (name == "gt" || name == "greaterthan") return values_less(other(), v);
  if (name == "ge") return !values_less(v, other());
  if (name == "in") return contains(other(), v);
  if (name == "sameas") {
    const Value& o = other();
    if (v.is_none() || v.is_bool() || v.is_undefined())
      return values_equal(v, o) && v.kind() == o.kind();
    if (v.is_namespace() || v.is_dict()) return v.dict_ptr() == o.dict_ptr();
    return false;
  }
  if (name == "lower") return v.is_string() && str_lower(v.as_string()) == v.as_string();
  if (name == "upper") return v.is_string() && str_upper(v.as_string()) == v.as_string();
  if (name == "filter") return v.is_string() && is_filter_name(v.as_string());
  if (name == "test") return v.is_string() && is_test_name(v.as_string());
  fail("no test named '" + name + "'");
}

void install_globals(Dict& globals) {
  globals.set("range", Value::function([](CallArgs& a) -> Value {
                if (a.positional.empty() || a.positional.size() > 3)
                  fail("range expects 1 to 3 arguments");
                int64_t start = 0;
                int64_t stop;
                int64_t step = 1;
                if (a.positional.size() == 1) {
                  stop = require_int(a.positional[0], "range");
                } else {
                  start = require_int(a.positional[0], "range");
                  stop = require_int(a.positional[1], "range");
                  if (a.positional.size() == 3) step = require_int(a.positional[2], "range");
                }
                if (step == 0) fail("range() arg 3 must not be zero");
                List out;
                constexpr size_t kMaxRange = 1'000'000;
                for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
                  if (out.size() >= kMaxRange) fail("range is too large (more than 1000000 items)");
                  out.push_back(Value::integer(i));
                }
                return Value::list(std::move(out));
              }));
  globals.set("dict", Value::function([](CallArgs& a) -> Value {
                Dict d;
                if (!a.positional.empty()) {
                  if (!a.positional[0].is_dict()) fail("dict() expects a mapping");
                  d = a.positional[0].as_dict();
                }
                for (const auto& [k, v] : a.keyword) d.set(k, v);
                return Value::dict(std::move(d));
              }));
  globals.set("raise_exception", Value::function([](CallArgs& a) -> Value {
                fail(a.positional.empty() ? std::string("raise_exception called")
                                          : soft_str(a.positional[0]));
              }));
  globals.set("strftime_now", Value::function([](CallArgs& a) -> Value {
                if (a.positional.empty()) fail("strftime_now expects a format string");
                const std::string& fmt = require_string(a.positional[0], "strftime_now");
                const std::time_t now = std::time(nullptr);
                std::tm tm{};
                localtime_r(&now, &tm);
                char buf[512];
                const size_t n =
                    fmt.empty() ? 0 : std::strftime(buf, sizeof(buf), fmt.c_str(), &tm);
                return Value::string(std::string(buf, n));
              }));
}

}  // namespace radix::jinja
