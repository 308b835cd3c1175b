// Jinja parser: recursive descent over the lexer's tokens, following Jinja2's grammar and
// operator precedence (filters bind tighter than arithmetic, `**` is left-associative,
// comparisons chain).
#include "tokenizer/jinja/parser.h"

#include <cerrno>
#include <cstdlib>
#include <initializer_list>

#include "tokenizer/jinja/builtins.h"

namespace radix::jinja {
namespace {

struct ParseError {
  std::string message;
  size_t offset;
};

constexpr int kMaxNesting = 200;

bool is_keyword(const std::string& s) {
  static const char* kKeywords[] = {"and", "or", "not", "in", "is", "if", "else", "elif"};
  for (const char* k : kKeywords) {
    if (s == k) return true;
  }
  return false;
}

std::string describe(const Token& t) {
  switch (t.kind) {
    case TokenKind::kText:
      return "template text";
    case TokenKind::kVarBegin:
      return "'{{'";
    case TokenKind::kVarEnd:
      return "'}}'";
    case TokenKind::kBlockBegin:
      return "'{%'";
    case TokenKind::kBlockEnd:
      return "'%}'";
    case TokenKind::kEof:
      return "end of template";
    case TokenKind::kString:
      return "string literal";
    default:
      return "'" + t.text + "'";
  }
}

class Parser {
 public:
  explicit Parser(const std::vector<Token>& toks) : toks_(toks) {}

  Body parse_template() {
    Body body;
    std::string end = parse_body(body, {}, 0, "");
    (void)end;
    return body;
  }

 private:
  // ---- token helpers ----
  const Token& cur() const { return toks_[i_]; }
  const Token& peek(size_t k = 1) const {
    return toks_[i_ + k < toks_.size() ? i_ + k : toks_.size() - 1];
  }
  bool at_op(const char* op) const { return cur().kind == TokenKind::kOp && cur().text == op; }
  bool at_name(const char* name) const {
    return cur().kind == TokenKind::kName && cur().text == name;
  }
  const Token& advance() {
    const Token& t = toks_[i_];
    if (i_ + 1 < toks_.size()) ++i_;
    return t;
  }
  [[noreturn]] void fail(const std::string& message, size_t offset) const {
    throw ParseError{message, offset};
  }
  [[noreturn]] void unexpected(const std::string& expected) const {
    fail("unexpected " + describe(cur()) + ", expected " + expected, cur().offset);
  }
  void expect_op(const char* op) {
    if (!at_op(op)) unexpected(std::string("'") + op + "'");
    advance();
  }
  void expect_block_end() {
    if (cur().kind != TokenKind::kBlockEnd) unexpected("'%}'");
    advance();
  }
  std::string expect_name() {
    if (cur().kind != TokenKind::kName) unexpected("a name");
    return advance().text;
  }

  struct DepthGuard {
    DepthGuard(Parser* p, size_t offset) : p(p) {
      if (++p->depth_ > kMaxNesting) p->fail("template is nested too deeply", offset);
    }
    ~DepthGuard() { --p->depth_; }
    Parser* p;
  };

  // ---- statements ----

  // Parses statements into `body` until a block tag whose name is in `ends`; consumes
  // `{% name` and returns the name (the caller parses the rest of that tag). With no
  // `ends`, parses to the end of the template. `opener` names the block for errors.
  std::string parse_body(Body& body, std::initializer_list<const char*> ends, size_t opener_offset,
                         const std::string& opener) {
    while (true) {
      const Token& t = cur();
      switch (t.kind) {
        case TokenKind::kEof:
          if (ends.size() == 0) return "";
          fail("'" + opener + "' block is never closed (expected '" + *ends.begin() + "')",
               opener_offset);
        case TokenKind::kText: {
          auto s = std::make_unique<Stmt>();
          s->kind = StmtKind::kText;
          s->offset = t.offset;
          s->text = t.text;
          body.push_back(std::move(s));
          advance();
          break;
        }
        case TokenKind::kVarBegin: {
          advance();
          auto s = std::make_unique<Stmt>();
          s->kind = StmtKind::kOutput;
          s->offset = t.offset;
          s->expr = parse_expression();
          if (cur().kind != TokenKind::kVarEnd) unexpected("'}}'");
          advance();
          body.push_back(std::move(s));
          break;
        }
        case TokenKind::kBlockBegin: {
          const Token& name = peek();
          if (name.kind != TokenKind::kName) {
            advance();
            unexpected("a tag name");
          }
          for (const char* e : ends) {
            if (name.text == e) {
              advance();
              advance();
              return name.text;
            }
          }
          if (name.text.rfind("end", 0) == 0 || name.text == "else" || name.text == "elif") {
            fail("unexpected '" + name.text + "'" +
                     (ends.size() ? std::string(", expected '") + *ends.begin() + "'" : ""),
                 name.offset);
          }
          parse_statement(body);
          break;
        }
        default:
          unexpected("template text or a tag");
      }
    }
  }

