// Tests of the regex -> byte DFA compiler (runtime/constrained/regex_dfa.h): syntax,
// UTF-8 exactness of sets, quantifiers, anchors, a realistic JSON regex, can_continue,
// error messages, limits, minimization, a cross-check against std::regex on random
// ASCII patterns, and random byte strings as patterns (never a crash or a hang). The
// random tests use fixed seeds, so every run (and CI) checks the same cases; failures
// print the pattern and the input.
#include "runtime/constrained/regex_dfa.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
// GCC 12 at -O1 with ASan warns (falsely) that std::regex's internal std::function may
// be used uninitialized; the warning is raised inside <regex>'s templates.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>
#include <string>
#include <vector>

namespace radix::constrained {
namespace {

Dfa compile_ok(std::string_view pattern, const DfaLimits& limits = {}) {
  Result<Dfa> dfa = Dfa::compile(pattern, limits);
  EXPECT_TRUE(dfa.is_ok()) << "pattern: " << pattern << "\n" << dfa.status().to_string();
  if (!dfa.is_ok()) return Dfa::compile("[^\\x00-\\U0010FFFF]").value();  // matches nothing
  return std::move(dfa).value();
}

// Expects `pattern` to fail with invalid_argument and exactly `message`.
void expect_error(std::string_view pattern, const std::string& message) {
  Result<Dfa> dfa = Dfa::compile(pattern);
  ASSERT_FALSE(dfa.is_ok()) << "pattern compiled: " << pattern;
  EXPECT_EQ(dfa.status().code(), StatusCode::kInvalidArgument) << pattern;
  EXPECT_EQ(dfa.status().message(), message) << "pattern: " << pattern;
}

// Whether the pattern fully matches each text, as a compact failure report.
void expect_matches(std::string_view pattern, const std::vector<std::string>& yes,
                    const std::vector<std::string>& no) {
  Dfa dfa = compile_ok(pattern);
  for (const std::string& s : yes) EXPECT_TRUE(dfa.matches(s)) << pattern << " vs '" << s << "'";
  for (const std::string& s : no) EXPECT_FALSE(dfa.matches(s)) << pattern << " vs '" << s << "'";
}

// Reference: is `s` valid UTF-8 (strict: no overlongs, surrogates or > U+10FFFF)?
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    uint8_t b = static_cast<uint8_t>(s[i]);
    int n;
    uint32_t cp;
    if (b < 0x80) {
      ++i;
      continue;
    } else if (b >= 0xC2 && b <= 0xDF) {
      n = 2, cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      n = 3, cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      n = 4, cp = b & 0x07;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (int k = 1; k < n; ++k) {
      uint8_t c = static_cast<uint8_t>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n;
  }
  return true;
}

// `s` with non-printable bytes as \xHH, for failure messages about random bytes.
std::string escaped(std::string_view s) {
  std::string out;
  for (char c : s) {
    uint8_t b = static_cast<uint8_t>(c);
    if (b >= 0x20 && b < 0x7F && b != '\\') {
      out += c;
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  }
  return out;
}

std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

TEST(RegexDfa, MatchesLiteralsExactly) {
  expect_matches("abc", {"abc"}, {"", "ab", "abcd", "abd", "xabc"});
  expect_matches("", {""}, {"a"});
  expect_matches("héllo中😀", {"héllo中😀"}, {"hello中😀", "héllo中"});
  expect_matches("a]b}c", {"a]b}c"}, {"ab"});
  std::string with_nul("a\0b", 3);
  expect_matches(with_nul, {with_nul}, {"ab"});
}

TEST(RegexDfa, MatchesClassesAndRanges) {
  expect_matches("[abc]", {"a", "b", "c"}, {"", "d", "ab"});
  expect_matches("[a-cx-z0-9]+", {"abc", "x9z", "0"}, {"", "d", "abcd"});
  expect_matches("[-a]", {"-", "a"}, {"b"});
  expect_matches("[a-]", {"-", "a"}, {"b"});
  expect_matches("[]a]", {"]", "a"}, {"b"});
  expect_matches("[^]a]", {"b", "é"}, {"]", "a"});
  expect_matches(R"([\]\\\-\^])", {"]", "\\", "-", "^"}, {"a"});
  expect_matches(R"([\d\s_])", {"7", " ", "\t", "_"}, {"a"});
  expect_matches(R"([\x41-\x43\n])", {"A", "C", "\n"}, {"D"});
  expect_matches("[à-ÿ]", {"à", "é", "ÿ"}, {"e", "a", "Ā"});
  expect_matches(R"([\u4e00-\u9fff]+)", {"中", "中文字"}, {"", "a", "中a", "ぁ"});
  expect_matches(R"([\U0001F600-\U0001F64F])", {"😀", "🙏"}, {"🚀", "a"});
  expect_matches("[(){}|*+?.$]+", {"(){}|*+?.$"}, {"a"});
}

TEST(RegexDfa, NegatedClassesMatchWholeUtf8CharactersOnly) {
  Dfa dfa = compile_ok("[^a]");
  for (std::string s : {"b", "é", "中", "😀", "\n", "\x7f"}) EXPECT_TRUE(dfa.matches(s)) << s;
  for (std::string s : {"a", "", "bb", "\x80", "\xc3", "\xe4\xb8", "\xed\xa0\x80", "\xc0\xaf",
                        "\xf4\x90\x80\x80", "\xff"}) {
    EXPECT_FALSE(dfa.matches(s)) << s;
  }
  expect_matches(R"(\D\W\S)", {"éé中", "a b", "a\tb"}, {"1ab", "aab", "a\t\t"});
  expect_matches(R"([^\x00-\U0010FFFF])", {}, {"", "a", "é"});
}

TEST(RegexDfa, DotMatchesEveryCodePointButNewline) {
  Dfa dfa = compile_ok(".");
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    ASSERT_EQ(dfa.matches(utf8(cp)), cp != '\n') << "U+" << std::hex << cp;
  }
}

TEST(RegexDfa, NeverAcceptsInvalidUtf8) {
  // Every 1- and 2-byte string exhaustively, then random longer ones.
  Dfa dfa = compile_ok("[^\\n]*");
  std::string s;
  for (int a = 0; a < 256; ++a) {
    s.assign(1, static_cast<char>(a));
    ASSERT_EQ(dfa.matches(s), valid_utf8(s) && a != '\n') << a;
    for (int b = 0; b < 256; ++b) {
      s.assign({static_cast<char>(a), static_cast<char>(b)});
      ASSERT_EQ(dfa.matches(s), valid_utf8(s) && a != '\n' && b != '\n') << a << " " << b;
    }
  }
  std::mt19937 rng(20240601);
  const uint8_t interesting[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0,
                                 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xed,
                                 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff};
  Dfa star = compile_ok("(.|\\n)*");
  for (int iter = 0; iter < 100000; ++iter) {
    s.clear();
    int len = 3 + static_cast<int>(rng() % 6);
    for (int i = 0; i < len; ++i) {
      s += static_cast<char>(rng() % 2 ? interesting[rng() % sizeof(interesting)] : rng() % 256);
    }
    ASSERT_EQ(star.matches(s), valid_utf8(s)) << "text '" << escaped(s) << "'";
  }
}

TEST(RegexDfa, SupportsAllEscapes) {
  expect_matches(R"(\d\w\s)", {"1a ", "9_\n", "0Z\t", "5z\r", "5z\f", "5z\v"}, {"aa ", "1- "});
  expect_matches(R"(\n\t\r\f\v\0\a)", {"\n\t\r\f\v" + std::string(1, '\0') + "\a"}, {"n"});
  expect_matches(R"(\x41\u00e9\U0001F600\101\0101)", {"Aé😀A\b1"},
                 {"Aé😀AA"});  // \0 takes two more octal digits at most
  expect_matches(R"(\.\\\/\"\(\)\[\]\{\}\*\+\?\|\^\$\-\,\ \é\:\#\&\~)",
                 {R"(.\/"()[]{}*+?|^$-, é:#&~)"}, {"a"});
}

TEST(RegexDfa, AsciiShorthandsAreNotUnicodeAware) {
  // Python's \d and \w match Unicode digits and letters on str; ours are ASCII only.
  expect_matches(R"(\d)", {"0", "9"}, {"٣", "a"});
  expect_matches(R"(\w)", {"a", "Z", "_", "5"}, {"é", "中", "-"});
  expect_matches(R"(\s)", {" ", "\t", "\n", "\r", "\f", "\v"}, {"\u00a0", "a"});
}

TEST(RegexDfa, HonoursQuantifierBounds) {
  expect_matches("a{2,3}", {"aa", "aaa"}, {"", "a", "aaaa"});
  expect_matches("a{2}", {"aa"}, {"a", "aaa"});
  expect_matches("a{2,}", {"aa", "aaaaaaa"}, {"a"});
  expect_matches("a{,2}", {"", "a", "aa"}, {"aaa"});
  expect_matches("a{0}b", {"b"}, {"ab"});
  expect_matches("a{0,0}", {""}, {"a"});
  expect_matches("a*", {"", "a", "aaaa"}, {"b"});
  expect_matches("a+", {"a", "aaaa"}, {""});
  expect_matches("a?b", {"b", "ab"}, {"aab"});
  expect_matches("(ab){1,2}c", {"abc", "ababc"}, {"c", "abababc"});
  expect_matches("é{2}", {"éé"}, {"é", "\xc3\xa9\xa9"});
  // '{' that does not start a quantifier is a literal, as in Python.
  expect_matches("a{}", {"a{}"}, {"a"});
  expect_matches("a{x}", {"a{x}"}, {"a"});
  expect_matches("a{1,2", {"a{1,2"}, {"a"});
  expect_matches("{\"a\"}", {"{\"a\"}"}, {});
}

TEST(RegexDfa, LazyQuantifiersHaveTheSameLanguage) {
  expect_matches("a*?b", {"b", "aab"}, {"a"});
  expect_matches("a+?", {"a", "aa"}, {""});
  expect_matches("a??", {"", "a"}, {"aa"});
  expect_matches("a{1,2}?", {"a", "aa"}, {"", "aaa"});
}

TEST(RegexDfa, AlternationAllowsEmptyBranches) {
  expect_matches("(a|)b", {"ab", "b"}, {"a"});
  expect_matches("a|", {"a", ""}, {"aa"});
  expect_matches("|a", {"a", ""}, {"b"});
  expect_matches("(|)", {""}, {"a"});
  expect_matches("cat|dog|", {"cat", "dog", ""}, {"catdog"});
}

TEST(RegexDfa, SupportsNestedNamedAndNonCapturingGroups) {
  expect_matches("((a|b)(c(d)?)+)*", {"", "ac", "acdcc", "bcac"}, {"a", "cd"});
  expect_matches("(?P<x>ab)+(?<y>c)", {"abc", "ababc"}, {"c"});
  expect_matches("(?:ab|cd){2}", {"abcd", "cdcd"}, {"ab"});
  expect_matches("a(?#a comment)*b", {"b", "aab"}, {"a"});
}

TEST(RegexDfa, IgnoresAnchorsAtTheEnds) {
  expect_matches("^abc$", {"abc"}, {"", "abcabc"});
  expect_matches("^a|b$", {"a", "b"}, {"ab"});
  expect_matches(R"(\Aab\Z)", {"ab"}, {"a"});
  expect_matches(R"(a\$)", {"a$"}, {"a"});
  expect_matches("^$", {""}, {"a"});
}

// The brief's example: {"name": <string>, "age": <integer>} with optional single spaces.
constexpr std::string_view kJsonRegex =
    R"(\{[ ]?"name"[ ]?:[ ]?"([^"\\\x00-\x1f]|\\["\\/bfnrt])*"[ ]?,)"
    R"([ ]?"age"[ ]?:[ ]?(-)?(0|[1-9][0-9]*)[ ]?\})";

TEST(RegexDfa, MatchesJsonObjectsOfASchema) {
  Dfa dfa = compile_ok(kJsonRegex);
  for (std::string s : {R"({"name":"Bob","age":42})", R"({ "name" : "A\"b\\n" , "age" : -0 })",
                        R"({"name":"José 中文 😀","age":0})", R"({"name":"","age":-1230})"}) {
    EXPECT_TRUE(dfa.matches(s)) << s;
  }
  const std::vector<std::string> invalid = {
      R"({"name":"Bob","age":042})",     // leading zero
      R"({"name":"Bob,"age":1})",        // unterminated string
      "{\"name\":\"Bo\nb\",\"age\":1}",  // raw control character in a string
      R"({"name":"\x","age":1})",        // bad escape
      R"({"name":"Bob","age":1} )",      // trailing text
      "{\"name\":\"Bob\",\"age\":1}\xff",
      R"({"name":"Bob",  "age":1})",    // two spaces
      R"({"age":1,"name":"Bob"})",      // wrong order
      "{\"name\":\"\xc3\",\"age\":1}",  // truncated UTF-8 in a string
  };
  for (const std::string& s : invalid) EXPECT_FALSE(dfa.matches(s)) << s;
}

