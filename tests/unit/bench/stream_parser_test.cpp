// SSE framing split across reads at every byte, and the timings a StreamRecorder takes
// from /generate, /v1/completions and /v1/chat/completions streams.
#include "bench/stream_parser.h"

#include <gtest/gtest.h>

namespace radix::bench {
namespace {

std::vector<std::string> parse_in_pieces(const std::string& body, size_t piece) {
  SseParser p;
  std::vector<std::string> events;
  for (size_t i = 0; i < body.size(); i += piece)
    p.feed(std::string_view(body).substr(i, piece), &events);
  p.finish(&events);
  return events;
}

TEST(SseParser, SplitsEventsWhateverTheReadBoundaries) {
  const std::string body =
      "data: {\"a\":1}\n\n"
      ": a comment line\n"
      "event: message\nid: 7\n"
      "data: {\"b\":2}\r\n\r\n"
      "data:no-space\r\r"
      "data: line one\ndata: line two\n\n"
      "data: [DONE]\n\n";
  const std::vector<std::string> want = {"{\"a\":1}", "{\"b\":2}", "no-space", "line one\nline two",
                                         "[DONE]"};
  for (size_t piece : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, body.size()}) {
    EXPECT_EQ(parse_in_pieces(body, piece), want) << "pieces of " << piece;
  }
}

TEST(SseParser, KeepsALastEventWithoutTheClosingBlankLine) {
  EXPECT_EQ(parse_in_pieces("data: x\n\ndata: [DONE]", 4),
            (std::vector<std::string>{"x", "[DONE]"}));
  EXPECT_EQ(parse_in_pieces("data: x\n\ndata: [DONE]\n", 4),
            (std::vector<std::string>{"x", "[DONE]"}));
  EXPECT_TRUE(parse_in_pieces("\n\n: only comments\n\n", 1).empty());
}

TEST(SseParser, AnEmptyDataFieldIsAnEvent) {
  EXPECT_EQ(parse_in_pieces("data:\n\n", 1), (std::vector<std::string>{""}));
}

TEST(StreamRecorder, CompletionsTimesTextChunksAndTakesUsage) {
  StreamRecorder r(StreamFormat::kCompletions);
  r.on_event(R"({"choices":[{"index":0,"text":"Hel","finish_reason":null}]})", 0.10);
  r.on_event(R"({"choices":[{"index":0,"text":"","finish_reason":null}]})", 0.12);  // no output
  r.on_event(R"({"choices":[{"index":0,"text":"lo","finish_reason":null}]})", 0.15);
  r.on_event(R"({"choices":[{"index":0,"text":"!","finish_reason":"length"}]})", 0.30);
  r.on_event(R"({"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}})",
             0.31);
  r.on_event("[DONE]", 0.32);
  RequestOutput out;
  r.finish(0.33, &out);
  EXPECT_TRUE(out.success) << out.error;
  EXPECT_EQ(out.generated_text, "Hello!");
  EXPECT_DOUBLE_EQ(out.ttft, 0.10);
  ASSERT_EQ(out.itl.size(), 2u);
  EXPECT_NEAR(out.itl[0], 0.05, 1e-12);
  EXPECT_NEAR(out.itl[1], 0.15, 1e-12);
  EXPECT_DOUBLE_EQ(out.latency, 0.32);  // the last event, [DONE] included
  EXPECT_EQ(out.output_len, 3);
  EXPECT_TRUE(out.output_len_from_server);
  EXPECT_EQ(out.server_prompt_tokens, 5);
}