  void parse_statement(Body& body) {
    const size_t offset = advance().offset;  // '{%'
    const Token& name_tok = advance();
    const std::string& tag = name_tok.text;
    DepthGuard guard(this, offset);
    auto s = std::make_unique<Stmt>();
    s->offset = offset;
    if (tag == "if") {
      parse_if(*s, offset);
    } else if (tag == "for") {
      parse_for(*s, offset);
    } else if (tag == "set") {
      parse_set(*s, offset);
    } else if (tag == "macro") {
      parse_macro(*s, offset);
    } else if (tag == "filter") {
      s->kind = StmtKind::kFilterBlock;
      s->filter = parse_filter_chain(nullptr);
      expect_block_end();
      parse_body(s->body, {"endfilter"}, offset, "filter");
      expect_block_end();
    } else if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) fail("'" + tag + "' outside of a loop", name_tok.offset);
      s->kind = tag == "break" ? StmtKind::kBreak : StmtKind::kContinue;
      expect_block_end();
    } else if (tag == "generation") {
      // transformers' assistant-mask marker: renders its body unchanged.
      expect_block_end();
      parse_body(body, {"endgeneration"}, offset, "generation");
      expect_block_end();
      return;
    } else if (tag == "call" || tag == "include" || tag == "import" || tag == "from" ||
               tag == "extends" || tag == "block" || tag == "with" || tag == "do" ||
               tag == "autoescape") {
      fail("unsupported tag '" + tag + "' (not used by chat templates)", name_tok.offset);
    } else {
      fail("unknown tag '" + tag + "'", name_tok.offset);
    }
    body.push_back(std::move(s));
  }

  void parse_if(Stmt& s, size_t offset) {
    s.kind = StmtKind::kIf;
    s.expr = parse_expression();
    expect_block_end();
    const std::string end = parse_body(s.body, {"endif", "elif", "else"}, offset, "if");
    if (end == "elif") {
      auto nested = std::make_unique<Stmt>();
      nested->offset = toks_[i_ - 2].offset;
      parse_if(*nested, offset);
      s.else_body.push_back(std::move(nested));
      return;  // the nested if consumed the endif
    }
    if (end == "else") {
      expect_block_end();
      parse_body(s.else_body, {"endif"}, offset, "if");
    }
    expect_block_end();
  }

  void parse_targets(std::vector<std::string>& targets) {
    const bool paren = at_op("(");
    if (paren) advance();
    targets.push_back(expect_name());
    while (at_op(",")) {
      advance();
      if (cur().kind != TokenKind::kName || is_keyword(cur().text)) break;
      targets.push_back(expect_name());
    }
    if (paren) expect_op(")");
  }

  void parse_for(Stmt& s, size_t offset) {
    s.kind = StmtKind::kFor;
    parse_targets(s.targets);
    if (!at_name("in")) unexpected("'in'");
    advance();
    s.expr = parse_expression(/*with_cond=*/false);
    if (at_name("if")) {
      advance();
      s.filter = parse_expression(/*with_cond=*/false);
    }
    if (at_name("recursive")) fail("recursive loops are not supported", cur().offset);
    expect_block_end();
    ++loop_depth_;
    const std::string end = parse_body(s.body, {"endfor", "else"}, offset, "for");
    --loop_depth_;
    if (end == "else") {
      expect_block_end();
      parse_body(s.else_body, {"endfor"}, offset, "for");
    }
    expect_block_end();
  }

