#include "core/check.h"

#include <cstdio>
#include <cstdlib>

namespace radix::detail {

void check_failed(const char* file, int line, const std::string& what) {
  std::fprintf(stderr, "RADIX_CHECK failed at %s:%d: %s\n", file, line, what.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace radix::detail
