// Jinja interpreter: executes statements into an output string and evaluates expressions
// with Python semantics (integer vs float arithmetic, `and`/`or` returning operands,
// chained comparisons, Jinja scoping where only `for` bodies and macros open a scope).
#include "tokenizer/jinja/interpreter.h"

#include <cmath>

#include "tokenizer/jinja/builtins.h"

namespace radix::jinja {
namespace {

struct Scope {
  std::shared_ptr<Scope> parent;
  Dict vars;

  const Value* lookup(std::string_view name) const {
    for (const Scope* s = this; s != nullptr; s = s->parent.get()) {
      if (const Value* v = s->vars.find(name)) return v;
    }
    return nullptr;
  }
};
using ScopePtr = std::shared_ptr<Scope>;

enum class Flow { kNormal, kBreak, kContinue };

[[noreturn]] void fail(const std::string& message) {
  throw RenderError(message);
}

[[noreturn]] void undefined_error(const Value& v) {
  const std::string hint = v.undefined_hint();
  fail("'" + (hint.empty() ? std::string("value") : hint) + "' is undefined");
}

Value arith(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") {
    std::string s = a.to_str() + b.to_str();
    if (s.size() > kMaxStringBytes) fail("string result is too large");
    return Value::string(std::move(s));
  }
  if (a.is_undefined()) undefined_error(a);
  if (b.is_undefined()) undefined_error(b);
  auto type_error = [&]() -> Value {
    fail("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" +
         b.type_name() + "'");
  };
  const bool nums = a.is_number() && b.is_number();
  const bool ints = nums && !a.is_float() && !b.is_float();
  if (op == "+") {
    if (ints) {
      int64_t r;
      if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) fail("integer overflow");
      return Value::integer(r);
    }
    if (nums) return Value::floating(a.as_double() + b.as_double());
    if (a.is_string() && b.is_string()) {
      if (a.as_string().size() + b.as_string().size() > kMaxStringBytes)
        fail("string result is too large");
      return Value::string(a.as_string() + b.as_string());
    }
    if (a.is_list() && b.is_list()) {
      List out = a.as_list();
      out.insert(out.end(), b.as_list().begin(), b.as_list().end());
      return Value::list(std::move(out));
    }
    return type_error();
  }
  if (op == "-") {
    if (ints) {
      int64_t r;
      if (__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) fail("integer overflow");
      return Value::integer(r);
    }
    if (nums) return Value::floating(a.as_double() - b.as_double());
    return type_error();
  }
  if (op == "*") {
    if (ints) {
      int64_t r;
      if (__builtin_mul_overflow(a.as_int(), b.as_int(), &r)) fail("integer overflow");
      return Value::integer(r);
    }
    if (nums) return Value::floating(a.as_double() * b.as_double());
    const Value* seq = a.is_string() || a.is_list() ? &a : &b;
    const Value* count = seq == &a ? &b : &a;
    if ((seq->is_string() || seq->is_list()) && (count->is_int() || count->is_bool())) {
      const int64_t n = std::max<int64_t>(0, count->as_int());
      if (seq->is_string()) {
        if (static_cast<double>(seq->as_string().size()) * static_cast<double>(n) >
            kMaxStringBytes) {
          fail("string result is too large");
        }
        std::string out;
        for (int64_t i = 0; i < n; ++i) out += seq->as_string();
        return Value::string(std::move(out));
      }
      if (static_cast<double>(seq->as_list().size()) * static_cast<double>(n) > 1e7) {
        fail("list result is too large");
      }
      List out;
      for (int64_t i = 0; i < n; ++i)
        out.insert(out.end(), seq->as_list().begin(), seq->as_list().end());
      return Value::list(std::move(out));
    }
    return type_error();
  }
  if (!nums) return type_error();
  if (op == "/") {
    if (b.as_double() == 0.0) fail("division by zero");
    return Value::floating(a.as_double() / b.as_double());
  }
  if (op == "//" || op == "%") {
    if (ints) {
      const int64_t x = a.as_int();
      const int64_t y = b.as_int();
      if (y == 0) fail("integer division or modulo by zero");
      if (x == INT64_MIN && y == -1) fail("integer overflow");
      int64_t q = x / y;
      int64_t r = x % y;
      if (r != 0 && ((r < 0) != (y < 0))) {  // Python floors toward -inf
        --q;
        r += y;
      }
      return Value::integer(op == "//" ? q : r);
    }
    const double x = a.as_double();
    const double y = b.as_double();
    if (y == 0.0) fail("float division by zero");
    if (op == "//") return Value::floating(std::floor(x / y));
    double r = std::fmod(x, y);
    if (r != 0.0 && ((r < 0) != (y < 0))) r += y;
    return Value::floating(r);
  }
  if (op == "**") {
    if (ints && b.as_int() >= 0) {
      int64_t r = 1;
      int64_t base = a.as_int();
      for (int64_t e = b.as_int(); e > 0; --e) {
        if (__builtin_mul_overflow(r, base, &r)) fail("integer overflow");
      }
      return Value::integer(r);
    }
    return Value::floating(std::pow(a.as_double(), b.as_double()));
  }
  return type_error();
}