  void parse_set(Stmt& s, size_t offset) {
    const std::string first = expect_name();
    if (at_op(".")) {
      advance();
      s.kind = StmtKind::kSet;
      auto obj = std::make_unique<Expr>();
      obj->kind = ExprKind::kName;
      obj->name = first;
      obj->offset = offset;
      s.target_obj = std::move(obj);
      s.name = expect_name();
      expect_op("=");
      s.expr = parse_expression();
      expect_block_end();
      return;
    }
    s.targets.push_back(first);
    while (at_op(",")) {
      advance();
      s.targets.push_back(expect_name());
    }
    if (at_op("=")) {
      advance();
      s.kind = StmtKind::kSet;
      s.expr = parse_expression();
      expect_block_end();
      return;
    }
    if (s.targets.size() != 1) unexpected("'='");
    s.kind = StmtKind::kSetBlock;
    if (at_op("|")) {
      advance();
      s.filter = parse_filter_chain(nullptr);
    }
    expect_block_end();
    const int saved = loop_depth_;
    parse_body(s.body, {"endset"}, offset, "set");
    loop_depth_ = saved;
    expect_block_end();
  }

  void parse_macro(Stmt& s, size_t offset) {
    s.kind = StmtKind::kMacro;
    s.name = expect_name();
    expect_op("(");
    while (!at_op(")")) {
      std::string param = expect_name();
      ExprPtr def;
      if (at_op("=")) {
        advance();
        def = parse_expression();
      }
      s.params.emplace_back(std::move(param), std::move(def));
      if (!at_op(",")) break;
      advance();
    }
    expect_op(")");
    expect_block_end();
    const int saved = loop_depth_;
    loop_depth_ = 0;  // break/continue cannot cross a macro boundary
    parse_body(s.body, {"endmacro"}, offset, "macro");
    loop_depth_ = saved;
    if (cur().kind == TokenKind::kName) advance();  // {% endmacro name %}
    expect_block_end();
  }

  // ---- expressions ----

