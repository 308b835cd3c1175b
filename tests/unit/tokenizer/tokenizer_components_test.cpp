// Unit tests of the tokenizer pipeline stages on their own: pre-tokenizer split
// behaviours, normalizers, byte fallback, added-token options, UTF-8 repair, regex
// translation, and load-time errors. Expected splits are the examples of Hugging Face
// tokenizers' documentation and tests; full-pipeline parity is tests/e2e/tokenizer_parity.mjs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/tokenizer/tokenizer_test_util.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace radix {
namespace {

using testing::Json;

std::vector<std::string> pre_tokenize(const Json& j, const std::string& text) {
  auto p = tok::parse_pre_tokenizer(j);
  EXPECT_TRUE(p.is_ok()) << p.status().to_string();
  if (!p.is_ok()) return {};
  std::vector<tok::PreToken> words{{text, true}};
  (*p)->pre_tokenize(&words);
  std::vector<std::string> out;
  for (const auto& w : words) out.push_back(w.text);
  return out;
}

Json split(const char* behavior, bool invert = false) {
  return Json{{"type", "Split"},
              {"pattern", {{"String", "-"}}},
              {"behavior", behavior},
              {"invert", invert}};
}

using Words = std::vector<std::string>;

TEST(PreTokenizer, SplitFollowsEveryDelimiterBehavior) {
  const std::string text = "the-final--countdown";
  EXPECT_EQ(pre_tokenize(split("Removed"), text), (Words{"the", "final", "countdown"}));
  EXPECT_EQ(pre_tokenize(split("Isolated"), text),
            (Words{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(pre_tokenize(split("MergedWithPrevious"), text),
            (Words{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(pre_tokenize(split("MergedWithNext"), text),
            (Words{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(pre_tokenize(split("Contiguous"), text),
            (Words{"the", "-", "final", "--", "countdown"}));
}

TEST(PreTokenizer, SplitInvertKeepsTheMatchesAsWords) {
  const Json j = {{"type", "Split"},
                  {"pattern", {{"Regex", "\\p{L}+"}}},
                  {"behavior", "Removed"},
                  {"invert", true}};
  EXPECT_EQ(pre_tokenize(j, "ab, cd!"), (Words{"ab", "cd"}));
}

TEST(PreTokenizer, ByteLevelSplitsWithGpt2RegexAndMapsBytes) {
  const Json j = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
  EXPECT_EQ(pre_tokenize(j, "Hello my friend, how is your day going?"),
            (Words{"\xC4\xA0Hello", "\xC4\xA0my",
                   "\xC4\xA0"
                   "friend",
                   ",", "\xC4\xA0how", "\xC4\xA0is", "\xC4\xA0your",
                   "\xC4\xA0"
                   "day",
                   "\xC4\xA0going", "?"}));
  // Every byte maps to one printable character; 0x0A is "Ċ" (U+010A).
  EXPECT_EQ(pre_tokenize({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}},
                         "a\n"),
            (Words{"a\xC4\x8A"}));
}

TEST(PreTokenizer, MetaspaceReplacesSpacesAndSplitsBeforeEachOne) {
  const Json j = {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", "always"}};
  EXPECT_EQ(pre_tokenize(j, "Hey friend!"), (Words{"\u2581Hey", "\u2581friend!"}));
  EXPECT_EQ(pre_tokenize(j, "Hey   friend!"),
            (Words{"\u2581Hey", "\u2581", "\u2581", "\u2581friend!"}));
  Json never = j;
  never["prepend_scheme"] = "never";
  never["split"] = false;
  EXPECT_EQ(pre_tokenize(never, "Hey friend!"), (Words{"Hey\u2581friend!"}));
}

TEST(PreTokenizer, MetaspaceFirstPrependsOnlyAtTheStartOfTheInput) {
  auto p = tok::parse_pre_tokenizer(
      {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", "first"}});
  ASSERT_TRUE(p.is_ok());
  std::vector<tok::PreToken> words{{"Hey", true}, {"you", false}};
  (*p)->pre_tokenize(&words);
  ASSERT_EQ(words.size(), 2u);
  EXPECT_EQ(words[0].text, "\u2581Hey");
  EXPECT_EQ(words[1].text, "you");
}

TEST(PreTokenizer, DigitsIndividualOrContiguous) {
  EXPECT_EQ(pre_tokenize({{"type", "Digits"}, {"individual_digits", true}}, "Hey 123 friend!"),
            (Words{"Hey ", "1", "2", "3", " friend!"}));
  EXPECT_EQ(pre_tokenize({{"type", "Digits"}, {"individual_digits", false}}, "Hey 123 friend!"),
            (Words{"Hey ", "123", " friend!"}));
}

TEST(PreTokenizer, PunctuationIsolatesEachPunctuationCharacter) {
  EXPECT_EQ(pre_tokenize({{"type", "Punctuation"}}, "Hey friend!     How are you?!?"),
            (Words{"Hey friend", "!", "     How are you", "?", "!", "?"}));
}

TEST(PreTokenizer, WhitespaceAndWhitespaceSplit) {
  EXPECT_EQ(pre_tokenize({{"type", "Whitespace"}}, "How are you doing?"),
            (Words{"How", "are", "you", "doing", "?"}));
  EXPECT_EQ(pre_tokenize({{"type", "WhitespaceSplit"}}, "Hey man!\u3000ok"),
            (Words{"Hey", "man!", "ok"}));
}

TEST(PreTokenizer, SequenceAppliesStepsInOrder) {
  const Json j = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "WhitespaceSplit"}}, {{"type", "Digits"}, {"individual_digits", true}}}}};
  EXPECT_EQ(pre_tokenize(j, "ab12 c3"), (Words{"ab", "1", "2", "c", "3"}));
}

TEST(Normalizer, SequenceOfFormsCaseStripReplacePrepend) {
  auto n = tok::parse_normalizer(
      {{"type", "Sequence"},
       {"normalizers",
        {{{"type", "NFKC"}},
         {{"type", "Lowercase"}},
         {{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}},
         {{"type", "Replace"}, {"pattern", {{"Regex", "\\d+"}}}, {"content", "#"}},
         {{"type", "Prepend"}, {"prepend", "\u2581"}}}}});
  ASSERT_TRUE(n.is_ok()) << n.status().to_string();
  std::string s =
      "  \xEF\xAC\x81"
      "ne ABC 123\u3000";  // "ﬁne" with a ligature
  (*n)->normalize(&s);
  EXPECT_EQ(s, "\u2581fine abc #");
  std::string empty;
  (*n)->normalize(&empty);
  EXPECT_EQ(empty, "");  // Prepend leaves empty text empty
}

TEST(Unicode, LossyRepairReplacesMaximalSubparts) {
  // The example of the Unicode Standard, ch. 3 "U+FFFD Substitution of Maximal Subparts".
  const std::string in = "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64";
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(tok::utf8_lossy(in), "a" + r + r + r + "b" + r + "c" + r + r + "d");
  EXPECT_EQ(tok::utf8_lossy("\xF0\x9F\x98"), r);          // a truncated 4-byte sequence
  EXPECT_EQ(tok::utf8_lossy("\xED\xA0\x80"), r + r + r);  // a UTF-16 surrogate
  EXPECT_EQ(tok::utf8_lossy("ok \xE4\xB8\xAD"), "ok \xE4\xB8\xAD");
}

TEST(Regex, TranslatesOnigurumaWhitespaceAndNewerLetters) {
  // U+180E is no longer White_Space; U+1C89 (Unicode 16) is a letter in Oniguruma's tables.
  auto space = tok::Regex::compile("\\s");
  ASSERT_TRUE(space.is_ok());
  std::vector<tok::Span> m;
  (*space)->find_all("\u180E", &m);
  EXPECT_TRUE(m.empty());
  (*space)->find_all("\u3000", &m);
  EXPECT_EQ(m.size(), 1u);
  auto letters = tok::Regex::compile("[^\\s\\p{L}]+");
  ASSERT_TRUE(letters.is_ok());
  m.clear();
  (*letters)->find_all("a\u1C89!", &m);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0], (tok::Span{4, 5}));
}

TEST(Regex, EmptyMatchesAdvanceOneCharacter) {
  auto re = tok::Regex::compile("x*");
  ASSERT_TRUE(re.is_ok());
  std::vector<tok::Span> m;
  (*re)->find_all("a\xC3\xA9xx", &m);
  // Oniguruma's find_iter: empty at 0, empty at 1 ("é" is 2 bytes), "xx" at 3..5, then the
  // empty match at 5 is skipped because it touches the previous match.
  EXPECT_EQ(m, (std::vector<tok::Span>{{0, 0}, {1, 1}, {3, 5}}));
}

TEST(Regex, BadPatternIsAnErrorNotACrash) {
  auto re = tok::Regex::compile("(unclosed");
  ASSERT_FALSE(re.is_ok());
  EXPECT_NE(re.status().message().find("cannot compile regex"), std::string::npos);
}

// A SentencePiece-style model: <unk>, the 256 byte tokens, a few pieces.
Json byte_fallback_json() {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    tokens.push_back(name);
  }
  for (const char* t : {"\u2581", "a", "b", "ab", "\u2581ab"}) tokens.push_back(t);
  Json j = testing::tiny_tokenizer_json(tokens, {"a b", "\u2581 ab"});
  j["model"]["unk_token"] = "<unk>";
  j["model"]["byte_fallback"] = true;
  j["model"]["fuse_unk"] = true;
  j["normalizer"] = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}};
  j["decoder"] = {{"type", "Sequence"},
                  {"decoders",
                   {{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
                    {{"type", "ByteFallback"}},
                    {{"type", "Fuse"}}}}};
  return j;
}

TEST(Bpe, ByteFallbackEncodesUnknownCharactersAsBytes) {
  auto t = testing::load_json(byte_fallback_json());
  ASSERT_TRUE(t);
  const int32_t ab = *t->token_to_id("\u2581ab");
  const int32_t c3 = *t->token_to_id("<0xC3>"), a9 = *t->token_to_id("<0xA9>");
  EXPECT_EQ(t->encode(" ab"), (std::vector<int32_t>{ab}));
  EXPECT_EQ(t->encode("\xC3\xA9"), (std::vector<int32_t>{c3, a9}));  // "é" is not in vocab
  EXPECT_EQ(t->decode(std::vector<int32_t>{c3, a9, ab}), "\xC3\xA9 ab");
  // A byte run that is not valid UTF-8 decodes to one U+FFFD per byte.
  EXPECT_EQ(t->decode(std::vector<int32_t>{c3, c3, ab}), "\xEF\xBF\xBD\xEF\xBF\xBD ab");
}

TEST(Bpe, UnknownCharactersFuseIntoOneUnkWithoutByteFallback) {
  Json j = byte_fallback_json();
  j["model"]["byte_fallback"] = false;
  auto t = testing::load_json(j);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->encode("xy ab"), (std::vector<int32_t>{0, *t->token_to_id("\u2581ab")}));
}

TEST(Bpe, MergesInStringAndPairFormsAreEquivalent) {
  Json strings = testing::tiny_tokenizer_json({"a", "b", "c", "ab", "abc"}, {"a b", "ab c"});
  Json pairs = strings;
  pairs["model"]["merges"] = Json::array({Json::array({"a", "b"}), Json::array({"ab", "c"})});
  auto s = testing::load_json(strings), p = testing::load_json(pairs);
  ASSERT_TRUE(s && p);
  EXPECT_EQ(s->encode("abcab"), (std::vector<int32_t>{4, 3}));
  EXPECT_EQ(p->encode("abcab"), s->encode("abcab"));
}

TEST(Bpe, LowestRankMergeWinsOverLeftmost) {
  // "bc" ranks before "ab": "abc" -> a + bc, not ab + c.
  auto t =
      testing::load_json(testing::tiny_tokenizer_json({"a", "b", "c", "ab", "bc"}, {"b c", "a b"}));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->encode("abc"), (std::vector<int32_t>{0, 4}));
}

TEST(Bpe, ARepeatedMergeTakesItsLastRank) {
  // tokenizers builds its merge map in file order, so a pair listed twice keeps the later
  // rank: "a b" (rank 2) now comes after "b c" (rank 1), and "abc" -> a + bc.
  auto t = testing::load_json(
      testing::tiny_tokenizer_json({"a", "b", "c", "ab", "bc"}, {"a b", "b c", "a b"}));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->encode("abc"), (std::vector<int32_t>{0, 4}));
}