TEST(RegexDfa, AcceptsOutlinesStyleJsonPieces) {
  // The building blocks outlines emits for strings, numbers and common formats.
  const std::string string_inner = R"(([^"\\\x00-\x1F\x7F-\x9F]|\\["\\]))";
  const std::string number = R"(((-)?(0|[1-9][0-9]*))(\.[0-9]+)?([eE][+-][0-9]+)?)";
  expect_matches("\"" + string_inner + "*\"", {R"("a\"b")", R"("")", "\"é\""},
                 {R"("a\nb")", "\"\x7f\"", "\"\xc2\x85\""});
  expect_matches(number, {"0", "-12.5", "1e+10", "3.0E-2"}, {"01", "1.", "1e5", "+1"});
  expect_matches(R"([\n ]*\[([\n ]*)?(?:"a"|"b")(,[\n ]*(?:"a"|"b")){0,2}[\n ]*\])",
                 {R"(["a"])", "[\n \"a\", \"b\",\"a\"]"}, {R"([])", R"(["a","a","a","a"])"});
  expect_matches(R"("(-?(?:[1-9][0-9]*)?[0-9]{4})-(1[0-2]|0[1-9])-(3[01]|0[1-9]|[12][0-9]))"
                 R"(T(2[0-3]|[01][0-9]):([0-5][0-9]):([0-5][0-9])(\.[0-9]{3})?(Z)?")",
                 {R"("2024-02-29T23:59:07Z")", R"("1999-12-31T00:00:00.123")"},
                 {R"("2024-13-01T00:00:00Z")"});
  expect_matches(R"("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")",
                 {R"("123e4567-e89b-12d3-a456-426614174000")"},
                 {R"("123e4567-e89b-12d3-a456-42661417400")"});
}

