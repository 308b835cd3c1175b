// Prints, as JSON {pattern: [code points]}, which single code points each pattern given on
// the command line matches with radix's regex (PCRE2 after translate_onig). Companion of
// onig_class_diff.mjs, which compares the lists with Hugging Face's Oniguruma.
#include <cstdio>
#include <string>
#include <vector>

#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

int main(int argc, char** argv) {
  std::printf("{");
  for (int a = 1; a < argc; ++a) {
    auto re = radix::tok::Regex::compile(argv[a]);
    if (!re.is_ok()) {
      std::fprintf(stderr, "%s\n", re.status().to_string().c_str());
      return 1;
    }
    std::string key = argv[a], escaped;
    for (char c : key) escaped += c == '\\' || c == '"' ? std::string("\\") + c : std::string(1, c);
    std::printf("%s\"%s\": [", a > 1 ? ", " : "", escaped.c_str());
    bool first = true;
    for (char32_t c = 0; c < 0x110000; ++c) {
      if (c >= 0xD800 && c <= 0xDFFF) continue;
      std::string s;
      radix::tok::append_utf8(&s, c);
      std::vector<radix::tok::Span> m;
      (*re)->find_all(s, &m);
      if (!m.empty() && m[0].first == 0 && m[0].second == s.size()) {
        std::printf("%s%u", first ? "" : ",", static_cast<unsigned>(c));
        first = false;
      }
    }
    std::printf("]");
  }
  std::printf("}\n");
  return 0;
}
