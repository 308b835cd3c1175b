// Structured output's token masks (runtime/constrained/grammar.h): the vocabulary walk
// against a brute-force check of every token, advance(), the cache, and random walks
// through real vocabularies whose texts must be the JSON the schema describes.
#include "runtime/constrained/grammar.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <random>
#include <string>
#include <vector>

#include "runtime/constrained/json_schema.h"
#include "tests/unit/tokenizer/tokenizer_test_util.h"

namespace radix::constrained {
namespace {

bool allowed_bit(const std::vector<uint64_t>& m, int32_t id) { return ((m[id / 64] >> (id % 64)) & 1u) != 0; }

// Every token, walked through the DFA on its own: allowed iff its bytes keep it alive.
void expect_mask_is_brute_force(const Grammar& g, const TokenVocab& v, int32_t state) {
  const auto& mask = g.allowed(state);
  ASSERT_EQ(mask.size(), (static_cast<size_t>(v.vocab_size()) + 63) / 64);
  for (int32_t id = 0; id < v.vocab_size(); ++id) {
    const bool expect = !v.bytes_of(id).empty() && g.advance(state, id) != Grammar::kDead;
    ASSERT_EQ(allowed_bit(mask, id), expect) << "state " << state << " token " << id << " '" << v.bytes_of(id) << "'";
  }
}

std::shared_ptr<const Grammar> compile(const Constraint& c, std::shared_ptr<const TokenVocab> v) {
  auto g = Grammar::compile(c, std::move(v));
  EXPECT_TRUE(g.is_ok()) << g.status().to_string();
  return g.is_ok() ? *g : nullptr;
}

TEST(Grammar, MaskOfASmallVocabulary) {
  // ids: 0 "a", 1 "b", 2 "ab", 3 "abc", 4 none (special), 5 "c", 6 "" (empty), 7 "abd"
  std::vector<std::optional<std::string>> bytes = {"a", "b", "ab", "abc", std::nullopt, "c", "", "abd"};
  auto v = std::make_shared<TokenVocab>(bytes, 10);  // ids 8, 9: padded rows without bytes
  auto g = compile({Constraint::Kind::kRegex, "abc+", "regex"}, v);
  ASSERT_TRUE(g);
  const int32_t s0 = g->start();
  const auto& m0 = g->allowed(s0);
  EXPECT_TRUE(allowed_bit(m0, 0));
  EXPECT_FALSE(allowed_bit(m0, 1));
  EXPECT_TRUE(allowed_bit(m0, 2));
  EXPECT_TRUE(allowed_bit(m0, 3));
  EXPECT_FALSE(allowed_bit(m0, 4));
  EXPECT_FALSE(allowed_bit(m0, 5));
  EXPECT_FALSE(allowed_bit(m0, 6));
  EXPECT_FALSE(allowed_bit(m0, 7));
  EXPECT_FALSE(allowed_bit(m0, 8));
  EXPECT_FALSE(g->accepting(s0));
  const int32_t s3 = g->advance(s0, 3);  // "abc": a full match that may go on
  ASSERT_NE(s3, Grammar::kDead);
  EXPECT_TRUE(g->accepting(s3));
  const auto& m3 = g->allowed(s3);
  EXPECT_TRUE(allowed_bit(m3, 5));
  EXPECT_FALSE(allowed_bit(m3, 0));
  EXPECT_EQ(g->advance(s0, 1), Grammar::kDead);
  EXPECT_EQ(g->advance(s0, 4), Grammar::kDead);
  EXPECT_EQ(g->advance(Grammar::kDead, 0), Grammar::kDead);
  // The same reference on every call (cached).
  EXPECT_EQ(&g->allowed(s0), &m0);
}

// Random vocabularies over a few letters (so prefixes are shared and die together),
// random reachable states of several patterns: the sorted walk equals brute force.
TEST(Grammar, SortedWalkEqualsBruteForceOnRandomVocabularies) {
  std::mt19937 rng(7);
  const char* patterns[] = {"(ab|ba)*c?", "a{2,5}b*", "[abc]*d", "(a|bc)+(d|)", "[^a]{0,3}ab", "x"};
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<std::optional<std::string>> bytes;
    const int n = 50 + static_cast<int>(rng() % 200);
    for (int i = 0; i < n; ++i) {
      std::string s(1 + rng() % 5, 'a');
      for (auto& c : s) c = "abcdx"[rng() % 5];
      bytes.push_back(rng() % 10 == 0 ? std::optional<std::string>() : std::optional<std::string>(s));
    }
    auto v = std::make_shared<TokenVocab>(bytes, n + static_cast<int>(rng() % 70));
    for (const char* p : patterns) {
      auto g = compile({Constraint::Kind::kRegex, p, "regex"}, v);
      ASSERT_TRUE(g);
      int32_t s = g->start();
      for (int step = 0; step < 6 && s != Grammar::kDead; ++step) {
        expect_mask_is_brute_force(*g, *v, s);
        // Move along a random allowed token.
        std::vector<int32_t> ok;
        const auto& m = g->allowed(s);
        for (int32_t id = 0; id < v->vocab_size(); ++id) {
          if (allowed_bit(m, id)) ok.push_back(id);
        }
        if (ok.empty()) break;
        s = g->advance(s, ok[rng() % ok.size()]);
      }
    }
  }
}

TEST(Grammar, CompileErrorsNameTheConstraint) {
  auto v = std::make_shared<TokenVocab>(std::vector<std::optional<std::string>>{"a"}, 1);
  auto bad_regex = Grammar::compile({Constraint::Kind::kRegex, "(ab", "regex"}, v);
  ASSERT_FALSE(bad_regex.is_ok());
  EXPECT_EQ(bad_regex.status().code(), StatusCode::kInvalidArgument);
  auto bad_schema = Grammar::compile({Constraint::Kind::kJsonSchema, "{not json", "json_schema"}, v);
  ASSERT_FALSE(bad_schema.is_ok());
  EXPECT_EQ(bad_schema.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(Grammar::compile({Constraint::Kind::kNone, "", ""}, v).is_ok());
  // A constraint no text matches is refused up front, not at its first step.
  auto empty = Grammar::compile({Constraint::Kind::kRegex, "[^\\s\\S]", "regex"}, v);
  ASSERT_FALSE(empty.is_ok());
  EXPECT_NE(empty.status().message().find("matches no text"), std::string::npos) << empty.status().to_string();
}

TEST(GrammarCache, SharesCompiledGrammarsAndEvictsTheLeastRecentlyUsed) {
  auto v = std::make_shared<TokenVocab>(std::vector<std::optional<std::string>>{"a", "b"}, 2);
  GrammarCache cache(v, 2);
  auto a1 = cache.get({Constraint::Kind::kRegex, "a+", "regex"});
  auto a2 = cache.get({Constraint::Kind::kRegex, "a+", "x"});  // the param does not matter
  ASSERT_TRUE(a1.is_ok() && a2.is_ok());
  EXPECT_EQ(a1->get(), a2->get());
  // The same text as a schema is another constraint.
  auto s = cache.get({Constraint::Kind::kJsonSchema, R"({"type": "integer"})", "json_schema"});
  ASSERT_TRUE(s.is_ok());
  EXPECT_NE(s->get(), a1->get());
  auto b = cache.get({Constraint::Kind::kRegex, "b+", "regex"});  // evicts "a+" (older use)
  ASSERT_TRUE(b.is_ok());
  auto a3 = cache.get({Constraint::Kind::kRegex, "a+", "regex"});
  ASSERT_TRUE(a3.is_ok());
  EXPECT_NE(a3->get(), a1->get());
  EXPECT_FALSE(cache.get({Constraint::Kind::kRegex, "(", "regex"}).is_ok());
}

// Walks a real vocabulary: from the start, a random allowed token each step (stopping
// at an accepting state with some probability, or when nothing else is allowed); the
// bytes must be a full match. For schemas the text must parse as JSON of that shape.
std::string random_walk(const Grammar& g, const TokenVocab& v, std::mt19937& rng, int max_tokens) {
  int32_t s = g.start();
  std::string text;
  for (int step = 0; step < max_tokens; ++step) {
    std::vector<int32_t> ok, punct;  // punct: tokens with JSON punctuation, to close strings and objects
    const auto& m = g.allowed(s);
    for (int32_t id = 0; id < v.vocab_size(); ++id) {
      if (!allowed_bit(m, id)) continue;
      ok.push_back(id);
      if (v.bytes_of(id).find_first_of("\"{}[],:") != std::string::npos) punct.push_back(id);
    }
    if (g.accepting(s) && (ok.empty() || rng() % 4 == 0)) return text;
    if (ok.empty()) {
      ADD_FAILURE() << "no token allowed in a non-accepting state after '" << text << "'";
      return text;
    }
    const int32_t id = !punct.empty() && rng() % 2 == 0 ? punct[rng() % punct.size()] : ok[rng() % ok.size()];
    text += v.bytes_of(id);
    s = g.advance(s, id);
    EXPECT_NE(s, Grammar::kDead);
  }
  return g.accepting(s) ? text : std::string();  // ran out: not a full text
}

TEST(Grammar, RandomWalksThroughRealVocabulariesGiveSchemaValidJson) {
  const std::string schema = R"({
    "type": "object",
    "properties": {
      "name": {"type": "string", "maxLength": 6},
      "age": {"type": "integer"},
      "tags": {"type": "array", "items": {"type": "string", "enum": ["x", "y z"]}, "maxItems": 3},
      "ok": {"type": "boolean"}
    },
    "required": ["name", "age"]
  })";
  std::mt19937 rng(11);
  for (const char* name : {"llama3", "qwen3", "llama2"}) {
    auto tok = testing::load_real(name);
    ASSERT_TRUE(tok) << name;
    auto v = TokenVocab::from_tokenizer(*tok, tok->vocab_size());
    auto g = compile({Constraint::Kind::kJsonSchema, schema, "json_schema"}, v);
    ASSERT_TRUE(g);
    int full = 0;
    for (int walk = 0; walk < 40; ++walk) {
      const std::string text = random_walk(*g, *v, rng, 200);
      if (text.empty()) continue;
      ++full;
      auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      ASSERT_FALSE(j.is_discarded()) << name << ": not JSON: " << text;
      ASSERT_TRUE(j.is_object()) << text;
      ASSERT_TRUE(j.contains("name") && j["name"].is_string()) << text;
      EXPECT_LE(j["name"].get<std::string>().size(), 6u * 4) << text;  // <= 6 characters
      ASSERT_TRUE(j.contains("age") && j["age"].is_number_integer()) << text;
      if (j.contains("tags")) {
        ASSERT_TRUE(j["tags"].is_array()) << text;
        EXPECT_LE(j["tags"].size(), 3u);
        for (const auto& t : j["tags"]) EXPECT_TRUE(t == "x" || t == "y z") << text;
      }
      if (j.contains("ok")) {
        EXPECT_TRUE(j["ok"].is_boolean()) << text;
      }
      for (const auto& [k, _] : j.items()) EXPECT_TRUE(k == "name" || k == "age" || k == "tags" || k == "ok") << text;
    }
    EXPECT_GE(full, 10) << name << ": too few walks reached a full text";
  }
}

TEST(Grammar, JsonObjectWalksParseAsObjects) {
  auto tok = testing::load_real("llama3");
  ASSERT_TRUE(tok);
  auto v = TokenVocab::from_tokenizer(*tok, tok->vocab_size() + 5);  // padded model rows
  auto g = compile({Constraint::Kind::kJsonObject, "", "response_format"}, v);
  ASSERT_TRUE(g);
  std::mt19937 rng(3);
  int full = 0;
  for (int walk = 0; walk < 30; ++walk) {
    const std::string text = random_walk(*g, *v, rng, 120);
    if (text.empty()) continue;
    ++full;
    auto j = nlohmann::json::parse(text, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << text;
    EXPECT_TRUE(j.is_object()) << text;
  }
  EXPECT_GE(full, 5);
}

}  // namespace
}  // namespace radix::constrained