TEST(RegexDfa, CanContinueTellsWhetherMoreInputCanStillMatch) {
  Dfa dfa = compile_ok("ab?");
  int32_t s = dfa.next(dfa.start(), 'a');
  EXPECT_TRUE(dfa.accepting(s));
  EXPECT_TRUE(dfa.can_continue(s));  // "ab" is still possible
  s = dfa.next(s, 'b');
  EXPECT_TRUE(dfa.accepting(s));
  EXPECT_FALSE(dfa.can_continue(s));  // must end here
  EXPECT_EQ(dfa.next(s, 'b'), Dfa::kDead);
  EXPECT_EQ(dfa.next(Dfa::kDead, 'a'), Dfa::kDead);
  EXPECT_FALSE(dfa.can_continue(Dfa::kDead));
  EXPECT_FALSE(dfa.accepting(Dfa::kDead));
  EXPECT_TRUE(dfa.can_continue(dfa.start()));
  EXPECT_FALSE(dfa.accepting(dfa.start()));

  // A state from which only a dead end follows is pruned to kDead at once.
  Dfa pruned = compile_ok("a(b[^\\x00-\\U0010FFFF]|c)");
  int32_t after_a = pruned.next(pruned.start(), 'a');
  EXPECT_EQ(pruned.next(after_a, 'b'), Dfa::kDead);
  EXPECT_NE(pruned.next(after_a, 'c'), Dfa::kDead);

  Dfa json = compile_ok(kJsonRegex);
  std::string text = R"({"name":"x","age":7)";
  int32_t t = json.start();
  for (char c : text) t = json.next(t, static_cast<uint8_t>(c));
  EXPECT_FALSE(json.accepting(t));
  EXPECT_TRUE(json.can_continue(t));
  t = json.next(t, '}');
  EXPECT_TRUE(json.accepting(t));
  EXPECT_FALSE(json.can_continue(t));
}

