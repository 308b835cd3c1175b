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

// Hugging Face runs its patterns on Oniguruma, whose Unicode tables are newer (16.0)
// than Debian's PCRE2 10.42 (14.0). translate_onig() closes the gap for the classes
// tokenizer patterns use: \s is Oniguruma's White_Space set (PCRE2 also counts U+180E),
// and \p{L,N,P,S,M} gain the characters assigned in Unicode 15.0-16.0. The ranges are the
// difference of the two engines' class membership over every code point, as measured by
// tools/tokenizer/onig_class_diff.mjs and probe_pcre2_classes.cpp.
const char* const kWhiteSpace =
    "\\x{9}-\\x{D}\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}"
    "\\x{205F}\\x{3000}";
// \p{L}
const char* const kExtraL =
    "\\x{1C89}-\\x{1C8A}\\x{A7CB}-\\x{A7CD}\\x{A7DA}-\\x{A7DC}\\x{105C0}-\\x{105F3}"
    "\\x{10D4A}-\\x{10D65}\\x{10D6F}-\\x{10D85}\\x{10EC2}-\\x{10EC4}\\x{1123F}-\\x{11240}"
    "\\x{11380}-\\x{11389}\\x{1138B}\\x{1138E}\\x{11390}-\\x{113B5}\\x{113B7}\\x{113D1}"
    "\\x{113D3}\\x{11BC0}-\\x{11BE0}\\x{11F02}\\x{11F04}-\\x{11F10}\\x{11F12}-\\x{11F33}"
    "\\x{1342F}\\x{13441}-\\x{13446}\\x{13460}-\\x{143FA}\\x{16100}-\\x{1611D}\\x{16D40}-"
    "\\x{16D6C}\\x{18CFF}\\x{1B132}\\x{1B155}\\x{1DF25}-\\x{1DF2A}\\x{1E030}-\\x{1E06D}"
    "\\x{1E4D0}-\\x{1E4EB}\\x{1E5D0}-\\x{1E5ED}\\x{1E5F0}\\x{2B739}\\x{2EBF0}-\\x{2EE5D}"
    "\\x{31350}-\\x{323AF}";
// \p{N}
const char* const kExtraN =
    "\\x{10D40}-\\x{10D49}\\x{116D0}-\\x{116E3}\\x{11BF0}-\\x{11BF9}\\x{11F50}-\\x{11F59}"
    "\\x{16130}-\\x{16139}\\x{16D70}-\\x{16D79}\\x{1CCF0}-\\x{1CCF9}\\x{1D2C0}-\\x{1D2D3}"
    "\\x{1E4F0}-\\x{1E4F9}\\x{1E5F1}-\\x{1E5FA}";
// \p{P}
const char* const kExtraP =
    "\\x{1B4E}-\\x{1B4F}\\x{1B7F}\\x{10D6E}\\x{113D4}-\\x{113D5}\\x{113D7}-\\x{113D8}"
    "\\x{11B00}-\\x{11B09}\\x{11BE1}\\x{11F43}-\\x{11F4F}\\x{16D6D}-\\x{16D6F}\\x{1E5FF}";
// \p{S}
const char* const kExtraS =
    "\\x{2427}-\\x{2429}\\x{2FFC}-\\x{2FFF}\\x{31E4}-\\x{31E5}\\x{31EF}\\x{10D8E}-"
    "\\x{10D8F}\\x{1CC00}-\\x{1CCEF}\\x{1CD00}-\\x{1CEB3}\\x{1F6DC}\\x{1F774}-\\x{1F776}"
    "\\x{1F77B}-\\x{1F77F}\\x{1F7D9}\\x{1F8B2}-\\x{1F8BB}\\x{1F8C0}-\\x{1F8C1}\\x{1FA75}-"
    "\\x{1FA77}\\x{1FA87}-\\x{1FA89}\\x{1FA8F}\\x{1FAAD}-\\x{1FAAF}\\x{1FABB}-\\x{1FABF}"
    "\\x{1FAC6}\\x{1FACE}-\\x{1FACF}\\x{1FADA}-\\x{1FADC}\\x{1FADF}\\x{1FAE8}-\\x{1FAE9}"
    "\\x{1FAF7}-\\x{1FAF8}\\x{1FBCB}-\\x{1FBEF}";
