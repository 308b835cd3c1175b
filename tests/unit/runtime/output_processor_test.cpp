// Tests of the OutputProcessor (runtime/output_processor.h): streaming text deltas, stop
// strings that straddle tokens, trimming at the match, flushing held-back text at the
// end, the matched eos/stop token left out of the text, and UTF-8 safety.
//
// The tokenizer is a byte-level BPE built in the test: token b (0..255) is the single
// byte b, so any byte sequence (including half of a UTF-8 character) is a token sequence;
// a few multi-byte tokens and a special "<eos>" are added on top.
#include "runtime/output_processor.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/unit/tokenizer/tokenizer_test_util.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/unicode.h"

namespace radix {
namespace {

using Ids = std::vector<int32_t>;
constexpr int32_t kEos = 256;

std::string byte_level(std::string_view bytes) {
  std::string out;
  for (char c : bytes) tok::append_utf8(&out, tok::byte_level_char(static_cast<unsigned char>(c)));
  return out;
}

// Multi-byte tokens after the 256 byte tokens and <eos>.
const std::vector<std::string> kWords = {"Hello", " Wo", "rld", "!", "ab\ncd", "\xC3\xA9"};
int32_t word(const std::string& w) {
  auto it = std::find(kWords.begin(), kWords.end(), w);
  EXPECT_NE(it, kWords.end()) << w;
  return 257 + static_cast<int32_t>(it - kWords.begin());
}

std::shared_ptr<const Tokenizer> byte_tokenizer() {
  static std::shared_ptr<const Tokenizer> tok = [] {
    std::vector<std::string> tokens;  // in id order
    for (int b = 0; b < 256; ++b)
      tokens.push_back(byte_level(std::string(1, static_cast<char>(b))));
    tokens.push_back("<eos>");
    for (const std::string& w : kWords) tokens.push_back(byte_level(w));
    testing::Json j = testing::tiny_tokenizer_json(tokens);
    j["added_tokens"] = {{{"id", kEos},
                          {"content", "<eos>"},
                          {"single_word", false},
                          {"lstrip", false},
                          {"rstrip", false},
                          {"normalized", false},
                          {"special", true}}};
    const testing::Json byte_level_step = {{"type", "ByteLevel"},
                                           {"add_prefix_space", false},
                                           {"trim_offsets", true},
                                           {"use_regex", true}};
    j["pre_tokenizer"] = byte_level_step;
    j["decoder"] = byte_level_step;
    return std::shared_ptr<const Tokenizer>(testing::load_json(j));
  }();
  return tok;
}

Ids bytes(std::string_view s) {
  Ids ids;
  for (char c : s) ids.push_back(static_cast<unsigned char>(c));
  return ids;
}

RequestEvent event(Ids ids, FinishReason finish = FinishReason::kNone, int32_t stop_token = -1) {
  RequestEvent e;
  e.token_ids = std::move(ids);
  e.finished = finish != FinishReason::kNone;
  e.finish_reason = finish;
  e.matched_stop_token = stop_token;
  return e;
}

SamplingParams with_stops(std::vector<std::string> stops) {
  SamplingParams p;
  p.stop = std::move(stops);
  return p;
}

// Feeds one token per event (the last one finishing with `finish`) and returns the deltas.
std::vector<TextDelta> stream(OutputProcessor& op, const Ids& ids,
                              FinishReason finish = FinishReason::kLength) {
  std::vector<TextDelta> out;
  for (size_t i = 0; i < ids.size(); ++i) {
    out.push_back(op.process(event({ids[i]}, i + 1 == ids.size() ? finish : FinishReason::kNone)));
  }
  return out;
}

std::string joined(const std::vector<TextDelta>& deltas) {
  std::string s;
  for (const TextDelta& d : deltas) s += d.text;
  return s;
}

TEST(OutputProcessor, StreamsTextAndFinishesWithTheEnginesReason) {
  OutputProcessor op(byte_tokenizer(), SamplingParams());
  auto deltas = stream(op, {word("Hello"), word(" Wo"), word("rld"), word("!")});
  ASSERT_EQ(deltas.size(), 4u);
  EXPECT_EQ(deltas[0].text, "Hello");
  EXPECT_EQ(deltas[1].text, " Wo");
  EXPECT_FALSE(deltas[2].finished);
  EXPECT_TRUE(deltas[3].finished);
  EXPECT_EQ(deltas[3].finish_reason, FinishReason::kLength);
  EXPECT_FALSE(deltas[3].matched_stop.has_value());
  EXPECT_EQ(joined(deltas), "Hello World!");
  EXPECT_EQ(op.text(), "Hello World!");
}

TEST(OutputProcessor, StopStringStraddlingTokensIsHeldBackThenTrimmed) {
  OutputProcessor op(byte_tokenizer(), with_stops({"World"}));
  TextDelta a = op.process(event({word("Hello")}));
  TextDelta b = op.process(event({word(" Wo")}));
  EXPECT_EQ(a.text, "Hello");
  EXPECT_EQ(b.text, " ");  // "Wo" could be the start of "World": held back
  TextDelta c = op.process(event({word("rld")}));
  EXPECT_EQ(c.text, "");
  EXPECT_TRUE(c.finished);
  EXPECT_EQ(c.finish_reason, FinishReason::kStop);
  ASSERT_TRUE(c.matched_stop.has_value());
  EXPECT_EQ(*c.matched_stop, "World");
  EXPECT_EQ(c.token_ids, Ids{word("rld")});
  EXPECT_EQ(op.text(), "Hello ");
  EXPECT_TRUE(op.finished());
}

TEST(OutputProcessor, HeldBackTextThatDidNotBecomeAStopIsReleased) {
  OutputProcessor op(byte_tokenizer(), with_stops({"World"}));
  op.process(event({word("Hello")}));
  EXPECT_EQ(op.process(event({word(" Wo")})).text, " ");
  EXPECT_EQ(op.process(event(bytes("od"))).text, "Wood");
  EXPECT_EQ(op.text(), "Hello Wood");
}

TEST(OutputProcessor, HeldBackTextIsFlushedWhenTheRequestEnds) {
  OutputProcessor op(byte_tokenizer(), with_stops({"World"}));
  op.process(event({word("Hello")}));
  TextDelta end = op.process(event({word(" Wo")}, FinishReason::kLength));
  EXPECT_EQ(end.text, " Wo");
  EXPECT_TRUE(end.finished);
  EXPECT_EQ(end.finish_reason, FinishReason::kLength);
  EXPECT_EQ(op.text(), "Hello Wo");
}

TEST(OutputProcessor, StopStringInsideOneTokenCutsThatToken) {
  OutputProcessor op(byte_tokenizer(), with_stops({"\n"}));
  TextDelta d = op.process(event({word("Hello"), word("ab\ncd"), word("!")}));
  EXPECT_EQ(d.text, "Helloab");
  EXPECT_TRUE(d.finished);
  EXPECT_EQ(d.token_ids, (Ids{word("Hello"), word("ab\ncd")}));  // "!" came after the stop
}

TEST(OutputProcessor, EarliestStopStringWinsAndLogprobsAreTrimmedWithTokens) {
  OutputProcessor op(byte_tokenizer(), with_stops({"cd", "b\n"}));
  RequestEvent e = event({word("Hello"), word("ab\ncd"), word("!")});
  for (int32_t id : e.token_ids) e.logprobs.push_back(TokenLogprob{id, -0.5f, {}});
  TextDelta d = op.process(e);
  EXPECT_EQ(d.text, "Helloa");
  EXPECT_EQ(*d.matched_stop, "b\n");
  ASSERT_EQ(d.logprobs.size(), 2u);
  EXPECT_EQ(d.logprobs[1].id, word("ab\ncd"));
}

TEST(OutputProcessor, MatchedStopTokenIsLeftOutOfTheText) {
  SamplingParams p;
  p.skip_special_tokens = false;  // even when special tokens are shown
  OutputProcessor op(byte_tokenizer(), p);
  op.process(event({word("Hello")}));
  TextDelta d = op.process(event({kEos}, FinishReason::kStop, kEos));
  EXPECT_EQ(d.text, "");
  EXPECT_EQ(d.matched_stop_token, kEos);
  EXPECT_EQ(d.token_ids, Ids{kEos});
  EXPECT_EQ(op.text(), "Hello");

  OutputProcessor op2(byte_tokenizer(), p);  // a plain stop_token_id: "!" is trimmed
  TextDelta d2 = op2.process(event({word("Hello"), word("!")}, FinishReason::kStop, word("!")));
  EXPECT_EQ(d2.text, "Hello");
}

TEST(OutputProcessor, SpecialTokensAreShownUnlessSkipped) {
  SamplingParams show;
  show.skip_special_tokens = false;
  OutputProcessor a(byte_tokenizer(), show), b(byte_tokenizer(), SamplingParams());
  Ids ids{word("Hello"), kEos, word("!")};
  EXPECT_EQ(joined(stream(a, ids)), "Hello<eos>!");
  EXPECT_EQ(joined(stream(b, ids)), "Hello!");
}

TEST(OutputProcessor, EventsAfterFinishingAreIgnored) {
  OutputProcessor op(byte_tokenizer(), with_stops({"!"}));
  EXPECT_TRUE(op.process(event({word("Hello"), word("!")})).finished);
  TextDelta late = op.process(event({word(" Wo")}, FinishReason::kAbort));
  EXPECT_TRUE(late.finished);
  EXPECT_EQ(late.finish_reason, FinishReason::kStop);
  EXPECT_EQ(late.text, "");
  EXPECT_EQ(op.text(), "Hello");
}

TEST(OutputProcessor, SplitCharacterIsEmittedOnlyWhenComplete) {
  OutputProcessor op(byte_tokenizer(), SamplingParams());
  EXPECT_EQ(op.process(event({0xC3})).text, "");
  EXPECT_EQ(op.process(event({0xA9})).text, "\xC3\xA9");
  // An unfinished character at the very end is not emitted as a broken byte.
  TextDelta end = op.process(event({0xE2, 0x82}, FinishReason::kLength));
  EXPECT_TRUE(tok::is_valid_utf8(end.text)) << end.text;
  EXPECT_TRUE(tok::is_valid_utf8(op.text()));
}

TEST(OutputProcessor, StopStringWithMultiByteCharactersHoldsBackWholeCharacters) {
  OutputProcessor op(byte_tokenizer(), with_stops({"\xC3\xA9t\xC3\xA9"}));  // "été"
  EXPECT_EQ(op.process(event(bytes("x\xC3"))).text, "x");
  EXPECT_EQ(op.process(event({0xA9})).text, "");  // "é" may start "été"
  EXPECT_EQ(op.process(event(bytes("t"))).text, "");
  TextDelta d = op.process(event({word("\xC3\xA9")}));
  EXPECT_TRUE(d.finished);
  EXPECT_EQ(op.text(), "x");
}

// Reference: the first token after which the decoded text contains a stop string ends
// the output at the earliest such stop string (what SGLang's per-token check does).
std::string reference_output(const Tokenizer& tok, const Ids& ids,
                             const std::vector<std::string>& stops) {
  for (size_t i = 1; i <= ids.size(); ++i) {
    std::string text = tok.decode(std::span<const int32_t>(ids.data(), i));
    size_t best = std::string::npos;
    for (const std::string& s : stops) best = std::min(best, text.find(s));
    if (best != std::string::npos) return text.substr(0, best);
  }
  return tok.decode(ids);
}

TEST(OutputProcessor, RandomStreamsMatchTheReferenceAndStayValidUtf8) {
  auto tok = byte_tokenizer();
  std::mt19937 rng(2024);
  const std::vector<std::string> alphabet = {
      "a", "b", " ", "\n", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"};  // é € 😀
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  int stopped = 0;
  for (int trial = 0; trial < 400; ++trial) {
    std::string text;
    const int chars = 5 + pick(30);
    for (int i = 0; i < chars; ++i) text += alphabet[static_cast<size_t>(pick(7))];
    std::vector<std::string> stops;
    for (int k = pick(3); k > 0; --k) {
      // A random substring starting on a character boundary, sometimes not in the text.
      std::string s;
      for (int len = 1 + pick(3); len > 0; --len) s += alphabet[static_cast<size_t>(pick(7))];
      stops.push_back(s);
    }
    const Ids ids = bytes(text);  // byte tokens: characters split across tokens
    SamplingParams p = with_stops(stops);
    OutputProcessor op(tok, p);
    std::string got;
    size_t i = 0;
    while (i < ids.size() && !op.finished()) {
      const size_t n = std::min(ids.size() - i, static_cast<size_t>(1 + pick(3)));
      Ids chunk(ids.begin() + static_cast<std::ptrdiff_t>(i),
                ids.begin() + static_cast<std::ptrdiff_t>(i + n));
      i += n;
      TextDelta d =
          op.process(event(chunk, i == ids.size() ? FinishReason::kLength : FinishReason::kNone));
      ASSERT_TRUE(tok::is_valid_utf8(d.text)) << "trial " << trial;
      got += d.text;
    }
    ASSERT_TRUE(op.finished());
    const std::string expected = reference_output(*tok, ids, stops);
    ASSERT_EQ(got, expected) << "trial " << trial << " text '" << text << "'";
    ASSERT_EQ(op.text(), expected);
    stopped += expected.size() < text.size() ? 1 : 0;
  }
  EXPECT_GT(stopped, 50);  // the stop path was exercised
}

}  // namespace
}  // namespace radix
