// SGLang /generate parsing and meta_info shapes.
#include <gtest/gtest.h>

#include "server/native_protocol.h"

namespace radix::server {
namespace {

using nlohmann::json;

TEST(NativeProtocol, ParsesASingleTextPromptWithSamplingParams) {
  GenerateRequest r;
  auto err = parse_generate_request(json::parse(R"({"text":"hi","sampling_params":
      {"max_new_tokens":5,"temperature":0,"stop":"x","n":1},"return_logprob":true,
      "top_logprobs_num":2,"logprob_start_len":0,"stream":true,"rid":"abc"})"),
                                    &r);
  ASSERT_FALSE(err.has_value()) << err->message;
  ASSERT_EQ(r.items.size(), 1u);
  EXPECT_FALSE(r.batch);
  EXPECT_FALSE(r.list_response());
  EXPECT_TRUE(r.stream);
  const auto& it = r.items[0];
  EXPECT_EQ(it.prompt.text, "hi");
  EXPECT_EQ(it.params.max_new_tokens, 5);
  EXPECT_EQ(it.params.temperature, 0.0f);
  EXPECT_EQ(it.params.stop, std::vector<std::string>{"x"});
  EXPECT_TRUE(it.params.return_logprob);
  EXPECT_EQ(it.params.top_logprobs_num, 2);
  EXPECT_EQ(it.params.logprob_start_len, 0);
  EXPECT_EQ(it.rid, "abc");
}

TEST(NativeProtocol, BatchTakesPerItemListsAndRespondsWithAList) {
  GenerateRequest r;
  auto err = parse_generate_request(json::parse(R"({"input_ids":[[1,2],[3]],
      "sampling_params":[{"max_new_tokens":1},{"max_new_tokens":2}],
      "return_logprob":[true,false]})"),
                                    &r);
  ASSERT_FALSE(err.has_value()) << err->message;
  ASSERT_EQ(r.items.size(), 2u);
  EXPECT_TRUE(r.list_response());
  EXPECT_EQ(r.items[1].prompt.ids, std::vector<int32_t>{3});
  EXPECT_EQ(r.items[0].params.max_new_tokens, 1);
  EXPECT_EQ(r.items[1].params.max_new_tokens, 2);
  EXPECT_TRUE(r.items[0].params.return_logprob);
  EXPECT_FALSE(r.items[1].params.return_logprob);
}

TEST(NativeProtocol, ASinglePromptWithNAboveOneRespondsWithAList) {
  GenerateRequest r;
  ASSERT_FALSE(
      parse_generate_request(json::parse(R"({"text":"a","sampling_params":{"n":3}})"), &r));
  EXPECT_TRUE(r.list_response());
}

// Structured output: sampling_params.regex / json_schema (a JSON string, as SGLang takes
// it, or an object) become the request's constraint, named for error messages.
TEST(NativeProtocol, ReadsStructuredOutputFields) {
  using Kind = constrained::Constraint::Kind;
  GenerateRequest r;
  ASSERT_FALSE(parse_generate_request(json::parse(R"J({"text":"a","sampling_params":{"regex":"(yes|no)"}})J"), &r));
  EXPECT_EQ(r.items.at(0).params.constraint.kind, Kind::kRegex);
  EXPECT_EQ(r.items.at(0).params.constraint.spec, "(yes|no)");
  EXPECT_EQ(r.items.at(0).params.constraint.param, "sampling_params.regex");
  GenerateRequest s;
  ASSERT_FALSE(parse_generate_request(
      json::parse(R"({"text":"a","sampling_params":{"json_schema":"{\"type\": \"integer\"}"}})"), &s));
  EXPECT_EQ(s.items.at(0).params.constraint.kind, Kind::kJsonSchema);
  EXPECT_EQ(json::parse(s.items.at(0).params.constraint.spec), json::parse(R"({"type": "integer"})"));
  GenerateRequest o;
  ASSERT_FALSE(parse_generate_request(
      json::parse(R"({"text":"a","sampling_params":{"json_schema":{"type":"string"},"regex":""}})"), &o));
  EXPECT_EQ(o.items.at(0).params.constraint.kind, Kind::kJsonSchema);  // an empty regex counts as absent
  EXPECT_EQ(json::parse(o.items.at(0).params.constraint.spec), json::parse(R"({"type":"string"})"));
  GenerateRequest none;
  ASSERT_FALSE(parse_generate_request(json::parse(R"({"text":"a"})"), &none));
  EXPECT_FALSE(none.items.at(0).params.constraint.active());
}

TEST(NativeProtocol, RejectsMalformedRequests) {
  const char* bodies[] = {
      R"({})",
      R"({"text":"a","input_ids":[1]})",
      R"({"text":5})",
      R"({"input_ids":["a"]})",
      R"({"input_ids":[-1]})",
      R"({"text":["a","b"],"sampling_params":[{}]})",
      R"({"text":"a","sampling_params":5})",
      R"({"text":"a","sampling_params":{"max_new_tokens":-5}})",
      R"({"text":"a","sampling_params":{"temperature":"x"}})",
      R"({"text":"a","sampling_params":{"regex":5}})",
      R"({"text":"a","sampling_params":{"regex":"a+","json_schema":"{}"}})",
      R"({"text":"a","sampling_params":{"json_schema":7}})",
      R"({"text":"a","sampling_params":{"ebnf":"root ::= \"a\""}})",
      R"({"text":"a","return_logprob":"yes"})",
      R"({"text":"a","top_logprobs_num":1000})",
      R"({"text":"a","stream":1})",
      R"({"text":"a","image_data":"x.png"})",
      R"([1,2])",
  };
  for (const char* b : bodies) {
    GenerateRequest r;
    auto err = parse_generate_request(json::parse(b), &r);
    ASSERT_TRUE(err.has_value()) << b;
    EXPECT_EQ(err->http_status, 400) << b;
  }
}