  ExprPtr node(ExprKind kind, size_t offset) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->offset = offset;
    return e;
  }

  ExprPtr binary(const std::string& op, ExprPtr a, ExprPtr b, size_t offset) {
    auto e = node(ExprKind::kBinary, offset);
    e->op = op;
    e->children.push_back(std::move(a));
    e->children.push_back(std::move(b));
    return e;
  }

  ExprPtr parse_expression(bool with_cond = true) {
    DepthGuard guard(this, cur().offset);
    ExprPtr value = parse_or();
    while (with_cond && at_name("if")) {
      const size_t offset = advance().offset;
      auto e = node(ExprKind::kCond, offset);
      e->children.push_back(std::move(value));
      e->children.push_back(parse_or());
      if (at_name("else")) {
        advance();
        e->children.push_back(parse_expression());
      } else {
        e->children.push_back(nullptr);
      }
      value = std::move(e);
    }
    return value;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (at_name("or")) {
      const size_t offset = advance().offset;
      left = binary("or", std::move(left), parse_and(), offset);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (at_name("and")) {
      const size_t offset = advance().offset;
      left = binary("and", std::move(left), parse_not(), offset);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (at_name("not")) {
      DepthGuard guard(this, cur().offset);
      const size_t offset = advance().offset;
      auto e = node(ExprKind::kUnary, offset);
      e->op = "not";
      e->children.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    ExprPtr first = parse_math1();
    ExprPtr chain;
    while (true) {
      std::string op;
      const size_t offset = cur().offset;
      if (cur().kind == TokenKind::kOp &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" ||
           cur().text == ">" || cur().text == ">=")) {
        op = advance().text;
      } else if (at_name("in")) {
        advance();
        op = "in";
      } else if (at_name("not") && peek().kind == TokenKind::kName && peek().text == "in") {
        advance();
        advance();
        op = "not in";
      } else {
        break;
      }
      if (!chain) {
        chain = node(ExprKind::kCompare, offset);
        chain->children.push_back(std::move(first));
      }
      chain->ops.push_back(op);
      chain->children.push_back(parse_math1());
    }
    return chain ? std::move(chain) : std::move(first);
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (at_op("+") || at_op("-")) {
      const Token& t = advance();
      left = binary(t.text, std::move(left), parse_concat(), t.offset);
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (at_op("~")) {
      const size_t offset = advance().offset;
      left = binary("~", std::move(left), parse_math2(), offset);
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (at_op("*") || at_op("/") || at_op("//") || at_op("%")) {
      const Token& t = advance();
      left = binary(t.text, std::move(left), parse_pow(), t.offset);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (at_op("**")) {
      const size_t offset = advance().offset;
      left = binary("**", std::move(left), parse_unary(true), offset);
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(this, cur().offset);
    ExprPtr e;
    if (at_op("-") || at_op("+")) {
      const Token& t = advance();
      e = node(ExprKind::kUnary, t.offset);
      e->op = t.text;
      e->children.push_back(parse_unary(false));
    } else {
      e = parse_postfix(parse_primary());
    }
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    switch (t.kind) {
      case TokenKind::kName: {
        advance();
        auto e = node(ExprKind::kLiteral, t.offset);
        if (t.text == "true" || t.text == "True") {
          e->literal = Value::boolean(true);
        } else if (t.text == "false" || t.text == "False") {
          e->literal = Value::boolean(false);
        } else if (t.text == "none" || t.text == "None") {
          e->literal = Value::none();
        } else {
          e->kind = ExprKind::kName;
          e->name = t.text;
        }
        return e;
      }
      case TokenKind::kString: {
        auto e = node(ExprKind::kLiteral, t.offset);
        std::string s;
        while (cur().kind == TokenKind::kString) s += advance().text;  // 'a' 'b' == 'ab'
        e->literal = Value::string(std::move(s));
        return e;
      }
      case TokenKind::kInt: {
        advance();
        auto e = node(ExprKind::kLiteral, t.offset);
        errno = 0;
        char* end = nullptr;
        const long long v = std::strtoll(t.text.c_str(), &end, 10);
        if (errno == ERANGE) fail("integer literal out of range", t.offset);
        e->literal = Value::integer(v);
        return e;
      }
      case TokenKind::kFloat: {
        advance();
        auto e = node(ExprKind::kLiteral, t.offset);
        e->literal = Value::floating(std::strtod(t.text.c_str(), nullptr));
        return e;
      }
      case TokenKind::kOp:
        if (t.text == "(") return parse_paren();
        if (t.text == "[") return parse_list();
        if (t.text == "{") return parse_dict();
        [[fallthrough]];
      default:
        unexpected("an expression");
    }
  }

  ExprPtr parse_paren() {
    const size_t offset = advance().offset;
    if (at_op(")")) {
      advance();
      return node(ExprKind::kTuple, offset);
    }
    ExprPtr first = parse_expression();
    if (at_op(")")) {
      advance();
      return first;
    }
    auto tuple = node(ExprKind::kTuple, offset);
    tuple->children.push_back(std::move(first));
    while (at_op(",")) {
      advance();
      if (at_op(")")) break;
      tuple->children.push_back(parse_expression());
    }
    expect_op(")");
    return tuple;
  }

  ExprPtr parse_list() {
    auto e = node(ExprKind::kList, advance().offset);
    while (!at_op("]")) {
      e->children.push_back(parse_expression());
      if (!at_op(",")) break;
      advance();
    }
    expect_op("]");
    return e;
  }

  ExprPtr parse_dict() {
    auto e = node(ExprKind::kDict, advance().offset);
    while (!at_op("}")) {
      e->children.push_back(parse_expression());
      expect_op(":");
      e->children.push_back(parse_expression());
      if (!at_op(",")) break;
      advance();
    }
    expect_op("}");
    return e;
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      if (at_op(".")) {
        const size_t offset = advance().offset;
        if (cur().kind == TokenKind::kInt) {  // x.0 is x[0]
          auto item = node(ExprKind::kItem, offset);
          item->children.push_back(std::move(e));
          auto idx = node(ExprKind::kLiteral, cur().offset);
          idx->literal = Value::integer(std::strtoll(advance().text.c_str(), nullptr, 10));
          item->children.push_back(std::move(idx));
          e = std::move(item);
          continue;
        }
        auto attr = node(ExprKind::kAttr, offset);
        attr->name = expect_name();
        attr->children.push_back(std::move(e));
        e = std::move(attr);
      } else if (at_op("[")) {
        e = parse_subscript(std::move(e));
      } else if (at_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr obj) {
    const size_t offset = advance().offset;
    ExprPtr start;
    if (!at_op(":")) start = parse_expression();
    if (!at_op(":")) {
      expect_op("]");
      auto item = node(ExprKind::kItem, offset);
      item->children.push_back(std::move(obj));
      item->children.push_back(std::move(start));
      return item;
    }
    advance();
    auto slice = node(ExprKind::kSlice, offset);
    slice->children.push_back(std::move(obj));
    slice->children.push_back(std::move(start));
    slice->children.push_back(at_op(":") || at_op("]") ? nullptr : parse_expression());
    if (at_op(":")) {
      advance();
      slice->children.push_back(at_op("]") ? nullptr : parse_expression());
    } else {
      slice->children.push_back(nullptr);
    }
    expect_op("]");
    return slice;
  }

  // Parses `( args )` into e->children (after index 0) and e->kwargs.
  void parse_args(Expr& e) {
    expect_op("(");
    while (!at_op(")")) {
      if (cur().kind == TokenKind::kName && peek().kind == TokenKind::kOp && peek().text == "=") {
        std::string key = advance().text;
        advance();
        e.kwargs.emplace_back(std::move(key), parse_expression());
      } else {
        if (!e.kwargs.empty()) fail("positional argument follows keyword argument", cur().offset);
        e.children.push_back(parse_expression());
      }
      if (!at_op(",")) break;
      advance();
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto e = node(ExprKind::kCall, callee->offset);
    e->children.push_back(std::move(callee));
    parse_args(*e);
    return e;
  }

  ExprPtr parse_filter_expr(ExprPtr e) {
    while (true) {
      if (at_op("|")) {
        e = parse_filter_chain(std::move(e));
      } else if (at_name("is")) {
        e = parse_test(std::move(e));
      } else if (at_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  // `| f(args) | g ...` applied to `operand` (null for filter blocks).
  ExprPtr parse_filter_chain(ExprPtr operand) {
    bool first = operand == nullptr;  // a filter block starts without '|'
    while (first || at_op("|")) {
      if (!first) advance();
      first = false;
      auto f = node(ExprKind::kFilter, cur().offset);
      f->name = expect_name();
      if (!is_filter_name(f->name)) fail("no filter named '" + f->name + "'", f->offset);
      f->children.push_back(std::move(operand));
      if (at_op("(")) parse_args(*f);
      operand = std::move(f);
    }
    return operand;
  }

  ExprPtr parse_test(ExprPtr operand) {
    const size_t offset = advance().offset;  // 'is'
    auto t = node(ExprKind::kTest, offset);
    if (at_name("not")) {
      advance();
      t->negated = true;
    }
    t->name = expect_name();
    if (!is_test_name(t->name)) fail("no test named '" + t->name + "'", t->offset);
    t->children.push_back(std::move(operand));
    if (at_op("(")) {
      parse_args(*t);
    } else {
      const Token& c = cur();
      const bool arg_start = (c.kind == TokenKind::kName && !is_keyword(c.text)) ||
                             c.kind == TokenKind::kString || c.kind == TokenKind::kInt ||
                             c.kind == TokenKind::kFloat ||
                             (c.kind == TokenKind::kOp && (c.text == "[" || c.text == "{"));
      if (arg_start) t->children.push_back(parse_postfix(parse_primary()));
    }
    return t;
  }

  const std::vector<Token>& toks_;
  size_t i_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

Result<Body> parse(const std::vector<Token>& tokens, const std::string& source) {
  try {
    return Parser(tokens).parse_template();
  } catch (const ParseError& e) {
    return invalid_argument("template syntax error at " + describe_position(source, e.offset) +
                            ": " + e.message);
  }
}

}  // namespace radix::jinja