TEST(StreamRecorder, ChatSkipsTheRoleChunkAndCountsContent) {
  StreamRecorder r(StreamFormat::kChatCompletions);
  r.on_event(R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})", 0.01);
  r.on_event(R"({"choices":[{"index":0,"delta":{"content":"a"}}]})", 0.20);
  r.on_event(R"({"choices":[{"index":0,"delta":{"content":"b"},"finish_reason":"stop"}]})", 0.25);
  r.on_event("[DONE]", 0.26);
  RequestOutput out;
  r.finish(0.3, &out);
  EXPECT_TRUE(out.success);
  EXPECT_EQ(out.generated_text, "ab");
  EXPECT_DOUBLE_EQ(out.ttft, 0.20);
  ASSERT_EQ(out.itl.size(), 1u);
  EXPECT_NEAR(out.itl[0], 0.05, 1e-12);
  EXPECT_FALSE(out.output_len_from_server);  // no usage chunk: the caller re-tokenizes
  EXPECT_EQ(out.server_prompt_tokens, -1);
}

TEST(StreamRecorder, GenerateUsesCumulativeTextAndSpreadsMultiTokenChunks) {
  StreamRecorder r(StreamFormat::kGenerate);
  r.on_event(
      R"({"text":"ab","meta_info":{"prompt_tokens":4,"completion_tokens":1,"finish_reason":null}})",
      0.2);
  // A chunk carrying a token whose text is held back (an unfinished character) counts.
  r.on_event(R"({"text":"ab","meta_info":{"completion_tokens":2,"finish_reason":null}})", 0.3);
  // Two tokens in one chunk: SGLang splits the gap evenly.
  r.on_event(
      R"({"text":"abcd","meta_info":{"completion_tokens":4,"finish_reason":{"type":"length","length":4}}})",
      0.5);
  r.on_event("[DONE]", 0.5);
  RequestOutput out;
  r.finish(0.5, &out);
  EXPECT_TRUE(out.success) << out.error;
  EXPECT_EQ(out.generated_text, "abcd");
  EXPECT_DOUBLE_EQ(out.ttft, 0.2);
  ASSERT_EQ(out.itl.size(), 3u);
  EXPECT_NEAR(out.itl[0], 0.1, 1e-12);
  EXPECT_NEAR(out.itl[1], 0.1, 1e-12);
  EXPECT_NEAR(out.itl[2], 0.1, 1e-12);
  EXPECT_EQ(out.output_len, 4);
  EXPECT_TRUE(out.output_len_from_server);
  EXPECT_EQ(out.server_prompt_tokens, 4);
}

TEST(StreamRecorder, FailsOnErrorEventsMalformedChunksAndCutStreams) {
  {
    StreamRecorder r(StreamFormat::kCompletions);
    r.on_event(R"({"choices":[{"text":"x"}]})", 0.1);
    r.on_event(R"({"error":{"message":"KV cache exhausted","type":"server_error"}})", 0.2);
    r.on_event("[DONE]", 0.3);
    RequestOutput out;
    r.finish(0.3, &out);
    EXPECT_FALSE(out.success);
    EXPECT_NE(out.error.find("KV cache exhausted"), std::string::npos) << out.error;
  }
  {
    StreamRecorder r(StreamFormat::kChatCompletions);
    r.on_event("{not json", 0.1);
    RequestOutput out;
    r.finish(0.2, &out);
    EXPECT_FALSE(out.success);
    EXPECT_NE(out.error.find("malformed"), std::string::npos);
  }
  {
    StreamRecorder r(StreamFormat::kGenerate);
    r.on_event(R"({"text":"a","meta_info":{"completion_tokens":1,"finish_reason":null}})", 0.1);
    RequestOutput out;
    r.finish(0.2, &out);  // neither [DONE] nor a finish_reason
    EXPECT_FALSE(out.success);
  }
}

TEST(StreamRecorder, AStreamWithNoOutputTakesTtftFromItsEnd) {
  StreamRecorder r(StreamFormat::kCompletions);
  r.on_event(R"({"choices":[{"text":"","finish_reason":"stop"}]})", 0.4);
  r.on_event("[DONE]", 0.5);
  RequestOutput out;
  r.finish(0.5, &out);
  EXPECT_TRUE(out.success);
  EXPECT_DOUBLE_EQ(out.ttft, 0.5);
  EXPECT_TRUE(out.itl.empty());
}

}  // namespace
}  // namespace radix::bench
