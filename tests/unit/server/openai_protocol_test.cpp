// OpenAI request parsing and response shapes: every field a client may send is read
// with its type and range checked; responses and chunks have the fields the official
// clients read.
#include <gtest/gtest.h>

#include "server/openai_protocol.h"

namespace radix::server {
namespace {

using nlohmann::json;

std::optional<ApiError> parse_completion(const std::string& body, CompletionRequest* out) {
  return parse_completion_request(json::parse(body), out);
}

TEST(OpenAiProtocol, ParsesACompletionWithSamplingFields) {
  CompletionRequest r;
  auto err = parse_completion(R"({"model":"m","prompt":"hi","max_tokens":7,"temperature":0.5,
      "top_p":0.9,"top_k":5,"min_p":0.1,"n":2,"stop":["x","y"],"seed":42,"stream":true,
      "stream_options":{"include_usage":true},"frequency_penalty":0.5,"presence_penalty":-0.5,
      "repetition_penalty":1.1,"ignore_eos":true,"min_tokens":2,"stop_token_ids":[5],
      "echo":true,"logprobs":3})",
                              &r);
  ASSERT_FALSE(err.has_value()) << err->message;
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.prompts.size(), 1u);
  EXPECT_EQ(r.prompts[0].text, "hi");
  EXPECT_EQ(r.params.max_new_tokens, 7);
  EXPECT_TRUE(r.max_tokens_set);
  EXPECT_FLOAT_EQ(r.params.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.params.top_p, 0.9f);
  EXPECT_EQ(r.params.top_k, 5);
  EXPECT_EQ(r.params.n, 2);
  EXPECT_EQ(r.params.stop, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(r.params.seed, std::optional<uint64_t>(42));
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_TRUE(r.params.ignore_eos);
  EXPECT_EQ(r.params.min_new_tokens, 2);
  EXPECT_EQ(r.params.stop_token_ids, std::vector<int32_t>{5});
  EXPECT_TRUE(r.echo);
  EXPECT_TRUE(r.params.return_logprob);
  EXPECT_EQ(r.params.top_logprobs_num, 3);
  EXPECT_EQ(r.params.logprob_start_len, 0);  // echo + logprobs: prompt logprobs too
}

// Structured output on both routes: response_format json_object / json_schema (the
// schema object), and SGLang's extra regex / json_schema fields; "text" is no constraint.
TEST(OpenAiProtocol, ReadsStructuredOutputFields) {
  using Kind = constrained::Constraint::Kind;
  ChatRequest c;
  ASSERT_FALSE(parse_chat_request(json::parse(R"({"messages":[{"role":"user","content":"x"}],
      "response_format":{"type":"json_schema","json_schema":{"name":"p","strict":true,
      "schema":{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}}}})"),
                                  &c));
  EXPECT_EQ(c.params.constraint.kind, Kind::kJsonSchema);
  EXPECT_EQ(c.params.constraint.param, "response_format.json_schema.schema");
  EXPECT_EQ(json::parse(c.params.constraint.spec)["required"], json::parse(R"(["a"])"));
  ChatRequest o;
  ASSERT_FALSE(parse_chat_request(
      json::parse(R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}})"), &o));
  EXPECT_EQ(o.params.constraint.kind, Kind::kJsonObject);
  ChatRequest t;
  ASSERT_FALSE(parse_chat_request(
      json::parse(R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"text"}})"), &t));
  EXPECT_FALSE(t.params.constraint.active());
  CompletionRequest r;
  ASSERT_FALSE(parse_completion(R"({"prompt":"x","regex":"[0-9]+"})", &r));
  EXPECT_EQ(r.params.constraint.kind, Kind::kRegex);
  EXPECT_EQ(r.params.constraint.spec, "[0-9]+");
  EXPECT_EQ(r.params.constraint.param, "regex");
  // vLLM's names.
  CompletionRequest gc;
  ASSERT_FALSE(parse_completion(R"({"prompt":"x","guided_choice":["yes","no.","a|b"]})", &gc));
  EXPECT_EQ(gc.params.constraint.kind, Kind::kRegex);
  EXPECT_EQ(gc.params.constraint.spec, "(?:yes|no\\.|a\\|b)");
  EXPECT_EQ(gc.params.constraint.param, "guided_choice");
  CompletionRequest gj;
  ASSERT_FALSE(parse_completion(R"({"prompt":"x","guided_json":{"type":"integer"}})", &gj));
  EXPECT_EQ(gj.params.constraint.kind, Kind::kJsonSchema);
  EXPECT_TRUE(gj.params.constraint.from_object);
  CompletionRequest gr;
  ASSERT_FALSE(parse_completion(R"({"prompt":"x","guided_regex":"[0-9]+"})", &gr));
  EXPECT_EQ(gr.params.constraint.spec, "[0-9]+");
  CompletionRequest j;
  ASSERT_FALSE(parse_completion(R"({"prompt":"x","json_schema":"{\"type\":\"boolean\"}","regex":""})", &j));
  EXPECT_EQ(j.params.constraint.kind, Kind::kJsonSchema);
}