TEST(Bpe, ThousandsOfMergesOverMultibyteCharacters) {
  // 1200 CJK characters and a merge for each adjacent pair (ranked left to right): the
  // merge table grows well past its first size, and characters are found by code point.
  std::vector<std::string> tokens, merges;
  auto ch = [](int i) {
    std::string s;
    const char32_t c = 0x4E00 + static_cast<char32_t>(i);
    s += static_cast<char>(0xE0 | (c >> 12));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (c & 0x3F));
    return s;
  };
  constexpr int kChars = 1200;
  for (int i = 0; i < kChars; ++i) tokens.push_back(ch(i));
  for (int i = 0; i + 1 < kChars; ++i) {
    tokens.push_back(ch(i) + ch(i + 1));
    merges.push_back(ch(i) + " " + ch(i + 1));
  }
  auto t = testing::load_json(testing::tiny_tokenizer_json(tokens, merges));
  ASSERT_TRUE(t);
  std::string text;
  for (int i = 0; i < kChars; ++i) text += ch(i);
  std::vector<int32_t> expected;  // pairs (0,1), (2,3), ...: the pair of i has id kChars + i
  for (int i = 0; i < kChars; i += 2) expected.push_back(kChars + i);
  EXPECT_EQ(t->encode(text), expected);
  // Without an unk token an unknown character is dropped, and its neighbours merge (as
  // in tokenizers).
  EXPECT_EQ(t->encode(ch(7) + "x" + ch(8)), (std::vector<int32_t>{kChars + 7}));
}

