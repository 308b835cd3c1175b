// PCRE2 wrapper (see regex.h).
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex.h"

#include <pcre2.h>

#include "core/logging.h"
#include "tokenizer/unicode.h"

namespace radix::tok {
namespace {

// Per-thread matching state, shared by every Regex on that thread.
struct ThreadMatchState {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;

  ThreadMatchState() {
    data = pcre2_match_data_create(1, nullptr);
    context = pcre2_match_context_create(nullptr);
    // Long whitespace runs under \s+(?!\S) backtrack deeply: allow up to 64 MiB.
    jit_stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, nullptr);
    if (context != nullptr && jit_stack != nullptr) {
      pcre2_jit_stack_assign(context, nullptr, jit_stack);
    }
  }
  ~ThreadMatchState() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(jit_stack);
  }
};

ThreadMatchState& thread_state() {
  thread_local ThreadMatchState state;
  return state;
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof(buf));
  return std::string(reinterpret_cast<const char*>(buf));
}

}  // namespace

Result<std::unique_ptr<Regex>> Regex::compile(std::string_view pattern) {
  if (!is_valid_utf8(pattern)) return invalid_argument("regex pattern is not valid UTF-8");
  std::unique_ptr<Regex> re(new Regex(std::string(pattern)));
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                    PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &error, &offset, nullptr);
  if (code == nullptr) {
    return invalid_argument("cannot compile regex '" + std::string(pattern) + "' at offset " +
                            std::to_string(offset) + ": " + pcre2_message(error));
  }
  re->code_ = code;
  re->jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  return re;
}

Result<std::unique_ptr<Regex>> Regex::literal(std::string_view literal) {
  // An empty literal never matches (as in Hugging Face); \Q...\E quotes everything
  // except a literal "\E", which we split around.
  if (literal.empty()) return compile("(*FAIL)");
  std::string pattern;
  size_t start = 0;
  while (true) {
    const size_t e = literal.find("\\E", start);
    pattern += "\\Q" + std::string(literal.substr(start, e - start)) + "\\E";
    if (e == std::string_view::npos) break;
    pattern += "\\\\E";
    start = e + 2;
  }
  return compile(pattern);
}

Regex::~Regex() {
  pcre2_code_free(static_cast<pcre2_code*>(code_));
}

bool Regex::find_at(std::string_view text, size_t start, Span* m) const {
  auto& st = thread_state();
  if (st.data == nullptr) return false;
  auto* code = static_cast<pcre2_code*>(code_);
  const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  int rc = pcre2_match(code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, st.data, st.context);
  if (rc == PCRE2_ERROR_JIT_STACKLIMIT || (rc < 0 && rc != PCRE2_ERROR_NOMATCH && jit_)) {
    // The interpreter keeps its backtracking frames on the heap: slower, but no stack cap.
    rc = pcre2_match(code, subject, text.size(), start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, st.data,
                     nullptr);
  }
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) {
    RADIX_LOG_WARN("tokenizer regex '{}' failed to match: {}", pattern_, pcre2_message(rc));
    return false;
  }
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(st.data);
  *m = {ov[0], ov[1]};
  return true;
}

void Regex::find_all(std::string_view text, std::vector<Span>* out) const {
  size_t pos = 0;
  bool have_last = false;
  size_t last_end = 0;
  while (pos <= text.size()) {
    Span m;
    if (!find_at(text, pos, &m)) break;
    if (m.first == m.second && have_last && last_end == m.second) {
      pos += pos < text.size() ? utf8_len(static_cast<unsigned char>(text[pos])) : 1;
      continue;
    }
    pos = m.second;
    have_last = true;
    last_end = m.second;
    out->push_back(m);
  }
}

}  // namespace radix::tok
