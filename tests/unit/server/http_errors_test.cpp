// Error paths over real HTTP: authentication, unknown routes and models, body limits,
// malformed and hostile input, engine refusals and failures, and clients that leave
// (their engine requests must be aborted). Plus a randomized body fuzz that must never
// produce a 5xx.
#include <random>

#include "tests/unit/server/server_fixture.h"

namespace radix::server::testing {
namespace {

using nlohmann::json;

void expect_error(const httplib::Result& r, int status, const std::string& context = "") {
  ASSERT_TRUE(r) << context;
  EXPECT_EQ(r->status, status) << context << ": " << r->body;
  json j = json::parse(r->body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << context << ": " << r->body;
  ASSERT_TRUE(j.contains("error")) << r->body;
  for (const char* k : {"message", "type", "param", "code"}) {
    EXPECT_TRUE(j["error"].contains(k)) << k << " missing in " << r->body;
  }
  EXPECT_TRUE(j["error"]["message"].is_string());
}

TEST_F(ServerTest, ApiKeyGuardsEverythingButHealthAndMetrics) {
  ServerOptions o;
  o.api_key = "sekret";
  start(o);
  json body = {{"prompt", "hi"}, {"max_tokens", 1}};
  expect_error(post("/v1/completions", body), 401, "no key");
  expect_error(post("/v1/completions", body, {{"Authorization", "Bearer wrong"}}), 401, "wrong");
  expect_error(post("/v1/completions", body, {{"Authorization", "sekret"}}), 401, "no Bearer");
  expect_error(get("/v1/models"), 401, "models");
  auto ok = post("/v1/completions", body, {{"Authorization", "Bearer sekret"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  auto health = get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  // A refused request's unread body must not be parsed as the next request on a
  // kept-alive connection.
  auto c = client();
  c.set_keep_alive(true);
  auto refused = c.Post("/v1/completions", body.dump(), "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
  auto next = c.Post("/v1/completions", {{"Authorization", "Bearer sekret"}}, body.dump(),
                     "application/json");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200) << next->body;
  auto metrics = get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
}

TEST_F(ServerTest, UnknownRoutesAndModelsAre404WithAnErrorBody) {
  start();
  expect_error(get("/v2/nothing"), 404);
  expect_error(post("/v1/completions", json{{"model", "gpt-9"}, {"prompt", "x"}}), 404);
  expect_error(get("/v1/models/gpt-9"), 404);
}

TEST_F(ServerTest, AKnownPathWithTheWrongMethodIs405NamingTheMethods) {
  start();
  auto r = get("/v1/completions");
  expect_error(r, 405);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("Allow"), "POST");
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "method_not_allowed");
  EXPECT_EQ(json::parse(r->body)["error"]["type"], "invalid_request_error");
  auto g = post("/v1/models", json::object());
  expect_error(g, 405);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->get_header_value("Allow"), "GET");
}

// Values only the engine's check catches (a stop token outside the vocabulary) still name
// the request field, nested under sampling_params on /generate.
TEST_F(ServerTest, EngineRangeChecksNameTheRequestField) {
  start();
  auto r = post("/v1/completions", json{{"prompt", "x"}, {"stop_token_ids", {5000}}});
  expect_error(r, 400);
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body)["error"]["param"], "stop_token_ids") << r->body;
  auto g = post("/generate", json{{"text", "x"}, {"sampling_params", {{"stop_token_ids", {5000}}}}});
  expect_error(g, 400);
  ASSERT_TRUE(g);
  EXPECT_EQ(json::parse(g->body)["error"]["param"], "sampling_params.stop_token_ids") << g->body;
}

// CORS open to every origin (as SGLang and vLLM): preflights are answered without the API
// key, and responses to a request with an Origin allow it.
TEST_F(ServerTest, BrowsersMayCallTheApiFromAnyOrigin) {
  ServerOptions o;
  o.api_key = "secret";
  start(o);
  httplib::Client c("127.0.0.1", server_->port());
  auto pre = c.Options("/v1/chat/completions", {{"Origin", "http://ui.example"},
                                                {"Access-Control-Request-Method", "POST"},
                                                {"Access-Control-Request-Headers", "authorization,content-type"}});
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->status, 204);
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Origin"), "*");
  EXPECT_NE(pre->get_header_value("Access-Control-Allow-Methods").find("POST"), std::string::npos);
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Headers"), "authorization,content-type");
  auto r = post("/v1/completions", json{{"prompt", "x"}, {"max_tokens", 1}},
                {{"Origin", "http://ui.example"}, {"Authorization", "Bearer secret"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), "*");
  auto denied = post("/v1/completions", json{{"prompt", "x"}}, {{"Origin", "http://ui.example"}});
  expect_error(denied, 401);  // the key is still required
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->get_header_value("Access-Control-Allow-Origin"), "*");  // so the page can read the error
  auto plain = get("/health");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->has_header("Access-Control-Allow-Origin"));  // no Origin, no CORS headers
}