// Characters as tokens plus added tokens with the given options.
std::shared_ptr<Tokenizer> with_added(const Json& added, const Json& normalizer = nullptr) {
  Json j = testing::tiny_tokenizer_json({"a", "b", " ", "<", ">", "m", "M"});
  j["added_tokens"] = added;
  j["normalizer"] = normalizer;
  return testing::load_json(j);
}

Json added_token(const char* content, int id, Json options) {
  Json t = {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
            {"rstrip", false}, {"normalized", false}, {"special", true}};
  for (auto it = options.begin(); it != options.end(); ++it) t[it.key()] = it.value();
  return t;
}

TEST(AddedTokens, LstripAndRstripSwallowNeighbouringWhitespace) {
  const std::vector<int32_t> a = {0}, b = {1}, sp = {2};
  auto plain = with_added(Json::array({added_token("<m>", 7, Json::object())}));
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->encode("a <m> b"), (std::vector<int32_t>{0, 2, 7, 2, 1}));
  auto l = with_added(Json::array({added_token("<m>", 7, {{"lstrip", true}})}));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->encode("a  <m> b"), (std::vector<int32_t>{0, 7, 2, 1}));
  auto r = with_added(Json::array({added_token("<m>", 7, {{"rstrip", true}})}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->encode("a <m>  b"), (std::vector<int32_t>{0, 2, 7, 1}));
}