TEST(RegexDfa, ExplainsMalformedPatternsWithOffsets) {
  expect_error("abc(d))", "regex: unbalanced ')' at offset 6");
  expect_error("(ab", "regex: missing ')' for the group opened at offset 0");
  expect_error("[z-a]", "regex: bad character range z-a at offset 1");
  expect_error(R"([\d-z])", R"(regex: bad character range \d-z at offset 1)");
  expect_error("[abc", "regex: unterminated character set at offset 0");
  expect_error("ab\\", "regex: dangling '\\' at the end of the pattern at offset 2");
  expect_error("*a", "regex: nothing to repeat before '*' at offset 0");
  expect_error("a|+", "regex: nothing to repeat before '+' at offset 2");
  expect_error("({2}a)", "regex: nothing to repeat before '{2}' at offset 1");
  expect_error("^*", "regex: nothing to repeat before '*' at offset 1");
  expect_error("a**", "regex: multiple repeat '*' at offset 2");
  expect_error("a{2}{3}", "regex: multiple repeat '{3}' at offset 4");
  expect_error("a*+", "regex: possessive quantifier '*+' is not supported at offset 1");
  expect_error("x{3,2}", "regex: min repeat greater than max repeat in '{3,2}' at offset 1");
  expect_error("(?=a)", "regex: lookahead assertions ('(?=') are not supported at offset 0");
  expect_error("b(?!a)", "regex: lookahead assertions ('(?!') are not supported at offset 1");
  expect_error("(?<=a)b", "regex: lookbehind assertions ('(?<=') are not supported at offset 0");
  expect_error("(?i)a", "regex: inline flags ('(?i...') are not supported at offset 0");
  expect_error("(a)\\1", "regex: backreferences ('\\1') are not supported at offset 3");
  expect_error("(?P<n>a)(?P=n)",
               "regex: backreferences ('(?P=name)') are not supported at offset 8");
  expect_error("(?P<1>a)", "regex: bad group name '1' at offset 4");
  expect_error("a^b", "regex: unsupported '^' (only allowed as the first character) at offset 1");
  expect_error("a$b", "regex: unsupported '$' (only allowed as the last character) at offset 1");
  expect_error("\\bword", "regex: word boundaries ('\\b') are not supported at offset 0");
  expect_error("\\q", "regex: bad escape '\\q' at offset 0");
  expect_error("\\x4", "regex: incomplete escape '\\x4' (expects 2 hex digits) at offset 0");
  expect_error("\\U00110000", "regex: escape '\\U00110000' is beyond U+10FFFF at offset 0");
  expect_error("a\xff", "regex: invalid UTF-8 in the pattern at offset 1");
  expect_error("[\xc3]", "regex: invalid UTF-8 in the pattern at offset 1");
}