class Interpreter {
 public:
  explicit Interpreter(const RenderLimits& limits) : limits_(limits) {}

  ~Interpreter() {
    // A namespace can be made to hold itself; clearing them all breaks such cycles.
    for (auto& weak : namespaces_) {
      if (auto d = weak.lock()) d->items.clear();
    }
  }

  std::string run(const Body& body, const Dict& context) {
    root_ = std::make_shared<Scope>();
    install_globals(root_->vars);
    root_->vars.set("namespace", Value::function([this](CallArgs& a) -> Value {
                      Dict d;
                      if (!a.positional.empty()) {
                        if (!a.positional[0].is_dict())
                          fail("namespace() expects a mapping or keyword arguments");
                        d = a.positional[0].as_dict();
                      }
                      for (const auto& [k, v] : a.keyword) d.set(k, v);
                      Value ns = Value::namespace_of(std::move(d));
                      namespaces_.push_back(ns.dict_ptr());
                      return ns;
                    }));
    for (const auto& [k, v] : context.items) root_->vars.set(k, v);
    std::string out;
    exec_body(body, root_, out);
    return out;
  }

 private:
  void step() {
    if (++steps_ > limits_.max_steps)
      fail("template exceeded its evaluation budget (infinite loop?)");
  }

  void append(std::string& out, const std::string& s) {
    if (out.size() + s.size() > limits_.max_output_bytes) {
      fail("rendered output exceeds " + std::to_string(limits_.max_output_bytes) + " bytes");
    }
    out += s;
  }

  Flow exec_body(const Body& body, const ScopePtr& scope, std::string& out) {
    for (const StmtPtr& s : body) {
      const Flow f = exec(*s, scope, out);
      if (f != Flow::kNormal) return f;
    }
    return Flow::kNormal;
  }

  Flow exec(const Stmt& s, const ScopePtr& scope, std::string& out) {
    try {
      return exec_inner(s, scope, out);
    } catch (RenderError& e) {
      if (e.offset == std::string::npos) e.offset = s.offset;
      throw;
    }
  }

  Flow exec_inner(const Stmt& s, const ScopePtr& scope, std::string& out) {
    step();
    switch (s.kind) {
      case StmtKind::kText:
        append(out, s.text);
        return Flow::kNormal;
      case StmtKind::kOutput:
        append(out, eval(*s.expr, scope).to_str());
        return Flow::kNormal;
      case StmtKind::kIf:
        return exec_body(eval(*s.expr, scope).truthy() ? s.body : s.else_body, scope, out);
      case StmtKind::kFor:
        exec_for(s, scope, out);
        return Flow::kNormal;
      case StmtKind::kSet: {
        Value v = eval(*s.expr, scope);
        if (s.target_obj) {
          Value obj = eval(*s.target_obj, scope);
          if (!obj.is_namespace()) fail("cannot assign attribute on non-namespace object");
          obj.namespace_dict().set(s.name, std::move(v));
        } else {
          assign(*scope, s.targets, v);
        }
        return Flow::kNormal;
      }
      case StmtKind::kSetBlock: {
        std::string buf;
        exec_body(s.body, scope, buf);
        Value v = Value::string(std::move(buf));
        if (s.filter) v = apply_chain(*s.filter, v, scope);
        scope->vars.set(s.targets[0], std::move(v));
        return Flow::kNormal;
      }
      case StmtKind::kFilterBlock: {
        std::string buf;
        exec_body(s.body, scope, buf);
        append(out, apply_chain(*s.filter, Value::string(std::move(buf)), scope).to_str());
        return Flow::kNormal;
      }
      case StmtKind::kMacro: {
        const Stmt* def = &s;
        std::weak_ptr<Scope> weak = scope;
        scope->vars.set(s.name, Value::function([this, def, weak](CallArgs& a) {
                          return call_macro(*def, weak, a);
                        }));
        return Flow::kNormal;
      }
      case StmtKind::kBreak:
        return Flow::kBreak;
      case StmtKind::kContinue:
        return Flow::kContinue;
    }
    return Flow::kNormal;
  }

  void assign(Scope& scope, const std::vector<std::string>& targets, const Value& v) {
    if (targets.size() == 1) {
      scope.vars.set(targets[0], v);
      return;
    }
    const List items = iterate(v);
    if (items.size() != targets.size()) {
      fail(std::string(items.size() > targets.size() ? "too many" : "not enough") +
           " values to unpack (expected " + std::to_string(targets.size()) + ", got " +
           std::to_string(items.size()) + ")");
    }
    for (size_t i = 0; i < targets.size(); ++i) scope.vars.set(targets[i], items[i]);
  }