TEST(AddedTokens, SingleWordMatchesOnlyWholeWords) {
  auto t = with_added(Json::array({added_token("ab", 7, {{"single_word", true}})}));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->encode("a ab b"), (std::vector<int32_t>{0, 2, 7, 2, 1}));
  EXPECT_EQ(t->encode("aab"), (std::vector<int32_t>{0, 0, 1}));
}

TEST(AddedTokens, NormalizedTokensMatchTheNormalizedText) {
  const Json lower = {{"type", "Lowercase"}};
  auto normalized = with_added(Json::array({added_token("<m>", 7, {{"normalized", true}})}), lower);
  ASSERT_TRUE(normalized);
  EXPECT_EQ(normalized->encode("<M>"), (std::vector<int32_t>{7}));
  auto raw = with_added(Json::array({added_token("<m>", 7, Json::object())}), lower);
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->encode("<M>"), (std::vector<int32_t>{3, 5, 4}));  // lowercased characters
}

TEST(AddedTokens, LongestMatchWinsAndSpecialsCanBeSkippedInDecode) {
  auto t = with_added(Json::array(
      {added_token("<m", 7, {{"special", false}}), added_token("<m>", 8, Json::object())}));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->encode("<m><ma"), (std::vector<int32_t>{8, 7, 0}));
  EXPECT_TRUE(t->is_special(8));
  EXPECT_FALSE(t->is_special(7));
  EXPECT_EQ(t->decode(std::vector<int32_t>{8, 7, 0}, /*skip_special_tokens=*/true), "<m a");
  EXPECT_EQ(t->decode(std::vector<int32_t>{8, 7, 0}), "<m> <m a");  // no decoder: joined by spaces
}