TEST(RegexDfa, EnforcesTheStateLimit) {
  // The classic exponential blow-up: the 21st symbol from the end must be 'a'.
  expect_error("(a|b)*a(a|b){20}", "regex: too complex: more than 20000 DFA states");
  DfaLimits tight;
  tight.max_states = 5;
  Result<Dfa> dfa = Dfa::compile("abcdefgh", tight);
  ASSERT_FALSE(dfa.is_ok());
  EXPECT_EQ(dfa.status().message(), "regex: too complex: more than 5 DFA states");
  EXPECT_TRUE(Dfa::compile("abcd", tight).is_ok());

  Result<Dfa> huge = Dfa::compile("(a{1000}){1000}");
  ASSERT_FALSE(huge.is_ok());
  EXPECT_EQ(huge.status().message().rfind("regex: too large:", 0), 0u) << huge.status().message();
  EXPECT_FALSE(Dfa::compile("a{0,1000000000}").is_ok());
  EXPECT_FALSE(Dfa::compile("(){99999999999}").is_ok());

  // Few DFA states but huge subsets: the work budget stops it.
  Result<Dfa> wide = Dfa::compile("(a?){20000}");
  ASSERT_FALSE(wide.is_ok());
  EXPECT_EQ(wide.status().message().rfind("regex: too complex:", 0), 0u) << wide.status().message();
}