// Ranges the engine enforces are checked while parsing, so the error names the field.
TEST(NativeProtocol, OpenLowerBoundsNameTheirField) {
  for (const char* key : {"top_p", "repetition_penalty"}) {
    GenerateRequest r;
    auto err = parse_generate_request(
        json::parse(std::string(R"({"text":"a","sampling_params":{")") + key + R"(":0}})"), &r);
    ASSERT_TRUE(err.has_value()) << key;
    EXPECT_EQ(err->http_status, 400);
    EXPECT_EQ(err->param, std::string("sampling_params.") + key);
  }
}

TEST(NativeProtocol, FinishReasonObjectsFollowSglang) {
  EXPECT_EQ(native_finish_reason(FinishReason::kStop, std::string("END"), -1, 3),
            json({{"type", "stop"}, {"matched", "END"}}));
  EXPECT_EQ(native_finish_reason(FinishReason::kStop, std::nullopt, 2, 3),
            json({{"type", "stop"}, {"matched", 2}}));
  EXPECT_EQ(native_finish_reason(FinishReason::kLength, std::nullopt, -1, 7),
            json({{"type", "length"}, {"length", 7}}));
  EXPECT_EQ(native_finish_reason(FinishReason::kAbort, std::nullopt, -1, 0),
            json({{"type", "abort"}}));
  EXPECT_TRUE(native_finish_reason(FinishReason::kNone, std::nullopt, -1, 0).is_null());
}

TEST(NativeProtocol, MetaInfoListsPromptAndOutputLogprobsAsTriples) {
  GenerateRequest req;
  req.return_text_in_logprobs = true;
  GenerateItem item;
  item.params.return_logprob = true;
  item.params.logprob_start_len = 0;
  item.params.top_logprobs_num = 1;
  PromptResult prompt;
  prompt.rid = "r1";
  prompt.prompt_ids = {5, 6, 7};
  prompt.prompt_tokens = 3;
  prompt.prompt_logprobs = {{6, -1.0f, {{9, -0.5f}}}, {7, -2.0f, {{9, -0.1f}}}};
  ChoiceResult choice;
  choice.text = "out";
  choice.finished = true;
  choice.finish_reason = FinishReason::kLength;
  choice.completion_tokens = 1;
  choice.logprobs = {{8, -0.3f, {{9, -0.2f}}}};
  auto text = [](int32_t id) { return "t" + std::to_string(id); };
  json j = native_item_json(req, item, prompt, choice, text);
  EXPECT_EQ(j["text"], "out");
  const json& m = j["meta_info"];
  EXPECT_EQ(m["id"], "r1");
  EXPECT_EQ(m["prompt_tokens"], 3);
  EXPECT_EQ(m["completion_tokens"], 1);
  EXPECT_EQ(m["finish_reason"]["type"], "length");
  ASSERT_EQ(m["input_token_logprobs"].size(), 3u);
  EXPECT_TRUE(m["input_token_logprobs"][0][0].is_null());  // position 0 has no logprob
  EXPECT_EQ(m["input_token_logprobs"][0][1], 5);
  EXPECT_FLOAT_EQ(m["input_token_logprobs"][2][0].get<float>(), -2.0f);
  EXPECT_EQ(m["input_token_logprobs"][2][2], "t7");
  EXPECT_EQ(m["output_token_logprobs"][0][1], 8);
  EXPECT_EQ(m["output_top_logprobs"][0][0][1], 9);
}

}  // namespace
}  // namespace radix::server