  void exec_for(const Stmt& s, const ScopePtr& scope, std::string& out) {
    List items = iterate(eval(*s.expr, scope));
    if (s.filter) {
      auto filter_scope = std::make_shared<Scope>();
      filter_scope->parent = scope;
      List kept;
      for (Value& item : items) {
        assign(*filter_scope, s.targets, item);
        if (eval(*s.filter, filter_scope).truthy()) kept.push_back(std::move(item));
      }
      items = std::move(kept);
    }
    if (items.empty()) {
      exec_body(s.else_body, scope, out);
      return;
    }
    const int64_t n = static_cast<int64_t>(items.size());
    auto cycle_items = std::make_shared<int64_t>(0);
    for (int64_t i = 0; i < n; ++i) {
      step();
      // Each iteration starts from a fresh scope: a `set` in one is gone in the next.
      auto loop_scope = std::make_shared<Scope>();
      loop_scope->parent = scope;
      assign(*loop_scope, s.targets, items[static_cast<size_t>(i)]);
      Dict loop;
      loop.set("index", Value::integer(i + 1));
      loop.set("index0", Value::integer(i));
      loop.set("revindex", Value::integer(n - i));
      loop.set("revindex0", Value::integer(n - i - 1));
      loop.set("first", Value::boolean(i == 0));
      loop.set("last", Value::boolean(i == n - 1));
      loop.set("length", Value::integer(n));
      loop.set("depth", Value::integer(1));
      loop.set("depth0", Value::integer(0));
      loop.set("previtem",
               i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("previtem"));
      loop.set("nextitem",
               i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::undefined("nextitem"));
      loop.set("cycle", Value::function([i](CallArgs& a) -> Value {
                 if (a.positional.empty()) fail("no items for cycling given");
                 return a.positional[static_cast<size_t>(i) % a.positional.size()];
               }));
      loop_scope->vars.set("loop", Value::dict(std::move(loop)));
      if (exec_body(s.body, loop_scope, out) == Flow::kBreak) break;
    }
  }

  Value call_macro(const Stmt& def, const std::weak_ptr<Scope>& weak, CallArgs& a) {
    if (depth_ >= limits_.max_call_depth) fail("maximum macro call depth exceeded (recursion?)");
    ++depth_;
    struct DepthRestore {
      int* d;
      ~DepthRestore() { --*d; }
    } restore{&depth_};
    ScopePtr parent = weak.lock();
    auto ms = std::make_shared<Scope>();
    ms->parent = parent ? parent : root_;
    const size_t np = def.params.size();
    std::vector<bool> bound(np, false);
    List varargs;
    for (size_t i = 0; i < a.positional.size(); ++i) {
      if (i < np) {
        ms->vars.set(def.params[i].first, a.positional[i]);
        bound[i] = true;
      } else {
        varargs.push_back(a.positional[i]);
      }
    }
    Dict kwargs;
    for (const auto& [k, v] : a.keyword) {
      size_t p = 0;
      while (p < np && def.params[p].first != k) ++p;
      if (p == np) {
        kwargs.set(k, v);
        continue;
      }
      if (bound[p]) fail("macro '" + def.name + "' got multiple values for argument '" + k + "'");
      ms->vars.set(k, v);
      bound[p] = true;
    }
    for (size_t p = 0; p < np; ++p) {
      if (bound[p]) continue;
      const auto& [name, default_expr] = def.params[p];
      ms->vars.set(name, default_expr ? eval(*default_expr, ms) : Value::undefined(name));
    }
    ms->vars.set("varargs", Value::list(std::move(varargs)));
    ms->vars.set("kwargs", Value::dict(std::move(kwargs)));
    std::string buf;
    exec_body(def.body, ms, buf);
    return Value::string(std::move(buf));
  }

  CallArgs eval_args(const Expr& e, size_t first, const ScopePtr& scope) {
    CallArgs args;
    for (size_t i = first; i < e.children.size(); ++i)
      args.positional.push_back(eval(*e.children[i], scope));
    for (const auto& [k, v] : e.kwargs) args.keyword.emplace_back(k, eval(*v, scope));
    return args;
  }

  // A filter chain whose innermost operand is null, applied to `operand`.
  Value apply_chain(const Expr& f, const Value& operand, const ScopePtr& scope) {
    const Value inner = f.children[0] ? apply_chain(*f.children[0], operand, scope) : operand;
    CallArgs args = eval_args(f, 1, scope);
    return apply_filter(f.name, inner, args);
  }

