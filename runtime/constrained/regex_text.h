// Helpers that write regex text in the syntax regex_dfa.h compiles, shared by the JSON
// schema walk (json_schema.cpp) and its `pattern` translator (json_pattern.cpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace radix::constrained {

// `s` with every regex metacharacter backslash-escaped: a literal.
inline std::string regex_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (std::string_view(R"(\.^$|?*+()[]{})").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

inline std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += sep;
    out += parts[i];
  }
  return out;
}

// One alternative as is, several as a group.
inline std::string alternation(const std::vector<std::string>& alts) {
  return alts.size() == 1 ? alts[0] : "(?:" + join(alts, "|") + ")";
}

}  // namespace radix::constrained
