// Tokenizer tests over the real npm tokenizer files (scripts/test-setup.sh): loading with
// tokenizer_config.json, robustness on invalid UTF-8 and random bytes, thread safety, and
// the incremental detokenizer's invariants. Id-level parity with Hugging Face is
// tests/e2e/tokenizer_parity.mjs.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/tokenizer/tokenizer_test_util.h"
#include "tokenizer/unicode.h"

namespace radix {
namespace {

const char* const kReal[] = {"llama3", "llama3_1", "qwen3", "deepseek_v3", "gemma3", "llama2"};

const char* const kSamples[] = {
    "Hello world! 你好，世界。",
    "emoji 👨‍👩‍👧‍👦 and 🏳️‍🌈 flags 🇯🇵, rare 𠀀𪚥 CJK",
    "नमस्ते दुनिया — مرحبا بالعالم",
    "code:\n\tif (x) { return 42; }\n\n   spaces   ",
    "<s>special</s> <|begin_of_text|> <|im_start|>",
};

std::string random_bytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

TEST(Tokenizer, FromDirReadsSpecialTokensFromTokenizerConfig) {
  auto qwen = testing::load_real("qwen3");
  ASSERT_TRUE(qwen);
  EXPECT_EQ(qwen->eos_token(), "<|im_end|>");
  EXPECT_EQ(qwen->eos_token_id(), qwen->token_to_id("<|im_end|>"));
  EXPECT_EQ(qwen->bos_token(), "");
  EXPECT_FALSE(qwen->bos_token_id().has_value());
  EXPECT_EQ(qwen->pad_token(), "<|endoftext|>");

  auto llama2 = testing::load_real("llama2");
  ASSERT_TRUE(llama2);
  EXPECT_EQ(llama2->bos_token(), "<s>");
  EXPECT_EQ(llama2->bos_token_id(), 1);
  EXPECT_EQ(llama2->eos_token_id(), 2);
  EXPECT_TRUE(llama2->is_special(1));
  EXPECT_FALSE(llama2->is_special(100));
}

TEST(Tokenizer, LlamaTokenizerConfigAddsBosLikeTransformers) {
  // DeepSeek-V3's tokenizer.json has no BOS template, but its tokenizer_config.json says
  // LlamaTokenizerFast with add_bos_token: transformers then prepends BOS.
  const std::string dir = testing::real_tokenizer_dir("deepseek_v3");
  ASSERT_FALSE(dir.empty());
  auto plain = Tokenizer::from_file(dir + "/tokenizer.json");
  auto with_config = Tokenizer::from_dir(dir);
  ASSERT_TRUE(plain.is_ok() && with_config.is_ok());
  const auto bos = (*with_config)->bos_token_id();
  ASSERT_TRUE(bos.has_value());
  EXPECT_EQ((*with_config)->bos_token(),
            "<\xEF\xBD\x9C"
            "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>");
  const auto base = (*plain)->encode("Hello");
  auto expected = base;
  expected.insert(expected.begin(), *bos);
  EXPECT_EQ((*with_config)->encode("Hello"), expected);
  EXPECT_EQ((*with_config)->encode("Hello", false), base);
}

TEST(Tokenizer, EncodeDecodeRoundTripsText) {
  for (const char* name : kReal) {
    auto t = testing::load_real(name);
    ASSERT_TRUE(t) << name;
    // The last sample is left out: Llama-2's normalizer puts a "▁" after "<s>" that its
    // decoder then keeps (as in Hugging Face), so that text does not round-trip.
    for (size_t k = 0; k + 1 < std::size(kSamples); ++k) {
      const auto ids = t->encode(kSamples[k], /*add_special_tokens=*/false);
      // Llama-2's decoder strips the space its normalizer prepends; the text is unchanged.
      EXPECT_EQ(t->decode(ids), kSamples[k]) << name;
    }
  }
}

TEST(Tokenizer, InvalidUtf8IsRepairedNeverACrash) {
  std::mt19937 rng(1234);
  for (const char* name : kReal) {
    auto t = testing::load_real(name);
    ASSERT_TRUE(t) << name;
    for (int k = 0; k < 300; ++k) {
      const std::string bytes = random_bytes(rng, rng() % 64);
      const auto ids = t->encode(bytes);
      EXPECT_EQ(ids, t->encode(tok::utf8_lossy(bytes))) << name;
      for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < t->vocab_size()) << name;
      EXPECT_TRUE(tok::is_valid_utf8(t->decode(ids))) << name;
    }
    // Truncated sequences at the very end, a lone continuation byte, overlong forms.
    for (const char* bad : {"abc\xE4\xB8", "\x80", "\xC0\xAF", "\xF4\x90\x80\x80", "\xFF\xFE"}) {
      EXPECT_FALSE(t->encode(bad).empty()) << name;
    }
  }
}

TEST(Tokenizer, DecodeOfRandomIdsIsValidUtf8AndSkipsUnknownIds) {
  std::mt19937 rng(99);
  for (const char* name : kReal) {
    auto t = testing::load_real(name);
    ASSERT_TRUE(t) << name;
    for (int k = 0; k < 200; ++k) {
      std::vector<int32_t> ids(1 + rng() % 16);
      for (auto& id : ids) id = static_cast<int32_t>(rng() % t->vocab_size());
      EXPECT_TRUE(tok::is_valid_utf8(t->decode(ids))) << name;
      EXPECT_TRUE(tok::is_valid_utf8(t->decode(ids, true))) << name;
    }
    const std::vector<int32_t> hello = t->encode("hello", false);
    std::vector<int32_t> with_junk = {-5, t->vocab_size(), t->vocab_size() + 1000};
    with_junk.insert(with_junk.end(), hello.begin(), hello.end());
    EXPECT_EQ(t->decode(with_junk), t->decode(hello)) << name;
  }
}

TEST(Tokenizer, ConcurrentEncodesMatchSequentialOnes) {
  auto t = testing::load_real("llama3");
  ASSERT_TRUE(t);
  std::vector<std::string> texts;
  std::mt19937 rng(7);
  for (int k = 0; k < 200; ++k) {
    texts.push_back(std::string(kSamples[k % 5]) + std::to_string(rng()) + kSamples[(k + 2) % 5]);
  }
  std::vector<std::vector<int32_t>> expected;
  for (const auto& s : texts) expected.push_back(t->encode(s));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      for (int rep = 0; rep < 5; ++rep) {
        for (size_t k = 0; k < texts.size(); ++k) {
          if (t->encode(texts[(k + w * 37) % texts.size()]) !=
              expected[(k + w * 37) % texts.size()]) {
            ++mismatches[w];
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

// Streams `ids` through an IncrementalDetokenizer and checks the invariants: each piece
// is valid UTF-8 and the pieces add up to decode(ids). Returns the number of steps that
// held text back.
int check_stream(const std::shared_ptr<Tokenizer>& t, const std::vector<int32_t>& ids,
                 bool skip_special, const char* name) {
  IncrementalDetokenizer detok(t, skip_special);
  std::string streamed;
  int held = 0;
  for (int32_t id : ids) {
    const std::string piece = detok.step(id);
    EXPECT_TRUE(tok::is_valid_utf8(piece)) << name;
    if (piece.empty()) ++held;
    streamed += piece;
  }
  streamed += detok.flush();
  EXPECT_EQ(streamed, t->decode(ids, skip_special)) << name;
  return held;
}

// token_bytes is what a token adds after other tokens: after a plain first token, the
// bytes of the rest concatenate to the rest of the decoded text (every sample is valid
// UTF-8, so no repair hides a byte), byte tokens included.
TEST(Tokenizer, TokenBytesConcatenateToTheDecodedText) {
  for (const char* name : kReal) {
    auto t = testing::load_real(name);
    ASSERT_TRUE(t) << name;
    for (size_t k = 0; k + 1 < std::size(kSamples); ++k) {  // the last sample has special tokens
      const std::vector<int32_t> ids = t->encode(std::string("a ") + kSamples[k], false);
      ASSERT_GE(ids.size(), 2u);
      std::string bytes = t->decode(std::vector<int32_t>{ids[0]});
      for (size_t i = 1; i < ids.size(); ++i) {
        const auto b = t->token_bytes(ids[i]);
        ASSERT_TRUE(b.has_value()) << name << " id " << ids[i];
        bytes += *b;
      }
      EXPECT_EQ(bytes, t->decode(ids)) << name << ": " << kSamples[k];
    }
    // Special tokens have no bytes; out-of-range ids neither.
    if (auto eos = t->eos_token_id()) {
      EXPECT_FALSE(t->token_bytes(*eos).has_value()) << name;
    }
    EXPECT_FALSE(t->token_bytes(-1).has_value());
    EXPECT_FALSE(t->token_bytes(t->vocab_size()).has_value());
  }
}

TEST(IncrementalDetokenizer, PiecesAddUpToTheFullDecodeOfRandomIds) {
  std::mt19937 rng(2024);
  for (const char* name : kReal) {
    auto t = testing::load_real(name);
    ASSERT_TRUE(t) << name;
    // Byte tokens (<0xXX> or the single-byte tokens of byte-level BPE) split characters.
    std::vector<int32_t> byte_ids;
    for (int32_t id = 0; id < std::min(t->vocab_size(), 2000); ++id) {
      const std::string s = t->id_to_token(id);
      if (s.size() == 6 && s.rfind("<0x", 0) == 0) byte_ids.push_back(id);
      if (!s.empty() && s.size() <= 2 && t->decode(std::vector<int32_t>{id}) == "\xEF\xBF\xBD") {
        byte_ids.push_back(id);
      }
    }
    for (int k = 0; k < 150; ++k) {
      std::vector<int32_t> ids(1 + rng() % 24);
      for (auto& id : ids) {
        const int r = static_cast<int>(rng() % 10);
        id = r < 4 && !byte_ids.empty() ? byte_ids[rng() % byte_ids.size()]
                                        : static_cast<int32_t>(rng() % t->vocab_size());
      }
      check_stream(t, ids, k % 2 == 0, name);
    }
  }
}

TEST(IncrementalDetokenizer, HoldsSplitMultiByteCharactersUntilComplete) {
  for (const char* name : kReal) {
    auto t = testing::load_real(name);
    ASSERT_TRUE(t) << name;
    // Rare characters that every vocabulary here splits into several byte tokens.
    const std::string text =
        "a \xF0\xAA\x9A\xA5\xF0\xA9\xB8\xBD b \xF0\x9F\xA6\x9C\xF0\x9F\xAA\xBC ok";
    const auto ids = t->encode(text, false);
    int split_pieces = 0;
    for (int32_t id : ids) {
      split_pieces += tok::utf8_lossy(t->decode(std::vector<int32_t>{id})).find("\xEF\xBF\xBD") !=
                      std::string::npos;
    }
    ASSERT_GT(split_pieces, 0) << name << ": the sample no longer splits characters";
    EXPECT_GT(check_stream(t, ids, false, name), 0) << name;
    EXPECT_EQ(t->decode(ids), text) << name;
  }
}

TEST(IncrementalDetokenizer, PromptContextKeepsTheLeadingSpace) {
  auto t = testing::load_real("llama2");
  ASSERT_TRUE(t);
  const auto prompt = t->encode("Hello");
  const auto all = t->encode("Hello world again", true);
  ASSERT_GT(all.size(), prompt.size());
  const std::vector<int32_t> generated(all.begin() + static_cast<std::ptrdiff_t>(prompt.size()),
                                       all.end());
  IncrementalDetokenizer detok(t, /*skip_special_tokens=*/true, prompt);
  std::string out;
  for (int32_t id : generated) out += detok.step(id);
  out += detok.flush();
  EXPECT_EQ(out, " world again");
  // Without the prompt the first word loses its space, as decode(generated) does.
  EXPECT_EQ(t->decode(generated, true), "world again");
}

TEST(IncrementalDetokenizer, SkippedSpecialTokensEmitNothing) {
  auto t = testing::load_real("llama3");
  ASSERT_TRUE(t);
  const int32_t bos = *t->token_to_id("<|begin_of_text|>");
  IncrementalDetokenizer skip(t, true);
  EXPECT_EQ(skip.step(bos), "");
  IncrementalDetokenizer keep(t, false);
  EXPECT_EQ(keep.step(bos), "<|begin_of_text|>");
}

}  // namespace
}  // namespace radix