TEST(OpenAiProtocol, DefaultsMaxTokensTo16AndMarksItUnset) {
  CompletionRequest r;
  ASSERT_FALSE(parse_completion(R"({"prompt":"hi"})", &r).has_value());
  EXPECT_EQ(r.params.max_new_tokens, 16);
  EXPECT_FALSE(r.max_tokens_set);
}

TEST(OpenAiProtocol, AcceptsEveryPromptShape) {
  CompletionRequest r;
  ASSERT_FALSE(parse_completion(R"({"prompt":["a","b"]})", &r).has_value());
  EXPECT_EQ(r.prompts.size(), 2u);
  ASSERT_FALSE(parse_completion(R"({"prompt":[1,2,3]})", &r).has_value());
  ASSERT_EQ(r.prompts.size(), 1u);
  EXPECT_FALSE(r.prompts[0].is_text);
  EXPECT_EQ(r.prompts[0].ids, (std::vector<int32_t>{1, 2, 3}));
  ASSERT_FALSE(parse_completion(R"({"prompt":[[1,2],[3]]})", &r).has_value());
  EXPECT_EQ(r.prompts.size(), 2u);
}

struct BadCase {
  const char* body;
  const char* param;
};

TEST(OpenAiProtocol, RejectsMalformedFieldsNamingTheField) {
  const BadCase cases[] = {
      {R"({})", "prompt"},
      {R"({"prompt":null})", "prompt"},
      {R"({"prompt":5})", "prompt"},
      {R"({"prompt":[]})", "prompt"},
      {R"({"prompt":[1,-2]})", "prompt"},
      {R"({"prompt":[1,2.5]})", "prompt"},
      {R"({"prompt":[1,99999999999]})", "prompt"},
      {R"({"prompt":[[1],[]]})", "prompt"},
      {R"({"prompt":[{"a":1}]})", "prompt"},
      {R"({"prompt":"x","max_tokens":"10"})", "max_tokens"},
      {R"({"prompt":"x","max_tokens":-1})", "max_tokens"},
      {R"({"prompt":"x","max_tokens":1e300})", "max_tokens"},
      {R"({"prompt":"x","max_tokens":99999999999999999999999})", "max_tokens"},
      {R"({"prompt":"x","max_tokens":3.5})", "max_tokens"},
      {R"({"prompt":"x","n":0})", "n"},
      {R"({"prompt":"x","n":100000})", "n"},
      {R"({"prompt":"x","temperature":-1})", "temperature"},
      {R"({"prompt":"x","temperature":"hot"})", "temperature"},
      {R"({"prompt":"x","top_p":1.5})", "top_p"},
      {R"({"prompt":"x","top_p":0})", "top_p"},
      {R"({"prompt":"x","repetition_penalty":0})", "repetition_penalty"},
      {R"({"prompt":"x","stop":5})", "stop"},
      {R"({"prompt":"x","stop":[""]})", "stop"},
      {R"({"prompt":"x","stop":["a",1]})", "stop"},
      {R"({"prompt":"x","stream":"yes"})", "stream"},
      {R"({"prompt":"x","stream_options":{"include_usage":true}})", "stream_options"},
      {R"({"prompt":"x","logprobs":50})", "logprobs"},
      {R"({"prompt":"x","logit_bias":{"5":1}})", "logit_bias"},
      {R"({"prompt":"x","best_of":3})", "best_of"},
      {R"({"prompt":"x","stop_token_ids":[-1]})", "stop_token_ids"},
      {R"({"prompt":"x","seed":"abc"})", "seed"},
      {R"({"prompt":"x","model":7})", "model"},
      {R"({"prompt":"x","regex":["a"]})", "regex"},
      {R"({"prompt":"x","json_schema":5})", "json_schema"},
      {R"({"prompt":"x","regex":"a","json_schema":"{}"})", "json_schema"},
      {R"({"prompt":"x","ebnf":"root ::= \"a\""})", "ebnf"},
      {R"({"prompt":"x","guided_grammar":"root ::= \"a\""})", "guided_grammar"},
      {R"({"prompt":"x","guided_choice":[]})", "guided_choice"},
      {R"({"prompt":"x","guided_choice":["a",""]})", "guided_choice"},
      {R"({"prompt":"x","guided_regex":"a","regex":"b"})", "guided_regex"},
  };
  for (const auto& c : cases) {
    CompletionRequest r;
    auto err = parse_completion(c.body, &r);
    ASSERT_TRUE(err.has_value()) << c.body;
    EXPECT_EQ(err->http_status, 400) << c.body;
    EXPECT_EQ(err->param, c.param) << c.body << " -> " << err->message;
    EXPECT_FALSE(err->message.empty());
  }
}

