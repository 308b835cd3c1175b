// Jinja lexer and parser: whitespace control as transformers configures Jinja
// (trim_blocks, lstrip_blocks, `-`/`+`), comments, raw blocks, literals, and syntax
// errors reported with line and column at load.
#include <gtest/gtest.h>

#include <string>

#include "tests/unit/tokenizer/jinja_test_util.h"

namespace radix::jinja {
namespace {

using testing::parse_error;
using testing::render;
using testing::render_error;

TEST(JinjaWhitespace, TrimBlocksDropsTheNewlineAfterABlockTag) {
  EXPECT_EQ(render("{% if true %}\nyes\n{% endif %}\nafter"), "yes\nafter");
}

TEST(JinjaWhitespace, TrimBlocksKeepsTheNewlineAfterAVariable) {
  EXPECT_EQ(render("a {{ 'b' }}\nc"), "a b\nc");
}

TEST(JinjaWhitespace, LstripBlocksRemovesIndentBeforeBlockTagsOnly) {
  EXPECT_EQ(render("  {% if true %}\n  x\n  {% endif %}\n"), "  x\n");
  EXPECT_EQ(render("  {{ 'v' }}"), "  v");
  EXPECT_EQ(render("x {% if true %}y{% endif %}"), "x y");  // not at line start
}

TEST(JinjaWhitespace, MinusStripsAllWhitespaceOnThatSide) {
  EXPECT_EQ(render("a  \n {%- if true -%} \n b \n {%- endif -%}\n  c"), "abc");
  EXPECT_EQ(render("a \n {{- 'b' -}} \n c"), "abc");
  EXPECT_EQ(render("a \t\n{{- 'b' }} c"), "ab c");
}

TEST(JinjaWhitespace, PlusDisablesLstripAndTrim) {
  EXPECT_EQ(render("  {%+ if true %}x{% endif %}"), "  x");
  EXPECT_EQ(render("{% if true +%}\nx{% endif %}"), "\nx");
}

TEST(JinjaWhitespace, CommentsRenderNothingAndFollowBlockRules) {
  EXPECT_EQ(render("a {# comment {{ x }} #} b"), "a  b");
  EXPECT_EQ(render("  {# c #}\nx"), "x");
  EXPECT_EQ(render("a {#- c -#}  b"), "ab");
}

TEST(JinjaWhitespace, OneTrailingNewlineIsDroppedAndCrLfIsNormalized) {
  EXPECT_EQ(render("x\n\n"), "x\n");
  EXPECT_EQ(render("a\r\nb\rc"), "a\nb\nc");
}

TEST(JinjaSyntax, RawBlockIsLiteralText) {
  EXPECT_EQ(render("{% raw %}{{ x }}{% if %}{% endraw %}!"), "{{ x }}{% if %}!");
}

TEST(JinjaSyntax, StringLiteralsUsePythonEscapes) {
  EXPECT_EQ(render(R"({{ 'a\nb\t' }})"), "a\nb\t");
  EXPECT_EQ(render(R"({{ "it's" }}{{ 'say "hi"' }}{{ 'q\'s' }})"),
            "it's"
            "say \"hi\""
            "q's");
  EXPECT_EQ(render(R"({{ '\u00e9\x41' }})"),
            "\xc3\xa9"
            "A");
  EXPECT_EQ(render(R"({{ '\d' }})"), "\\d");  // unknown escapes keep the backslash
  EXPECT_EQ(render("{{ 'a' 'b' }}"), "ab");   // adjacent literals concatenate
}

TEST(JinjaSyntax, NumberLiterals) {
  EXPECT_EQ(render("{{ 1_000 }} {{ 2.5 }} {{ 1e3 }} {{ 12 }}"), "1000 2.5 1000.0 12");
}

TEST(JinjaSyntax, BracesInsideAVariableTagDoNotEndIt) {
  EXPECT_EQ(render("{{ {'a': {'b': 1}}['a']['b'] }}"), "1");
}

TEST(JinjaSyntaxErrors, UnclosedBlockNamesTheOpeningTagPosition) {
  const std::string e = parse_error("text\n  {% if x %}never closed");
  EXPECT_NE(e.find("line 2, column 3"), std::string::npos) << e;
  EXPECT_NE(e.find("'if' block is never closed"), std::string::npos) << e;
}

TEST(JinjaSyntaxErrors, BadExpressionReportsLineAndColumn) {
  const std::string e = parse_error("line1\n  {{ x + }}");
  EXPECT_NE(e.find("line 2, column 10"), std::string::npos) << e;
  EXPECT_NE(e.find("expected an expression"), std::string::npos) << e;
}

TEST(JinjaSyntaxErrors, MismatchedEndTag) {
  EXPECT_NE(
      parse_error("{% for x in y %}{% endif %}").find("unexpected 'endif', expected 'endfor'"),
      std::string::npos);
  EXPECT_NE(parse_error("{% endif %}").find("unexpected 'endif'"), std::string::npos);
}

TEST(JinjaSyntaxErrors, UnknownFiltersTestsAndTagsFailAtLoad) {
  EXPECT_NE(parse_error("{{ x | nosuch }}").find("no filter named 'nosuch'"), std::string::npos);
  EXPECT_NE(parse_error("{{ x is nosuch }}").find("no test named 'nosuch'"), std::string::npos);
  EXPECT_NE(parse_error("{% include 'a' %}").find("unsupported tag 'include'"), std::string::npos);
  EXPECT_NE(parse_error("{% frobnicate %}").find("unknown tag 'frobnicate'"), std::string::npos);
}

TEST(JinjaSyntaxErrors, UnterminatedPieces) {
  EXPECT_NE(parse_error("{{ 'abc }}").find("unterminated string"), std::string::npos);
  EXPECT_NE(parse_error("{# never closed").find("unterminated comment"), std::string::npos);
  EXPECT_NE(parse_error("{{ x ").find("expected '}}'"), std::string::npos);
  EXPECT_NE(parse_error("{% raw %}abc").find("'raw' block is never closed"), std::string::npos);
}

TEST(JinjaSyntaxErrors, BreakOutsideALoop) {
  EXPECT_NE(parse_error("{% break %}").find("outside of a loop"), std::string::npos);
  EXPECT_EQ(parse_error("{% for x in y %}{% if x %}{% break %}{% endif %}{% endfor %}"), "");
}

TEST(JinjaSyntaxErrors, DeepNestingIsAnErrorNotACrash) {
  const std::string deep = "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
  EXPECT_NE(parse_error(deep).find("nested too deeply"), std::string::npos);
  std::string blocks;
  for (int i = 0; i < 1000; ++i) blocks += "{% if true %}";
  EXPECT_NE(parse_error(blocks).find("nested too deeply"), std::string::npos);
}

TEST(JinjaSyntaxErrors, InvalidUtf8TemplateIsRejected) {
  EXPECT_NE(parse_error("ok\n\xff\xfe").find("not valid UTF-8 at line 2, column 1"),
            std::string::npos);
}

TEST(JinjaRenderErrors, CarryTheLineAndColumnOfTheFailingExpression) {
  const std::string e = render_error("a\n{{ raise_exception('boom') }}");
  EXPECT_NE(e.find("line 2, column 4"), std::string::npos) << e;
  EXPECT_NE(e.find("boom"), std::string::npos) << e;
}

}  // namespace
}  // namespace radix::jinja