TEST(RegexDfa, LimitsGroupNesting) {
  std::string ok = std::string(500, '(') + "a" + std::string(500, ')');
  EXPECT_TRUE(compile_ok(ok).matches("a"));
  std::string deep = std::string(501, '(') + "a" + std::string(501, ')');
  expect_error(deep, "regex: groups nested more than 500 deep at offset 500");
  expect_error(std::string(100000, '('), "regex: groups nested more than 500 deep at offset 500");
}

TEST(RegexDfa, CompilesLargeCountedRepetitions) {
  Dfa dfa = compile_ok(R"("[^"]{0,1000}")");
  std::string text = "\"";
  for (int i = 0; i < 1000; ++i) text += i % 2 ? "é" : "a";
  EXPECT_TRUE(dfa.matches(text + "\""));
  EXPECT_FALSE(dfa.matches(text + "a\""));
  EXPECT_TRUE(dfa.matches("\"中\""));
  // About 8 states per position: one between characters, seven inside multi-byte ones.
  EXPECT_LT(dfa.num_states(), 8100);
}

TEST(RegexDfa, MinimizesEquivalentStates) {
  EXPECT_EQ(compile_ok("(a|b)*abb").num_states(), 4);
  EXPECT_EQ(compile_ok("(a|b)*").num_states(), 1);
  EXPECT_EQ(compile_ok("a*a*a*").num_states(), 1);
  EXPECT_EQ(compile_ok("(ab|ab|ab)c").num_states(), 4);
  EXPECT_EQ(compile_ok("x{3,5}").num_states(), 6);
  Dfa empty = compile_ok("a[^\\x00-\\U0010FFFF]");  // the empty language
  EXPECT_EQ(empty.num_states(), 1);
  EXPECT_FALSE(empty.accepting(empty.start()));
  EXPECT_FALSE(empty.can_continue(empty.start()));
  EXPECT_EQ(empty.next(empty.start(), 'a'), Dfa::kDead);
  Dfa unset;  // default-constructed: also the empty language, and safe to query
  EXPECT_EQ(unset.num_states(), 1);
  EXPECT_FALSE(unset.matches(""));
  EXPECT_EQ(unset.next(unset.start(), 'a'), Dfa::kDead);
}

// Random patterns over {a, b, c} from a small grammar, valid in both syntaxes. An
// unbounded quantifier never wraps another quantifier: libstdc++'s backtracking std::regex
// takes exponential time on such nests.
std::string random_pattern(std::mt19937& rng, int depth, bool* quantified) {
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  static const char* kAtoms[] = {"a", "b", "c", ".", "[ab]", "[^a]", "[a-b]", "(?:ab)"};
  static const char* kQuantifiers[] = {"?", "{0,2}", "{2}", "??", "{1,2}?", "*", "+", "{1,}", "*?"};
  constexpr int kBounded = 5;  // the first five
  bool left = false, right = false;
  std::string out;
  switch (depth <= 0 ? pick(2) : pick(6)) {
    case 0:
      return kAtoms[pick(8)];
    case 1:
      *quantified = true;
      return std::string(kAtoms[pick(8)]) + kQuantifiers[pick(9)];
    case 2:
      out = random_pattern(rng, depth - 1, &left) + random_pattern(rng, depth - 1, &right);
      break;
    case 3:
      out = "(" + random_pattern(rng, depth - 1, &left) + "|" +
            random_pattern(rng, depth - 1, &right) + ")";
      break;
    case 4:
      out = "(" + random_pattern(rng, depth - 1, &left) + ")";
      out += kQuantifiers[pick(left ? kBounded : 9)];
      left = true;
      break;
    default:
      out = "(" + random_pattern(rng, depth - 1, &left) + "|)";
      break;
  }
  *quantified = *quantified || left || right;
  return out;
}

TEST(RegexDfa, AgreesWithStdRegexOnRandomPatterns) {
  std::mt19937 rng(1234);
  std::vector<std::string> texts = {""};
  for (size_t i = 0; i < texts.size() && texts[i].size() < 4; ++i) {  // all up to length 4
    for (char c : std::string("abc")) texts.push_back(texts[i] + c);
  }
  for (int i = 0; i < 40; ++i) {
    std::string s;
    for (int n = 5 + static_cast<int>(rng() % 4); n > 0; --n) s += "abc"[rng() % 3];
    texts.push_back(s);
  }
  int matched = 0;
  for (int iter = 0; iter < 30; ++iter) {
    bool quantified = false;
    std::string pattern = random_pattern(rng, 3, &quantified);
    Dfa dfa = compile_ok(pattern);
    std::regex reference(pattern, std::regex::ECMAScript);
    for (const std::string& text : texts) {
      bool expected = std::regex_match(text, reference);
      matched += expected;
      ASSERT_EQ(dfa.matches(text), expected) << "pattern '" << pattern << "' text '" << text << "'";
    }
  }
  EXPECT_GT(matched, 0);
}

// Moore's refinement over the compiled table: the number of classes of
// indistinguishable states, which equals num_states() iff the DFA is minimal.
int count_equivalence_classes(const Dfa& dfa) {
  const int32_t n = dfa.num_states();
  std::vector<int32_t> cls(n);
  for (int32_t s = 0; s < n; ++s) cls[s] = dfa.accepting(s) ? 1 : 0;
  int count = 0;
  while (true) {
    std::map<std::vector<int32_t>, int32_t> ids;
    std::vector<int32_t> next(n);
    for (int32_t s = 0; s < n; ++s) {
      std::vector<int32_t> signature = {cls[s]};
      for (int b = 0; b < 256; ++b) {
        int32_t t = dfa.next(s, static_cast<uint8_t>(b));
        signature.push_back(t == Dfa::kDead ? -1 : cls[t]);
      }
      next[s] = ids.try_emplace(signature, static_cast<int32_t>(ids.size())).first->second;
    }
    if (static_cast<int>(ids.size()) == count) return count;
    count = static_cast<int>(ids.size());
    cls = next;
  }
}

TEST(RegexDfa, ProducesMinimalDfas) {
  std::mt19937 rng(5678);
  for (int iter = 0; iter < 40; ++iter) {
    bool quantified = false;
    std::string pattern = random_pattern(rng, 4, &quantified);
    Dfa dfa = compile_ok(pattern);
    EXPECT_EQ(count_equivalence_classes(dfa), dfa.num_states()) << pattern;
  }
  Dfa json = compile_ok(kJsonRegex);
  EXPECT_EQ(count_equivalence_classes(json), json.num_states());
}

TEST(RegexDfa, SurvivesRandomBytesAsPatterns) {
  std::mt19937 rng(91011);
  const std::string alphabet = R"(()[]{}|*+?.^$\-,:=!<>P#dDwWsSxuU0123456789abcé)";
  DfaLimits limits;
  limits.max_states = 2000;
  int compiled = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int iter = 0; iter < 3000; ++iter) {
    std::string pattern;
    for (int n = static_cast<int>(rng() % 24); n > 0; --n) {
      pattern += rng() % 8 ? alphabet[rng() % alphabet.size()] : static_cast<char>(rng() % 256);
    }
    SCOPED_TRACE("pattern '" + escaped(pattern) + "'");
    Result<Dfa> dfa = Dfa::compile(pattern, limits);
    if (!dfa.is_ok()) {
      EXPECT_EQ(dfa.status().code(), StatusCode::kInvalidArgument);
      EXPECT_EQ(dfa.status().message().rfind("regex: ", 0), 0u) << dfa.status().message();
      continue;
    }
    ++compiled;
    ASSERT_GE(dfa->num_states(), 1);
    for (int32_t s = 0; s < dfa->num_states(); ++s) {
      for (int b = 0; b < 256; ++b) {
        int32_t t = dfa->next(s, static_cast<uint8_t>(b));
        ASSERT_TRUE(t == Dfa::kDead || (t >= 0 && t < dfa->num_states()));
      }
    }
    std::string text;
    for (int n = static_cast<int>(rng() % 8); n > 0; --n) text += alphabet[rng() % alphabet.size()];
    (void)dfa->matches(text);
  }
  EXPECT_GT(compiled, 100);  // the generator reaches the compiler, not only the errors
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(seconds, 20.0);
}

}  // namespace
}  // namespace radix::constrained
