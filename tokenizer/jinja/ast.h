// Jinja syntax tree (tokenizer/jinja): what the parser builds and the interpreter walks.
// One generic node type per layer (Expr, Stmt) keeps the tree small to write and read;
// the fields each kind uses are listed beside the kind.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace radix::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
  kLiteral,  // literal
  kName,     // name
  kList,     // children: items
  kTuple,    // children: items
  kDict,     // children: key0, value0, key1, value1, ...
  kAttr,     // children[0]: object; name: attribute
  kItem,     // children[0]: object; children[1]: key
  kSlice,    // children[0]: object; children[1..3]: start, stop, step (each may be null)
  kCall,     // children[0]: callee; children[1..]: positional args; kwargs
  kFilter,   // children[0]: operand; name; children[1..]: args; kwargs
  kTest,     // children[0]: operand; name; children[1..]: args; kwargs; negated
  kUnary,    // op: "-", "+", "not"; children[0]
  kBinary,   // op: + - * / // % ** ~ and or in "not in"; children[0], children[1]
  kCompare,  // children[0] then (ops[i], children[i + 1]) for a chain a < b <= c
  kCond,     // children: value_if_true, condition, value_if_false (may be null)
};

struct Expr {
  ExprKind kind;
  size_t offset = 0;  // byte offset in the source, for error positions
  Value literal;
  std::string name;
  std::string op;
  std::vector<std::string> ops;
  std::vector<ExprPtr> children;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  bool negated = false;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class StmtKind {
  kText,         // text
  kOutput,       // expr
  kIf,           // expr: condition; body; else_body (an elif is a nested kIf there)
  kFor,          // targets; expr: iterable; filter: loop condition; body; else_body
  kSet,          // targets (one or a tuple) or target_obj + name (ns.attr); expr
  kSetBlock,     // targets[0]; filter: optional filter chain (kFilter over a null operand); body
  kMacro,        // name; params; body
  kFilterBlock,  // filter: kFilter chain over a null operand; body
  kBreak,
  kContinue,
};

struct Stmt {
  StmtKind kind;
  size_t offset = 0;
  std::string text;
  std::string name;
  ExprPtr expr;
  ExprPtr filter;
  ExprPtr target_obj;
  std::vector<std::string> targets;
  std::vector<std::pair<std::string, ExprPtr>> params;  // macro parameters and defaults
  Body body;
  Body else_body;
};

}  // namespace radix::jinja
