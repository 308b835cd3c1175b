// RADIX_CHECK: internal invariants only (a failure is a bug in radix, never bad input).
// Prints the failed expression and, for the binary forms, both operands, then aborts.
#pragma once

#include <sstream>
#include <string>

namespace radix::detail {
[[noreturn]] void check_failed(const char* file, int line, const std::string& what);

template <typename A, typename B>
std::string check_op_message(const char* expr, const A& a, const B& b) {
  std::ostringstream os;
  os << expr << " (" << a << " vs " << b << ")";
  return os.str();
}
}  // namespace radix::detail

#define RADIX_CHECK(cond)                                                  \
  do {                                                                     \
    if (!(cond)) ::radix::detail::check_failed(__FILE__, __LINE__, #cond); \
  } while (0)

#define RADIX_CHECK_OP(a, b, op)                                                    \
  do {                                                                              \
    const auto& radix_a_ = (a);                                                     \
    const auto& radix_b_ = (b);                                                     \
    if (!(radix_a_ op radix_b_))                                                    \
      ::radix::detail::check_failed(                                                \
          __FILE__, __LINE__,                                                       \
          ::radix::detail::check_op_message(#a " " #op " " #b, radix_a_, radix_b_)); \
  } while (0)

#define RADIX_CHECK_EQ(a, b) RADIX_CHECK_OP(a, b, ==)
#define RADIX_CHECK_NE(a, b) RADIX_CHECK_OP(a, b, !=)
#define RADIX_CHECK_LT(a, b) RADIX_CHECK_OP(a, b, <)
#define RADIX_CHECK_LE(a, b) RADIX_CHECK_OP(a, b, <=)
#define RADIX_CHECK_GT(a, b) RADIX_CHECK_OP(a, b, >)
#define RADIX_CHECK_GE(a, b) RADIX_CHECK_OP(a, b, >=)

#ifdef NDEBUG
#define RADIX_DCHECK(cond) \
  do {                     \
  } while (0)
#else
#define RADIX_DCHECK(cond) RADIX_CHECK(cond)
#endif