TEST(TokenizerLoad, UnsupportedComponentsAreErrorsNamingThem) {
  struct Case {
    const char* field;
    Json value;
    const char* name;
  };
  const std::vector<Case> cases = {
      {"normalizer", {{"type", "Precompiled"}, {"precompiled_charsmap", "AAAA"}}, "Precompiled"},
      {"pre_tokenizer", {{"type", "BertPreTokenizer"}}, "BertPreTokenizer"},
      {"decoder", {{"type", "WordPiece"}, {"prefix", "##"}}, "WordPiece"},
      {"post_processor", {{"type", "Mystery"}}, "Mystery"},
  };
  for (const auto& c : cases) {
    Json j = testing::tiny_tokenizer_json({"a"});
    j[c.field] = c.value;
    auto t = Tokenizer::from_json_string(j.dump());
    ASSERT_FALSE(t.is_ok()) << c.name;
    EXPECT_EQ(t.status().code(), StatusCode::kUnimplemented) << c.name;
    EXPECT_NE(t.status().message().find(c.name), std::string::npos) << t.status().message();
  }
  Json unigram = testing::tiny_tokenizer_json({"a"});
  unigram["model"] = {{"type", "Unigram"}, {"vocab", Json::array()}};
  auto u = Tokenizer::from_json_string(unigram.dump());
  ASSERT_FALSE(u.is_ok());
  EXPECT_NE(u.status().message().find("Unigram"), std::string::npos);
}

TEST(TokenizerLoad, MalformedFilesAreClearErrors) {
  EXPECT_EQ(Tokenizer::from_file("/nonexistent/tokenizer.json").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(Tokenizer::from_json_string("{not json").status().code(), StatusCode::kInvalidArgument);
  Json bad_merge = testing::tiny_tokenizer_json({"a", "b"}, {"a b"});  // "ab" not in vocab
  auto t = Tokenizer::from_json_string(bad_merge.dump());
  ASSERT_FALSE(t.is_ok());
  EXPECT_NE(t.status().message().find("'ab'"), std::string::npos) << t.status().message();
  Json wrong_type = testing::tiny_tokenizer_json({"a"});
  wrong_type["model"]["vocab"]["a"] = "zero";
  EXPECT_FALSE(Tokenizer::from_json_string(wrong_type.dump()).is_ok());
  Json bad_regex = testing::tiny_tokenizer_json({"a"});
  bad_regex["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"Regex", "(("}}}, {"behavior", "Isolated"}};
  auto r = Tokenizer::from_json_string(bad_regex.dump());
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("pre_tokenizer Split"), std::string::npos);
}

}  // namespace
}  // namespace radix