// \p{M}
const char* const kExtraM =
    "\\x{897}\\x{CF3}\\x{ECE}\\x{10D69}-\\x{10D6D}\\x{10EFC}-\\x{10EFF}\\x{11241}"
    "\\x{113B8}-\\x{113C0}\\x{113C2}\\x{113C5}\\x{113C7}-\\x{113CA}\\x{113CC}-\\x{113D0}"
    "\\x{113D2}\\x{113E1}-\\x{113E2}\\x{11F00}-\\x{11F01}\\x{11F03}\\x{11F34}-\\x{11F3A}"
    "\\x{11F3E}-\\x{11F42}\\x{11F5A}\\x{13440}\\x{13447}-\\x{13455}\\x{1611E}-\\x{1612F}"
    "\\x{1E08F}\\x{1E4EC}-\\x{1E4EF}\\x{1E5EE}-\\x{1E5EF}";

const char* extra_for(char property) {
  switch (property) {
    case 'L':
      return kExtraL;
    case 'N':
      return kExtraN;
    case 'P':
      return kExtraP;
    case 'S':
      return kExtraS;
    case 'M':
      return kExtraM;
    default:
      return nullptr;
  }
}

}  // namespace

std::string translate_onig(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 64);
  bool in_class = false;
  size_t i = 0;
  while (i < p.size()) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char e = p[i + 1];
      if (e == 'Q') {  // \Q...\E: copied verbatim
        const size_t end = p.find("\\E", i + 2);
        const size_t stop = end == std::string_view::npos ? p.size() : end + 2;
        out.append(p.substr(i, stop - i));
        i = stop;
        continue;
      }
      if (e == 's') {
        out += in_class ? std::string(kWhiteSpace) : "[" + std::string(kWhiteSpace) + "]";
        i += 2;
        continue;
      }
      if (e == 'S' && !in_class) {
        out += "[^" + std::string(kWhiteSpace) + "]";
        i += 2;
        continue;
      }
      if (e == 'p') {
        // \p{X} or \pX for a one-letter general category with newer characters.
        char prop = 0;
        size_t len = 0;
        if (i + 4 < p.size() && p[i + 2] == '{' && p[i + 4] == '}') {
          prop = p[i + 3], len = 5;
        } else if (i + 2 < p.size() && p[i + 2] != '{' && p[i + 2] != '^') {
          prop = p[i + 2], len = 3;
        }
        if (const char* extra = prop ? extra_for(prop) : nullptr) {
          const std::string cls = std::string("\\p{") + prop + "}" + extra;
          out += in_class ? cls : "[" + cls + "]";
          i += len;
          continue;
        }
      }
      out.append(p.substr(i, 2));
      i += 2;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out.push_back(c);
      ++i;
      if (i < p.size() && p[i] == '^') out.push_back(p[i++]);
      if (i < p.size() && p[i] == ']') out.push_back(p[i++]);  // a leading ] is literal
      continue;
    }
    if (in_class && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {  // [:alpha:]
      const size_t end = p.find(":]", i + 2);
      const size_t stop = end == std::string_view::npos ? i + 1 : end + 2;
      out.append(p.substr(i, stop - i));
      i = stop;
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out.push_back(c);
    ++i;
  }
  return out;
}

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof(buf));
  return std::string(reinterpret_cast<const char*>(buf));
}

}  // namespace

Result<std::unique_ptr<Regex>> Regex::compile(std::string_view pattern) {
  if (!is_valid_utf8(pattern)) return invalid_argument("regex pattern is not valid UTF-8");
  std::unique_ptr<Regex> re(new Regex(std::string(pattern)));
  const std::string translated = translate_onig(pattern);
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
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

std::string Regex::replace_all(std::string_view text, std::string_view content) const {
  std::vector<Span> matches;
  find_all(text, &matches);
  if (matches.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t prev = 0;
  for (const auto& [b, e] : matches) {
    out.append(text.substr(prev, b - prev));
    out.append(content);
    prev = e;
  }
  out.append(text.substr(prev));
  return out;
}

}  // namespace radix::tok
