// Real HTTP round trips against HttpServer over a FakeEngine: the OpenAI and SGLang
// routes, SSE framing as clients parse it, usage and logprobs, stop handling, and the
// operational endpoints.
#include <set>

#include "runtime/constrained/grammar.h"
#include "tests/unit/server/server_fixture.h"

namespace radix::server::testing {
namespace {

using nlohmann::json;

TEST_F(ServerTest, HealthIs503UntilReadyThen200) {
  start({}, /*ready=*/false);
  auto r = get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_TRUE(json::parse(r->body).contains("error"));
  auto gen = post("/v1/completions", json{{"prompt", "hi"}});
  ASSERT_TRUE(gen);
  EXPECT_EQ(gen->status, 503);
  attach_and_ready();
  r = get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, CompletionReturnsTextUsageAndFinishReason) {
  start();
  auto r = post(
      "/v1/completions",
      json{{"model", "tiny"}, {"prompt", "Hello world"}, {"max_tokens", 5}, {"temperature", 0}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json j = json::parse(r->body);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["model"], "tiny");
  ASSERT_EQ(j["choices"].size(), 1u);
  EXPECT_EQ(j["choices"][0]["index"], 0);
  EXPECT_EQ(j["choices"][0]["text"], script_text(5));
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  const size_t prompt_tokens = tokenizer_->encode("Hello world", true).size();
  EXPECT_EQ(j["usage"]["prompt_tokens"], prompt_tokens);
  EXPECT_EQ(j["usage"]["completion_tokens"], 5);
  EXPECT_EQ(j["usage"]["total_tokens"], prompt_tokens + 5);
  // What the engine was asked.
  auto sent = engine_->submitted();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].input_ids, tokenizer_->encode("Hello world", true));
  EXPECT_EQ(sent[0].params.max_new_tokens, 5);
  EXPECT_EQ(sent[0].params.temperature, 0.0f);
}

TEST_F(ServerTest, StreamedCompletionTextEqualsTheNonStreamedText) {
  start();
  json body = {{"prompt", "Hello"}, {"max_tokens", 9}};
  auto whole = post("/v1/completions", body);
  ASSERT_TRUE(whole);
  std::string expected = json::parse(whole->body)["choices"][0]["text"];
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  auto r = post("/v1/completions", body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  auto events = sse_payloads(r->body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  int finishes = 0;
  for (size_t i = 0; i + 2 < events.size(); ++i) {
    json c = json::parse(events[i]);
    EXPECT_EQ(c["object"], "text_completion");
    EXPECT_TRUE(c.contains("usage") && c["usage"].is_null());
    text += c["choices"][0]["text"].get<std::string>();
    if (!c["choices"][0]["finish_reason"].is_null()) ++finishes;
  }
  EXPECT_EQ(text, expected);
  EXPECT_EQ(finishes, 1);
  json usage = json::parse(events[events.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 9);
}

TEST_F(ServerTest, ChatStreamStartsEachChoiceWithTheRoleAndEndsItWithOneFinishReason) {
  start();
  json body = {{"messages", {{{"role", "user"}, {"content", "hi"}}}},
               {"max_tokens", 4},
               {"n", 2},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}}};
  auto r = post("/v1/chat/completions", body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto events = sse_payloads(r->body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "[DONE]");
  std::map<int, std::vector<json>> per_choice;
  json usage;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    json c = json::parse(events[i]);
    EXPECT_EQ(c["object"], "chat.completion.chunk");
    if (c["choices"].empty()) {
      usage = c["usage"];
      continue;
    }
    per_choice[c["choices"][0]["index"].get<int>()].push_back(c["choices"][0]);
  }
  ASSERT_EQ(per_choice.size(), 2u);
  for (auto& [index, chunks] : per_choice) {
    ASSERT_FALSE(chunks.empty());
    EXPECT_EQ(chunks.front()["delta"]["role"], "assistant") << index;
    int finishes = 0;
    std::string text;
    for (auto& ch : chunks) {
      if (!ch["finish_reason"].is_null()) ++finishes;
      if (ch["delta"].contains("content")) text += ch["delta"]["content"].get<std::string>();
    }
    EXPECT_EQ(finishes, 1) << index;
    EXPECT_FALSE(chunks.back()["finish_reason"].is_null());
    EXPECT_EQ(text, script_text(4, index));
  }
  // The rendered chat prompt was tokenized without adding special tokens.
  auto tmpl = load_chat_template(default_model_dir(), "");
  auto rendered =
      (*tmpl)->render(nlohmann::ordered_json::parse(R"([{"role":"user","content":"hi"}])"), true,
                      "", tokenizer_->eos_token());
  ASSERT_TRUE(rendered.is_ok());
  EXPECT_EQ(usage["prompt_tokens"], tokenizer_->encode(*rendered, false).size());
  EXPECT_EQ(usage["completion_tokens"], 8);
}

TEST_F(ServerTest, ChatNonStreamReturnsAnAssistantMessagePerChoice) {
  start();
  auto r = post("/v1/chat/completions", json{{"messages", {{{"role", "user"}, {"content", "hi"}}}},
                                             {"max_tokens", 3},
                                             {"n", 3},
                                             {"logprobs", true},
                                             {"top_logprobs", 2}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json j = json::parse(r->body);
  EXPECT_EQ(j["object"], "chat.completion");
  ASSERT_EQ(j["choices"].size(), 3u);
  std::set<int> indexes;
  for (const auto& c : j["choices"]) {
    indexes.insert(c["index"].get<int>());
    EXPECT_EQ(c["message"]["role"], "assistant");
    EXPECT_EQ(c["message"]["content"], script_text(3, c["index"].get<int>()));
    ASSERT_EQ(c["logprobs"]["content"].size(), 3u);
    EXPECT_EQ(c["logprobs"]["content"][0]["top_logprobs"].size(), 2u);
  }
  EXPECT_EQ(indexes, (std::set<int>{0, 1, 2}));
  EXPECT_EQ(j["usage"]["completion_tokens"], 9);
}

TEST_F(ServerTest, StopStringTrimsTheTextAndAbortsTheEngineRequest) {
  start();
  auto r =
      post("/v1/completions", json{{"prompt", "x"}, {"max_tokens", 100}, {"stop", {" gamma"}}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json c = json::parse(r->body)["choices"][0];
  EXPECT_EQ(c["text"], " alpha beta");
  EXPECT_EQ(c["finish_reason"], "stop");
  EXPECT_EQ(c["matched_stop"], " gamma");
  EXPECT_TRUE(engine_->wait_for_aborts(1));
}

TEST_F(ServerTest, EosTokenFinishesWithStopAndIsNotInTheText) {
  engine_->script.eos = 0;  // <|endoftext|>, special: skipped in text
  engine_->script.eos_after = 2;
  start();
  auto r = post("/v1/completions", json{{"prompt", "x"}, {"max_tokens", 10}});
  ASSERT_TRUE(r);
  json c = json::parse(r->body)["choices"][0];
  EXPECT_EQ(c["finish_reason"], "stop");
  EXPECT_EQ(c["text"], script_text(2));
  EXPECT_EQ(c["matched_stop"], 0);
}

TEST_F(ServerTest, BatchedPromptsGetPromptMajorChoiceIndexes) {
  start();
  auto r = post("/v1/completions", json{{"prompt", {"one", "two"}}, {"n", 2}, {"max_tokens", 2}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json j = json::parse(r->body);
  ASSERT_EQ(j["choices"].size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(j["choices"][i]["index"], i);
  auto sent = engine_->submitted();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].input_ids, tokenizer_->encode("one", true));
  EXPECT_EQ(sent[1].input_ids, tokenizer_->encode("two", true));
  EXPECT_EQ(j["usage"]["prompt_tokens"],
            tokenizer_->encode("one", true).size() + tokenizer_->encode("two", true).size());
}

TEST_F(ServerTest, AStreamOfSeveralPromptsIsDrivenByTheirEventsAlone) {
  // Three prompts, n = 2, tokens 3 ms apart; the fallback poll is a minute, so the stream
  // finishes within the client's 30 s only if each engine event wakes the connection
  // thread (one WakeSignal for all six choices).
  engine_->script.token_delay = std::chrono::milliseconds(3);
  ServerOptions options;
  options.poll_interval = std::chrono::seconds(60);
  start(options);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = post("/v1/completions", json{{"prompt", {"one", "two", "three"}}, {"n", 2}, {"max_tokens", 12},
                                        {"stream", true}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  auto events = sse_payloads(r->body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "[DONE]");
  std::vector<std::string> text(6);
  std::vector<int> finishes(6, 0);
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    json c = json::parse(events[i])["choices"][0];
    const int index = c["index"];
    ASSERT_GE(index, 0);
    ASSERT_LT(index, 6);
    text[index] += c["text"].get<std::string>();
    if (!c["finish_reason"].is_null()) ++finishes[index];
  }
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(text[i], script_text(12, i % 2)) << "choice " << i;
    EXPECT_EQ(finishes[i], 1) << "choice " << i;
  }
}

TEST_F(ServerTest, EchoWithLogprobsListsPromptThenCompletionTokens) {
  start();
  auto r =
      post("/v1/completions",
           json{{"prompt", "Hello world"}, {"max_tokens", 2}, {"echo", true}, {"logprobs", 1}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json c = json::parse(r->body)["choices"][0];
  EXPECT_EQ(c["text"], "Hello world" + script_text(2));
  const size_t prompt_len = tokenizer_->encode("Hello world", true).size();
  const json& lp = c["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), prompt_len + 2);
  EXPECT_TRUE(lp["token_logprobs"][0].is_null());
  EXPECT_FLOAT_EQ(lp["token_logprobs"][1].get<float>(), -1.5f);  // fake prompt logprob
  EXPECT_FLOAT_EQ(lp["token_logprobs"][prompt_len].get<float>(), -0.25f);
  EXPECT_EQ(lp["text_offset"][0], 0);
  EXPECT_EQ(lp["top_logprobs"][prompt_len].size(), 2u);  // one alternative + the sampled
}

// Structured output: the server compiles the constraint for the tokenizer and hands the
// grammar to the engine; a regex or schema that does not compile is a 400 naming the
// field, and the engine never sees the request.
TEST_F(ServerTest, StructuredOutputGrammarsReachTheEngineAndBadOnesAre400) {
  start();
  // (Sent as text: a client-side nlohmann::json would sort the keys itself.)
  auto ok = post("/v1/chat/completions", std::string(R"({"messages":[{"role":"user","content":"hi"}],
      "max_tokens":4,"response_format":{"type":"json_schema","json_schema":{"name":"x",
      "schema":{"type":"object","properties":{"b":{"type":"boolean"},"a":{"type":"integer"}},"required":["a"]}}}})"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  auto sent = engine_->submitted();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].params.grammar);
  EXPECT_EQ(sent[0].params.grammar->vocab_size(), 4096);
  // Properties in the schema's order (b before a), though the parsed body sorts keys.
  const std::string& re = sent[0].params.grammar->regex();
  ASSERT_NE(re.find("\"b\""), std::string::npos) << re;
  EXPECT_LT(re.find("\"b\""), re.find("\"a\"")) << re;

  auto native = post("/generate", nlohmann::json::parse(R"({"text":"hi","sampling_params":{"max_new_tokens":2,
      "regex":"(a|b)+"}})"));
  ASSERT_TRUE(native);
  EXPECT_EQ(native->status, 200) << native->body;
  ASSERT_EQ(engine_->submitted().size(), 2u);
  EXPECT_EQ(engine_->submitted()[1].params.grammar->regex(), "(a|b)+");

  const std::pair<const char*, const char*> bad[] = {
      {"/v1/completions", R"({"prompt":"hi","regex":"(a"})"},
      {"/v1/completions", R"({"prompt":"hi","json_schema":"{not json"})"},
      {"/generate", R"({"text":"hi","sampling_params":{"json_schema":"{\"type\": \"weird\"}"}})"},
  };
  const char* params[] = {"regex", "json_schema", "sampling_params.json_schema"};
  for (size_t i = 0; i < std::size(bad); ++i) {
    auto res = post(bad[i].first, std::string(bad[i].second));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << bad[i].second;
    auto j = nlohmann::json::parse(res->body);
    const auto& err = j.contains("error") ? j["error"] : j;
    EXPECT_EQ(err["param"], params[i]) << res->body;
  }
  EXPECT_EQ(engine_->submitted().size(), 2u);
}

TEST_F(ServerTest, TokenIdPromptsAreSentAsGiven) {
  start();
  auto r = post("/v1/completions", json{{"prompt", {5, 6, 7}}, {"max_tokens", 1}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(engine_->submitted().at(0).input_ids, (std::vector<int32_t>{5, 6, 7}));
}

TEST_F(ServerTest, DefaultMaxTokensIsClampedToTheContext) {
  start();
  std::vector<int32_t> ids(250, 5);  // context 256
  auto r =
      post("/v1/chat/completions", json{{"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  int max_new = engine_->submitted().at(0).params.max_new_tokens;
  EXPECT_EQ(max_new + static_cast<int>(engine_->submitted()[0].input_ids.size()), 256);
  r = post("/v1/completions", json{{"prompt", ids}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(engine_->submitted().at(1).params.max_new_tokens, 6);
}

TEST_F(ServerTest, NativeGenerateReturnsTextAndMetaInfo) {
  start();
  auto r = post("/generate", json{{"text", "Hello"},
                                  {"sampling_params", {{"max_new_tokens", 3}}},
                                  {"return_logprob", true}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json j = json::parse(r->body);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["text"], script_text(3));
  EXPECT_EQ(j["meta_info"]["prompt_tokens"], tokenizer_->encode("Hello", true).size());
  EXPECT_EQ(j["meta_info"]["completion_tokens"], 3);
  EXPECT_EQ(j["meta_info"]["finish_reason"]["type"], "length");
  EXPECT_EQ(j["meta_info"]["output_token_logprobs"].size(), 3u);
}

TEST_F(ServerTest, NativeBatchAnswersAListAndStreamsCumulativeText) {
  start();
  auto r = post("/generate",
                json{{"input_ids", {{5, 6}, {7}}}, {"sampling_params", {{"max_new_tokens", 2}}}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json j = json::parse(r->body);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[1]["meta_info"]["prompt_tokens"], 1);

  r = post("/generate",
           json{{"text", "Hello"}, {"sampling_params", {{"max_new_tokens", 6}}}, {"stream", true}});
  ASSERT_TRUE(r);
  auto events = sse_payloads(r->body);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string prev;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    std::string text = json::parse(events[i])["text"];
    EXPECT_EQ(text.rfind(prev, 0), 0u) << "not cumulative: '" << prev << "' -> '" << text << "'";
    prev = text;
  }
  EXPECT_EQ(prev, script_text(6));
  EXPECT_EQ(json::parse(events[events.size() - 2])["meta_info"]["finish_reason"]["type"], "length");
}

TEST_F(ServerTest, ModelsAndInfoEndpointsDescribeTheServedModel) {
  start();
  auto r = get("/v1/models");
  ASSERT_TRUE(r);
  json m = json::parse(r->body);
  EXPECT_EQ(m["object"], "list");
  ASSERT_EQ(m["data"].size(), 1u);
  EXPECT_EQ(m["data"][0]["id"], "tiny");
  EXPECT_EQ(m["data"][0]["max_model_len"], 256);
  r = get("/v1/models/tiny");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = get("/get_model_info");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body)["model_path"], "models/fake");
  r = get("/get_server_info");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body)["served_model_name"], "tiny");
  r = get("/flush_cache");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, MetricsReportEngineGaugesAndLatencies) {
  start();
  ASSERT_TRUE(post("/v1/completions", json{{"prompt", "hi"}, {"max_tokens", 3}}));
  auto r = get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("radix:num_running_reqs{model_name=\"tiny\"} 0"), std::string::npos);
  EXPECT_NE(r->body.find("radix:num_queue_reqs"), std::string::npos);
  EXPECT_NE(r->body.find("radix:time_to_first_token_seconds_count 1"), std::string::npos)
      << r->body;
  EXPECT_NE(r->body.find("radix:e2e_request_latency_seconds_count 1"), std::string::npos);
  EXPECT_NE(r->body.find("radix:inter_token_latency_seconds_count 2"), std::string::npos);
}

TEST_F(ServerTest, TokenizeAndDetokenizeRoundTrip) {
  start();
  auto r = post("/tokenize", json{{"prompt", "Hello world"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json t = json::parse(r->body);
  auto expected = tokenizer_->encode("Hello world", true);
  EXPECT_EQ(t["tokens"].get<std::vector<int32_t>>(), expected);
  EXPECT_EQ(t["count"], expected.size());
  EXPECT_EQ(t["max_model_len"], 256);
  r = post("/detokenize", json{{"tokens", expected}});
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body)["prompt"], tokenizer_->decode(expected, false));
}

TEST_F(ServerTest, RequestIdIsHonouredAndEchoed) {
  start();
  auto r = post("/v1/completions", json{{"prompt", "hi"}, {"max_tokens", 1}},
                {{"X-Request-Id", "my-req-1"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("X-Request-Id"), "my-req-1");
  EXPECT_EQ(json::parse(r->body)["id"], "cmpl-my-req-1");
  // The engine's id is the client's plus a per-submission "#<n>" (ids may repeat).
  EXPECT_EQ(engine_->submitted().at(0).rid.rfind("my-req-1#", 0), 0u);
  r = get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("X-Request-Id").size(), 32u);  // generated
}

}  // namespace
}  // namespace radix::server::testing