TEST(OpenAiProtocol, RejectsABodyThatIsNotAnObject) {
  for (const char* body : {"[]", "5", "\"x\"", "null"}) {
    CompletionRequest r;
    auto err = parse_completion(body, &r);
    ASSERT_TRUE(err.has_value()) << body;
    EXPECT_EQ(err->http_status, 400);
  }
}

TEST(OpenAiProtocol, NormalizesChatContentPartsToText) {
  ChatRequest r;
  auto err = parse_chat_request(json::parse(R"({"messages":[
      {"role":"system","content":"be brief"},
      {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
      {"role":"assistant","content":null}],"max_completion_tokens":5,"logprobs":true,
      "top_logprobs":2})"),
                                &r);
  ASSERT_FALSE(err.has_value()) << err->message;
  EXPECT_EQ(r.messages[1]["content"], "a\nb");
  EXPECT_EQ(r.messages[2]["content"], "");
  EXPECT_EQ(r.params.max_new_tokens, 5);
  EXPECT_TRUE(r.max_tokens_set);
  EXPECT_TRUE(r.params.return_logprob);
  EXPECT_EQ(r.params.top_logprobs_num, 2);
}

TEST(OpenAiProtocol, RejectsMalformedChatMessages) {
  const BadCase cases[] = {
      {R"({})", "messages"},
      {R"({"messages":[]})", "messages"},
      {R"({"messages":"hi"})", "messages"},
      {R"({"messages":[5]})", "messages[0]"},
      {R"({"messages":[{"content":"x"}]})", "messages[0].role"},
      {R"({"messages":[{"role":"wizard","content":"x"}]})", "messages[0].role"},
      {R"({"messages":[{"role":"user","content":5}]})", "messages[0].content"},
      {R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})", "messages[0].content"},
      {R"({"messages":[{"role":"user","content":"x"}],"top_logprobs":2})", "top_logprobs"},
      {R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"xml"}})",
       "response_format.type"},
      {R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema"}})",
       "response_format.json_schema"},
      {R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"a"}}})",
       "response_format.json_schema.schema"},
      {R"({"messages":[{"role":"user","content":"x"}],"response_format":"json"})", "response_format"},
      {R"({"messages":[{"role":"user","content":"x"}],"regex":"a","response_format":{"type":"json_object"}})",
       "response_format"},
      {R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}],"tool_choice":"auto"})",
       "tool_choice"},
      {R"({"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"function","function":{"name":"f"}}})",
       "tool_choice"},
      {R"({"messages":[{"role":"user","content":"x"}],"tools":{"type":"function"}})", "tools"},
      {R"({"messages":[{"role":"user","content":"x"}],"tools":[5]})", "tools"},
      {R"({"messages":[{"role":"user","content":"x"}],"functions":[{"name":"f"}]})", "functions"},
  };
  for (const auto& c : cases) {
    ChatRequest r;
    auto err = parse_chat_request(json::parse(c.body), &r);
    ASSERT_TRUE(err.has_value()) << c.body;
    EXPECT_EQ(err->http_status, 400);
    EXPECT_EQ(err->param, c.param) << c.body << " -> " << err->message;
  }
}

// Tools as vLLM serves them without a tool parser: passed to the chat template,
// tool_choice "none" by default; calls requested (above) are refused.
TEST(OpenAiProtocol, ToolsGoToTheChatTemplate) {
  ChatRequest r;
  auto err = parse_chat_request(json::parse(R"({"messages":[{"role":"user","content":"x"}],
      "tools":[{"type":"function","function":{"name":"f","parameters":{}}}]})"),
                                &r);
  ASSERT_FALSE(err.has_value()) << err->message;
  ASSERT_TRUE(r.template_kwargs.contains("tools"));
  EXPECT_EQ(r.template_kwargs["tools"][0]["function"]["name"], "f");
  for (const char* body : {R"({"messages":[{"role":"user","content":"x"}],"tools":[],"tool_choice":"none"})",
                           R"({"messages":[{"role":"user","content":"x"}],"tools":null})"}) {
    ChatRequest q;
    auto e = parse_chat_request(json::parse(body), &q);
    EXPECT_FALSE(e.has_value()) << body;
    EXPECT_FALSE(q.template_kwargs.contains("tools")) << body;
  }
}

