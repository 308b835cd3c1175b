// Jinja filters, tests and methods of strings and dicts, with the outputs Python Jinja2
// (and transformers' own tojson) give.
#include <gtest/gtest.h>

#include <string>

#include "tests/unit/tokenizer/jinja_test_util.h"

namespace radix::jinja {
namespace {

using nlohmann::ordered_json;
using testing::render;
using testing::render_error;

TEST(JinjaFilters, StringCase) {
  EXPECT_EQ(render("{{ '  a b \n' | trim }}|{{ 'xxhixx' | trim('x') }}"), "a b|hi");
  EXPECT_EQ(render("{{ 'hello wORLD-foo (bar)' | title }} {{ 'hELLO World' | capitalize }}"),
            "Hello World-Foo (Bar) Hello world");
  EXPECT_EQ(render("{{ 'Ab\xc3\xa9' | upper }} {{ 'AB\xc3\x89' | lower }}"),
            "AB\xc3\x89 ab\xc3\xa9");
}

TEST(JinjaFilters, LengthCountsCodePoints) {
  EXPECT_EQ(render("{{ 'h\xc3\xa9llo\xf0\x9f\x8c\x8d' | length }} {{ [1, 2] | count }} {{ {'a': 1} "
                   "| length }}"),
            "6 2 1");
  EXPECT_NE(render_error("{{ 5 | length }}").find("has no len()"), std::string::npos);
}

TEST(JinjaFilters, DefaultAndJoin) {
  EXPECT_EQ(
      render("{{ missing | default('d') }} {{ none | default('d') }} {{ '' | default('d', true) }} "
             "{{ missing | d('x') }}"),
      "d None d x");
  EXPECT_EQ(render("{{ [1, 'a', none] | join(', ') }} {{ ['a', 'b'] | join }}"), "1, a, None ab");
  EXPECT_EQ(render("{{ xs | join('|', attribute='n') }}", {{"xs", {{{"n", 1}}, {{"n", 2}}}}}),
            "1|2");
}

TEST(JinjaFilters, SequenceHelpers) {
  EXPECT_EQ(render("{{ [1, 2, 3] | first }}{{ [1, 2, 3] | last }}{{ 'abc' | first }} {{ [] | first "
                   "is defined }}"),
            "13a False");
  EXPECT_EQ(render("{{ 'ab' | list }} {{ [1, 2, 3] | reverse | list }} {{ 'abc' | reverse }}"),
            "['a', 'b'] [3, 2, 1] cba");
  EXPECT_EQ(render("{{ ['b', 'C', 'a'] | sort }} {{ ['a', 'A', 'b', 'a'] | unique | list }} "
                   "{{ [3, 1, 2] | sort(reverse=true) }}"),
            "['a', 'b', 'C'] ['a', 'b'] [3, 2, 1]");
  EXPECT_EQ(render("{{ xs | sort(attribute='n') | map(attribute='n') | list }}",
                   {{"xs", {{{"n", 3}}, {{"n", 1}}, {{"n", 2}}}}}),
            "[1, 2, 3]");
  EXPECT_EQ(render("{{ [1, 2, 3] | sum }} {{ [3, 1, 2] | max }} {{ [3, 1, 2] | min }}"), "6 3 1");
}

TEST(JinjaFilters, SelectRejectAndMap) {
  const ordered_json ctx = {{"xs", {{{"role", "system"}}, {{"role", "user"}, {"content", "hi"}}}}};
  EXPECT_EQ(render("{{ xs | selectattr('role', 'equalto', 'user') | list | length }} "
                   "{{ xs | rejectattr('role', 'eq', 'user') | map(attribute='role') | join }} "
                   "{{ xs | selectattr('content') | list | length }} "
                   "{{ xs | map(attribute='content', default='-') | join(',') }}",
                   ctx),
            "1 system 1 -,hi");
  EXPECT_EQ(
      render("{{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3, 4] | reject('odd') | list }} "
             "{{ ['a', 'b'] | map('upper') | list }}"),
      "[1, 3] [2, 4] ['A', 'B']");
}

TEST(JinjaFilters, DictItemsAndDictsort) {
  EXPECT_EQ(render("{% for k, v in {'z': 1, 'a': 2} | items %}{{ k }}{{ v }}{% endfor %}"), "z1a2");
  EXPECT_EQ(render("{% for k, v in {'b': 2, 'a': 1} | dictsort %}{{ k }}{{ v }}{% endfor %}"),
            "a1b2");
}

TEST(JinjaFilters, NumberConversions) {
  EXPECT_EQ(render("{{ '42' | int + 1 }} {{ 'x' | int }} {{ 3.9 | int }} {{ '3.5' | int }} "
                   "{{ '2.5' | float }} {{ 'x' | float }} {{ 3 | string }}"),
            "43 0 3 3 2.5 0.0 3");
  EXPECT_EQ(render("{{ 2.5 | round }} {{ 3.5 | round }} {{ 2.675 | round(2) }} {{ 1.23 | round(1, "
                   "'ceil') }}"),
            "2.0 4.0 2.67 1.3");
  EXPECT_EQ(render("{{ -2 | abs }} {{ -2.5 | abs }}"), "2 2.5");
}

TEST(JinjaFilters, ReplaceIndentSafe) {
  EXPECT_EQ(render("{{ 'aaa' | replace('a', 'b', 2) }} {{ 'a-b' | replace('-', '+') }}"),
            "bba a+b");
  EXPECT_EQ(
      render(
          "{{ text | indent(2) }}|{{ text | indent(2, true) }}|{{ text | indent(2, blank=true) }}",
          {{"text", "a\nb\n\nc"}}),
      "a\n  b\n\n  c|  a\n  b\n\n  c|a\n  b\n  \n  c");
  EXPECT_EQ(render("{{ '<b>' | safe }}"), "<b>");
}

TEST(JinjaFilters, TojsonMatchesTransformers) {
  // transformers' tojson: json.dumps(ensure_ascii=False), Python separators.
  EXPECT_EQ(render("{{ {'a': 1, 'b': [1, 2.5, none, true], 'c': '\xc3\xa9\"\\n'} | tojson }}"),
            "{\"a\": 1, \"b\": [1, 2.5, null, true], \"c\": \"\xc3\xa9\\\"\\n\"}");
  EXPECT_EQ(render("{{ {'a': [1, 2], 'b': {}} | tojson(indent=2) }}"),
            "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}");
  EXPECT_EQ(render("{{ {'a': [1, 2]} | tojson(separators=(',', ':')) }} "
                   "{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}"),
            "{\"a\":[1,2]} {\"a\": 2, \"b\": 1}");
  EXPECT_EQ(render("{{ 'caf\xc3\xa9' | tojson(ensure_ascii=true) }} {{ '\x01' | tojson }}"),
            "\"caf\\u00e9\" \"\\u0001\"");
  // Key order of the input is kept, as Python dicts keep it.
  EXPECT_EQ(
      render("{{ tool | tojson }}", {{"tool", {{"z", 1}, {"a", {{"y", 1.0}, {"b", nullptr}}}}}}),
      "{\"z\": 1, \"a\": {\"y\": 1.0, \"b\": null}}");
  EXPECT_NE(render_error("{{ missing | tojson }}").find("not JSON serializable"),
            std::string::npos);
}

TEST(JinjaTests, TypeAndValueTests) {
  EXPECT_EQ(render("{{ 3 is divisibleby 3 }} {{ 4 is divisibleby(3) }} {{ 'x' is equalto 'x' }} "
                   "{{ none is none }} {{ 1 is not string }}"),
            "True False True True True");
  EXPECT_EQ(
      render("{{ true is number }} {{ true is integer }} {{ 1.0 is float }} {{ {} is mapping }} "
             "{{ 'a' is iterable }} {{ 5 is iterable }} {{ missing is iterable }} "
             "{{ 'a' is sequence }} {{ [] is sequence }}"),
      "True False True True True False True True True");
  EXPECT_EQ(render("{{ true is boolean }} {{ 1 is boolean }} {{ true is true }} {{ 0 is false }} "
                   "{{ 3 is odd }} {{ 3 is even }} {{ 2 is in [1, 2] }} {{ 1 is eq 1.0 }}"),
            "True False True False True False True True");
}

TEST(JinjaMethods, StringMethods) {
  EXPECT_EQ(render("{{ ' a b  c '.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a,b,c'.split(',', 1) }} "
                   "{{ 'a,b,c'.rsplit(',', 1) }} {{ '  x '.split(None, 0) }}"),
            "['a', 'b', 'c'] ['a', 'b', '', 'c'] ['a', 'b,c'] ['a,b', 'c'] ['x ']");
  EXPECT_EQ(render("{{ '  x  y  '.split(None, 1) }} {{ '  x  y  '.rsplit(None, 1) }}"),
            "['x', 'y  '] ['  x', 'y']");
  EXPECT_EQ(render("{{ 'xxhixx'.strip('x') }} {{ '  hi  '.lstrip() }}| {{ '  hi  '.rstrip() }}|"),
            "hi hi  |   hi|");
  EXPECT_EQ(render("{{ 'ab'.startswith(('x', 'a')) }} {{ 'abc'.endswith('bc') }} {{ "
                   "'abc'.startswith('b') }}"),
            "True True False");
  EXPECT_EQ(render("{{ \"hello world's\".title() }} {{ 'aBc'.upper() }} {{ 'aBc'.lower() }} "
                   "{{ 'a-b'.replace('-', '') }}"),
            "Hello World'S ABC abc ab");
  EXPECT_EQ(
      render("{{ '{} and {}'.format(1, 'a') }} {{ 'abcb'.find('b') }} {{ 'abcb'.count('b') }} "
             "{{ '-'.join(['a', 'b']) }}"),
      "1 and a 1 2 a-b");
  // The Qwen3 template's reasoning split.
  EXPECT_EQ(render("{{ c.split('</think>')[-1].lstrip('\\n') }}|"
                   "{{ c.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}",
                   {{"c", "<think>\nwhy\n</think>\n\nanswer"}}),
            "answer|why");
}

TEST(JinjaMethods, DictMethods) {
  const ordered_json ctx = {{"d", {{"a", 1}}}};
  EXPECT_EQ(
      render("{{ d.get('x', 'def') }} {{ d.get('a') }} {{ d.get('zz') }} {{ d.keys() | list }} "
             "{{ d.values() | list }}",
             ctx),
      "def 1 None ['a'] [1]");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }}{% endfor %}", ctx), "a=1");
}

}  // namespace
}  // namespace radix::jinja