TEST_F(ServerTest, BodiesOverTheLimitAre413) {
  ServerOptions o;
  o.max_body_bytes = 1024;
  start(o);
  json body = {{"prompt", std::string(4096, 'a')}};
  expect_error(post("/v1/completions", body), 413);
  // Form-encoded content type (curl -d) is read as JSON too, not parsed as a form.
  auto c = client();
  auto r = c.Post("/v1/completions", json{{"prompt", "x"}, {"max_tokens", 1}}.dump(),
                  "application/x-www-form-urlencoded");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST_F(ServerTest, MalformedAndHostileBodiesAre400) {
  start();
  const std::string cases[] = {
      "",
      "{",
      "not json",
      "{\"prompt\": \"a\xff\xfe\"}",  // invalid UTF-8
      "{\"prompt\": \"\\ud800\"}",    // lone surrogate escape
      "[]",
      "{\"prompt\": \"\"}",    // no tokens (no BOS in this model)
      "{\"prompt\": [5000]}",  // out of vocabulary (4096)
      "{\"prompt\": [-3]}",
      "{\"prompt\": \"x\", \"max_tokens\": 1e308}",
      "{\"prompt\": \"x\", \"max_tokens\": 100000}",  // explicit, over the context
      "{\"prompt\": \"x\", \"n\": 1000000}",
      "{\"prompt\": \"x\", \"temperature\": NaN}",
      "{\"prompt\": \"x\", \"top_k\": -7}",
      std::string("{\"prompt\": ") + std::string(100000, '[') + std::string(100000, ']') + "}",
  };
  for (const auto& body : cases) {
    expect_error(post("/v1/completions", body), 400, body.substr(0, 60));
  }
  std::vector<int> long_prompt(300, 5);  // context is 256
  expect_error(post("/v1/completions", json{{"prompt", long_prompt}}), 400, "too long");
  expect_error(post("/v1/chat/completions", std::string("{\"messages\": 5}")), 400, "chat");
  expect_error(post("/generate", std::string("{\"text\": [1, \"a\"]}")), 400, "generate");
  expect_error(post("/tokenize", std::string("{}")), 400, "tokenize");
  expect_error(post("/detokenize", std::string("{\"tokens\": [99999]}")), 400, "detokenize");
  EXPECT_TRUE(engine_->submitted().empty());
}

TEST_F(ServerTest, InvalidRequestIdIs400) {
  start();
  expect_error(post("/v1/completions", json{{"prompt", "x"}}, {{"X-Request-Id", "a b\"c"}}), 400);
}

TEST_F(ServerTest, EngineRefusalsMapToTheirStatus) {
  engine_->script.submit_error = resource_exhausted("queue is full (4096 requests)");
  start();
  expect_error(post("/v1/completions", json{{"prompt", "x"}}), 503, "overloaded");
  engine_->script.submit_error = out_of_range("prompt can never fit in the KV cache");
  expect_error(post("/v1/completions", json{{"prompt", "x"}}), 400, "never fits");
}

TEST_F(ServerTest, EngineFailureMidStreamSendsAnErrorEventThenDone) {
  engine_->script.error_after = 2;
  start();
  auto r = post("/v1/completions", json{{"prompt", "x"}, {"max_tokens", 10}, {"stream", true}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto events = sse_payloads(r->body);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back(), "[DONE]");
  json err = json::parse(events[events.size() - 2]);
  ASSERT_TRUE(err.contains("error")) << events[events.size() - 2];
  EXPECT_TRUE(err["error"]["message"].is_string());
  // Not streamed: a 500 with the error body.
  expect_error(post("/v1/completions", json{{"prompt", "x"}, {"max_tokens", 10}}), 500);
}

TEST_F(ServerTest, ClientThatLeavesAStreamAbortsItsRequest) {
  engine_->script.token_delay = std::chrono::milliseconds(5);
  start();
  auto c = client();
  int chunks = 0;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.body = json{{"prompt", "x"}, {"max_tokens", 100000 / 1000}, {"stream", true}}.dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
    return ++chunks < 2;  // give up after the first chunk
  };
  auto r = c.send(req);
  EXPECT_GE(chunks, 1);
  EXPECT_TRUE(engine_->wait_for_aborts(1));
}

TEST_F(ServerTest, ClientThatLeavesANonStreamedRequestAbortsIt) {
  engine_->script.hang = true;  // queued forever
  start();
  auto c = client();
  c.set_read_timeout(0, 200 * 1000);  // give up after 200 ms
  auto r = c.Post("/v1/completions", json{{"prompt", "x"}}.dump(), "application/json");
  EXPECT_FALSE(r);
  EXPECT_TRUE(engine_->wait_for_aborts(1));
}

// With the fallback poll a minute long, only the transport's watch on the socket can
// notice these clients leaving (within wait_for_aborts' 10 s).
TEST_F(ServerTest, TheClientWatchAbortsAWaitingNonStreamedRequestWhoseClientLeaves) {
  engine_->script.hang = true;
  ServerOptions options;
  options.poll_interval = std::chrono::seconds(60);
  start(options);
  auto c = client();
  c.set_read_timeout(0, 200 * 1000);
  auto r = c.Post("/v1/completions", json{{"prompt", "x"}}.dump(), "application/json");
  EXPECT_FALSE(r);
  EXPECT_TRUE(engine_->wait_for_aborts(1));
}

TEST_F(ServerTest, TheClientWatchAbortsASilentStreamWhoseClientLeaves) {
  engine_->script.hang = true;  // the stream never has anything to write
  ServerOptions options;
  options.poll_interval = std::chrono::seconds(60);
  start(options);
  auto c = client();
  c.set_read_timeout(0, 200 * 1000);
  auto r = c.Post("/v1/completions", json{{"prompt", "x"}, {"stream", true}}.dump(),
                  "application/json");
  EXPECT_FALSE(r);
  EXPECT_TRUE(engine_->wait_for_aborts(1));
}

TEST_F(ServerTest, DrainRefusesNewRequestsAndWaitsForInFlightOnes) {
  start();
  EXPECT_TRUE(server_->drain(std::chrono::milliseconds(1000)));
  expect_error(post("/v1/completions", json{{"prompt", "x"}}), 503);
  expect_error(get("/health"), 503);
}

// Mutates valid bodies at random (fresh seed each run, printed on failure): whatever
// arrives, the answer is a 2xx or a 4xx with an error body, never a 5xx or a crash.
TEST_F(ServerTest, RandomizedBodiesNeverProduceA5xx) {
  start();
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  const std::vector<std::pair<std::string, json>> seeds = {
      {"/v1/completions", {{"prompt", "hi"}, {"max_tokens", 2}, {"n", 2}, {"logprobs", 1}}},
      {"/v1/completions", {{"prompt", {1, 2, 3}}, {"max_tokens", 2}, {"stop", {"a"}}}},
      {"/v1/chat/completions",
       {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_tokens", 2}}},
      {"/generate", {{"text", "hi"}, {"sampling_params", {{"max_new_tokens", 2}}}}},
      {"/tokenize", {{"prompt", "hi"}}},
  };
  const std::vector<json> values = {
      nullptr, true,       -1,         0,         1,   2147483648.,   -1e300,
      1e300,   0.5,        "",         "\xff",    "x", json::array(), json::object(),
      {1, 2},  {"a", "b"}, {{"x", 1}}, 999999999, -0.0};
  for (int i = 0; i < 300; ++i) {
    const auto& [path, base] = seeds[rng() % seeds.size()];
    std::string body;
    json j = base;
    switch (rng() % 4) {
      case 0: {  // replace a field's value
        auto it = j.begin();
        std::advance(it, rng() % j.size());
        it.value() = values[rng() % values.size()];
        body = j.dump(-1, ' ', false, json::error_handler_t::replace);
        break;
      }
      case 1: {  // add a field with an odd value
        const char* keys[] = {"n",    "max_tokens", "temperature",  "stream",
                              "echo", "logprobs",   "top_logprobs", "seed",
                              "stop", "messages",   "prompt",       "text"};
        j[keys[rng() % 12]] = values[rng() % values.size()];
        body = j.dump(-1, ' ', false, json::error_handler_t::replace);
        break;
      }
      case 2: {  // flip bytes of the serialized body
        body = j.dump();
        for (int k = 0; k < 3; ++k) body[rng() % body.size()] = static_cast<char>(rng() % 256);
        break;
      }
      default:  // truncate
        body = j.dump();
        body.resize(rng() % body.size());
    }
    auto r = post(path, body);
    ASSERT_TRUE(r) << "seed " << seed << " body " << body;
    ASSERT_LT(r->status, 500) << "seed " << seed << " " << path << " body " << body << " -> "
                              << r->body;
    if (r->status >= 400) {
      json e = json::parse(r->body, nullptr, false);
      ASSERT_TRUE(e.is_object() && e.contains("error")) << r->body;
    }
  }
  auto health = get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

}  // namespace
}  // namespace radix::server::testing