  Value eval(const Expr& e, const ScopePtr& scope) {
    try {
      return eval_inner(e, scope);
    } catch (RenderError& err) {
      if (err.offset == std::string::npos) err.offset = e.offset;
      throw;
    }
  }

  Value eval_inner(const Expr& e, const ScopePtr& scope) {
    step();
    switch (e.kind) {
      case ExprKind::kLiteral:
        return e.literal;
      case ExprKind::kName: {
        const Value* v = scope->lookup(e.name);
        return v ? *v : Value::undefined(e.name);
      }
      case ExprKind::kList:
      case ExprKind::kTuple: {
        List items;
        for (const ExprPtr& c : e.children) items.push_back(eval(*c, scope));
        return Value::list(std::move(items));
      }
      case ExprKind::kDict: {
        Dict d;
        for (size_t i = 0; i + 1 < e.children.size(); i += 2) {
          const Value k = eval(*e.children[i], scope);
          if (!k.is_string()) fail("dict keys must be strings");
          d.set(k.as_string(), eval(*e.children[i + 1], scope));
        }
        return Value::dict(std::move(d));
      }
      case ExprKind::kAttr:
        return get_attr(eval(*e.children[0], scope), e.name);
      case ExprKind::kItem:
        return get_item(eval(*e.children[0], scope), eval(*e.children[1], scope));
      case ExprKind::kSlice: {
        const Value obj = eval(*e.children[0], scope);
        auto bound = [&](size_t i) {
          return e.children[i] ? eval(*e.children[i], scope) : Value::none();
        };
        return slice_value(obj, bound(1), bound(2), bound(3));
      }
      case ExprKind::kCall: {
        const Value callee = eval(*e.children[0], scope);
        CallArgs args = eval_args(e, 1, scope);
        if (callee.is_undefined()) undefined_error(callee);
        if (!callee.is_function())
          fail(std::string("'") + callee.type_name() + "' object is not callable");
        return callee.as_function()(args);
      }
      case ExprKind::kFilter: {
        const Value operand = eval(*e.children[0], scope);
        CallArgs args = eval_args(e, 1, scope);
        return apply_filter(e.name, operand, args);
      }
      case ExprKind::kTest: {
        const Value operand = eval(*e.children[0], scope);
        CallArgs args = eval_args(e, 1, scope);
        return Value::boolean(apply_test(e.name, operand, args) != e.negated);
      }
      case ExprKind::kUnary: {
        const Value v = eval(*e.children[0], scope);
        if (e.op == "not") return Value::boolean(!v.truthy());
        if (v.is_float()) return Value::floating(e.op == "-" ? -v.as_double() : v.as_double());
        if (v.is_int() || v.is_bool()) {
          if (e.op == "+") return Value::integer(v.as_int());
          if (v.as_int() == INT64_MIN) fail("integer overflow");
          return Value::integer(-v.as_int());
        }
        if (v.is_undefined()) undefined_error(v);
        fail("bad operand type for unary " + e.op + ": '" + v.type_name() + "'");
      }
      case ExprKind::kBinary: {
        const Value a = eval(*e.children[0], scope);
        if (e.op == "and") return a.truthy() ? eval(*e.children[1], scope) : a;
        if (e.op == "or") return a.truthy() ? a : eval(*e.children[1], scope);
        return arith(e.op, a, eval(*e.children[1], scope));
      }
      case ExprKind::kCompare: {
        Value left = eval(*e.children[0], scope);
        for (size_t i = 0; i < e.ops.size(); ++i) {
          Value right = eval(*e.children[i + 1], scope);
          const std::string& op = e.ops[i];
          bool r;
          if (op == "==")
            r = values_equal(left, right);
          else if (op == "!=")
            r = !values_equal(left, right);
          else if (op == "<")
            r = values_less(left, right);
          else if (op == ">")
            r = values_less(right, left);
          else if (op == "<=")
            r = values_less(left, right) || values_equal(left, right);
          else if (op == ">=")
            r = values_less(right, left) || values_equal(left, right);
          else if (op == "in")
            r = contains(right, left);
          else
            r = !contains(right, left);  // not in
          if (!r) return Value::boolean(false);
          left = std::move(right);
        }
        return Value::boolean(true);
      }
      case ExprKind::kCond:
        if (eval(*e.children[1], scope).truthy()) return eval(*e.children[0], scope);
        return e.children[2] ? eval(*e.children[2], scope) : Value::undefined();
    }
    return Value::undefined();
  }

  const RenderLimits& limits_;
  ScopePtr root_;
  uint64_t steps_ = 0;
  int depth_ = 0;
  std::vector<std::weak_ptr<Dict>> namespaces_;
};

}  // namespace

std::string render_body(const Body& body, const Dict& context, const RenderLimits& limits) {
  Interpreter interp(limits);
  return interp.run(body, context);
}

}  // namespace radix::jinja