TEST(OpenAiProtocol, ErrorBodyHasTheFourOpenAiFields) {
  json j = bad_request("bad n", "n").to_json();
  ASSERT_TRUE(j.contains("error"));
  EXPECT_EQ(j["error"]["message"], "bad n");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["param"], "n");
  EXPECT_TRUE(j["error"].contains("code"));
  json none = unauthorized("no").to_json();
  EXPECT_TRUE(none["error"]["param"].is_null());
}

TEST(OpenAiProtocol, MapsStatusCodesToHttpStatuses) {
  EXPECT_EQ(api_error_from(invalid_argument("x")).http_status, 400);
  EXPECT_EQ(api_error_from(out_of_range("x")).http_status, 400);
  EXPECT_EQ(api_error_from(not_found("x")).http_status, 404);
  EXPECT_EQ(api_error_from(resource_exhausted("x")).http_status, 503);
  EXPECT_EQ(api_error_from(unavailable("x")).http_status, 503);
  EXPECT_EQ(api_error_from(internal_error("x")).http_status, 500);
}

std::string text_of(int32_t id) {
  return "<" + std::to_string(id) + ">";
}

TEST(OpenAiProtocol, CompletionLogprobsHaveTokensOffsetsAndTopMaps) {
  std::vector<TokenLogprob> toks = {{7, -0.5f, {{8, -1.0f}}}, {9, -0.25f, {{8, -2.0f}}}};
  json lp = completion_logprobs_json(toks, text_of, 3, /*prompt_first=*/true);
  EXPECT_EQ(lp["tokens"], json::array({"<7>", "<9>"}));
  EXPECT_TRUE(lp["token_logprobs"][0].is_null());  // first prompt token: no logprob
  EXPECT_FLOAT_EQ(lp["token_logprobs"][1].get<float>(), -0.25f);
  EXPECT_TRUE(lp["top_logprobs"][0].is_null());
  EXPECT_FLOAT_EQ(lp["top_logprobs"][1]["<8>"].get<float>(), -2.0f);
  EXPECT_FLOAT_EQ(lp["top_logprobs"][1]["<9>"].get<float>(), -0.25f);
  EXPECT_EQ(lp["text_offset"], json::array({3, 6}));
}

TEST(OpenAiProtocol, ChatLogprobsListBytesAndAlternatives) {
  std::vector<TokenLogprob> toks = {{7, -0.5f, {{8, -1.0f}}}};
  json lp = chat_logprobs_json(toks, text_of);
  ASSERT_EQ(lp["content"].size(), 1u);
  const auto& e = lp["content"][0];
  EXPECT_EQ(e["token"], "<7>");
  EXPECT_EQ(e["bytes"], json::array({'<', '7', '>'}));
  EXPECT_EQ(e["top_logprobs"][0]["token"], "<8>");
}

TEST(OpenAiProtocol, InfiniteLogprobsAreReportedAsAFiniteFloor) {
  std::vector<TokenLogprob> toks = {{7, -std::numeric_limits<float>::infinity(), {}}};
  json lp = chat_logprobs_json(toks, text_of);
  EXPECT_TRUE(lp["content"][0]["logprob"].is_number());
  EXPECT_LT(lp["content"][0]["logprob"].get<double>(), -1000.0);
}

TEST(OpenAiProtocol, UsageCountsEachPromptOnceAndEveryChoice) {
  std::vector<PromptResult> prompts(2);
  prompts[0].prompt_tokens = 5;
  prompts[1].prompt_tokens = 3;
  prompts[1].cached_tokens = 2;
  std::vector<ChoiceResult> choices(4);
  for (auto& c : choices) c.completion_tokens = 10;
  json u = usage_json(prompts, choices);
  EXPECT_EQ(u["prompt_tokens"], 8);
  EXPECT_EQ(u["completion_tokens"], 40);
  EXPECT_EQ(u["total_tokens"], 48);
  EXPECT_EQ(u["prompt_tokens_details"]["cached_tokens"], 2);
}

TEST(OpenAiProtocol, ChatChunksCarryRoleFirstAndOneFinishReason) {
  ChatRequest req;
  req.include_usage = true;
  ResponseMeta meta{"chatcmpl-1", 100, "m"};
  json role = chat_role_chunk(meta, req, 0);
  EXPECT_EQ(role["object"], "chat.completion.chunk");
  EXPECT_EQ(role["choices"][0]["delta"]["role"], "assistant");
  EXPECT_TRUE(role["choices"][0]["finish_reason"].is_null());
  EXPECT_TRUE(role.contains("usage") && role["usage"].is_null());
  ChoiceUpdate u;
  u.finished = true;
  u.finish_reason = FinishReason::kLength;
  json fin = chat_finish_chunk(meta, req, u);
  EXPECT_EQ(fin["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(fin["choices"][0]["delta"].is_object());
}

}  // namespace
}  // namespace radix::server
