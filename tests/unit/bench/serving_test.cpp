// bench serving end to end in one process against a fake OpenAI/SGLang server
// (cpp-httplib): requests per backend, the tokenizer found through /get_model_info,
// failures (HTTP errors, cut streams, no server) counted or reported, never fatal; and
// the pieces: backends, request bodies, Poisson arrivals, base URLs.
#include "bench/serving.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "bench/http_client.h"

namespace radix::bench {
namespace {

using nlohmann::json;

const std::string kModelDir = std::string(RADIX_SOURCE_DIR) + "/models/default";

TEST(Backends, MapNamesToRoutes) {
  EXPECT_EQ(find_backend("radix")->path, "/generate");
  EXPECT_EQ(find_backend("radix")->format, StreamFormat::kGenerate);
  for (const char* name : {"sglang", "vllm", "openai", "sglang-oai", "lmdeploy"}) {
    EXPECT_EQ(find_backend(name)->path, "/v1/completions") << name;
  }
  EXPECT_EQ(find_backend("openai-chat")->path, "/v1/chat/completions");
  EXPECT_EQ(find_backend("openai-chat")->format, StreamFormat::kChatCompletions);
  EXPECT_EQ(find_backend("trt").status().code(), StatusCode::kInvalidArgument);
}

TEST(RequestBody, IsSglangsGreedyStreamingPayloadWithExtrasMerged) {
  DatasetRow row;
  row.prompt = "hello";
  row.prompt_ids = {5, 6, 7};
  RequestBodyOptions o;
  o.model = "m";
  json gen = request_body(StreamFormat::kGenerate, row, 9, o);
  EXPECT_EQ(gen["text"], "hello");
  EXPECT_FALSE(gen.contains("input_ids"));
  EXPECT_EQ(gen["sampling_params"]["max_new_tokens"], 9);
  EXPECT_EQ(gen["sampling_params"]["ignore_eos"], true);
  EXPECT_EQ(gen["sampling_params"]["temperature"], 0.0);
  EXPECT_EQ(gen["stream"], true);
  o.tokenize_prompt = true;
  o.ignore_eos = false;
  gen = request_body(StreamFormat::kGenerate, row, 9, o);
  EXPECT_EQ(gen["input_ids"], json::array({5, 6, 7}));
  EXPECT_FALSE(gen.contains("text"));
  EXPECT_EQ(gen["sampling_params"]["ignore_eos"], false);

  o = RequestBodyOptions{};
  o.model = "m";
  o.extra = json::parse(R"({"top_k": 5, "stream_options": null, "temperature": 0.7})");
  json cmp = request_body(StreamFormat::kCompletions, row, 4, o);
  EXPECT_EQ(cmp["model"], "m");
  EXPECT_EQ(cmp["prompt"], "hello");
  EXPECT_EQ(cmp["max_tokens"], 4);
  EXPECT_EQ(cmp["ignore_eos"], true);
  EXPECT_EQ(cmp["top_k"], 5);
  EXPECT_EQ(cmp["temperature"], 0.7);
  EXPECT_FALSE(cmp.contains("stream_options"));  // null removes
  json chat = request_body(StreamFormat::kChatCompletions, row, 4, RequestBodyOptions{});
  EXPECT_EQ(chat["messages"], json::parse(R"([{"role":"user","content":"hello"}])"));
  EXPECT_EQ(chat["stream_options"]["include_usage"], true);
}

TEST(ArrivalTimes, AreAllZeroForInfAndPoissonOtherwise) {
  for (double t : arrival_times(5, std::numeric_limits<double>::infinity(), 1)) EXPECT_EQ(t, 0.0);
  const auto a = arrival_times(4001, 20.0, 3);
  EXPECT_EQ(a.front(), 0.0);
  for (size_t i = 1; i < a.size(); ++i) EXPECT_GE(a[i], a[i - 1]);
  EXPECT_NEAR(a.back() / 4000, 1.0 / 20, 0.1 / 20);  // mean gap 1 / rate
  // Exponential gaps: their standard deviation equals their mean.
  double sq = 0;
  for (size_t i = 1; i < a.size(); ++i) sq += (a[i] - a[i - 1]) * (a[i] - a[i - 1]);
  const double mean = a.back() / 4000;
  EXPECT_NEAR(std::sqrt(sq / 4000 - mean * mean), mean, 0.1 * mean);
  EXPECT_EQ(arrival_times(10, 5.0, 7), arrival_times(10, 5.0, 7));
}

TEST(BaseUrl, ParsesHostsPortsAndPrefixes) {
  auto u = parse_base_url("http://127.0.0.1:30000");
  ASSERT_TRUE(u.is_ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 30000);
  EXPECT_EQ(u->path_prefix, "");
  u = parse_base_url("http://example.com/api/");
  ASSERT_TRUE(u.is_ok());
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->path_prefix, "/api");
  u = parse_base_url("https://[::1]:8443/x");
  ASSERT_TRUE(u.is_ok());
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->to_string(), "https://[::1]:8443/x");
  EXPECT_FALSE(parse_base_url("ftp://h").is_ok());
  EXPECT_FALSE(parse_base_url("http://h:99999").is_ok());
  EXPECT_FALSE(parse_base_url("http://h:").is_ok());
  EXPECT_FALSE(parse_base_url("http://:80").is_ok());
}

// A server that streams `max_tokens` one-letter tokens; prompts containing "FAIL" get a
// 500, prompts containing "CUT" lose their connection mid-stream.
class FakeServer {
 public:
  FakeServer() {
    svr_.Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"object":"list","data":[{"id":"fake-model","object":"model"}]})",
                      "application/json");
    });
    svr_.Get("/get_model_info", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(json{{"model_path", kModelDir}}.dump(), "application/json");
    });
    svr_.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      stream(req, res, false);
    });
    svr_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      stream(req, res, true);
    });
    svr_.Post("/generate",
              [this](const httplib::Request& req, httplib::Response& res) { generate(req, res); });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    while (!svr_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeServer() {
    svr_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  std::atomic<int> requests{0};

 private:
  void stream(const httplib::Request& req, httplib::Response& res, bool chat) {
    ++requests;
    json body = json::parse(req.body);
    const std::string prompt = chat ? body["messages"][0]["content"].get<std::string>()
                                    : body["prompt"].get<std::string>();
    if (prompt.find("FAIL") != std::string::npos) {
      res.status = 500;
      res.set_content(R"({"error":{"message":"injected failure"}})", "application/json");
      return;
    }
    const int n = body["max_tokens"];
    const bool cut = prompt.find("CUT") != std::string::npos;
    res.set_chunked_content_provider(
        "text/event-stream", [n, chat, cut](size_t, httplib::DataSink& sink) {
          for (int i = 0; i < n; ++i) {
            json c = chat ? json{{"choices", {{{"index", 0}, {"delta", {{"content", "x"}}}}}}}
                          : json{{"choices", {{{"index", 0}, {"text", "x"}}}}};
            const std::string ev = "data: " + c.dump() + "\n\n";
            // An event split over two writes.
            sink.write(ev.data(), ev.size() / 2);
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            sink.write(ev.data() + ev.size() / 2, ev.size() - ev.size() / 2);
            if (cut && i == 1) return false;  // drops the connection
          }
          const std::string tail =
              "data: " +
              json{{"choices", json::array()}, {"usage", {{"completion_tokens", n}}}}.dump() +
              "\n\ndata: [DONE]\n\n";
          sink.write(tail.data(), tail.size());
          sink.done();
          return true;
        });
  }

  void generate(const httplib::Request& req, httplib::Response& res) {
    ++requests;
    json body = json::parse(req.body);
    const int n = body["sampling_params"]["max_new_tokens"];
    res.set_chunked_content_provider("text/event-stream", [n](size_t, httplib::DataSink& sink) {
      std::string text;
      for (int i = 1; i <= n; ++i) {
        text += "y";
        json c = {{"text", text},
                  {"meta_info",
                   {{"completion_tokens", i},
                    {"finish_reason", i == n ? json{{"type", "length"}} : json()}}}};
        const std::string ev = "data: " + c.dump() + "\n\n";
        sink.write(ev.data(), ev.size());
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      sink.write("data: [DONE]\n\n", 14);
      sink.done();
      return true;
    });
  }

  httplib::Server svr_;
  int port_ = 0;
  std::thread thread_;
};

// A port nothing listens on: bound, read back, closed.
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  return ntohs(addr.sin_port);
}

ServingOptions options_for(const FakeServer& server, const std::string& backend) {
  ServingOptions o;
  o.backend = backend;
  o.port = server.port();
  o.dataset.name = "random";
  o.dataset.num_prompts = 12;
  o.dataset.random_input_len = 16;
  o.dataset.random_output_len = 6;
  o.dataset.random_range_ratio = 1.0;
  o.disable_progress = true;
  return o;
}

TEST(RunBenchServing, MeasuresEveryBackendAgainstAFakeServer) {
  FakeServer server;
  for (const char* backend : {"radix", "openai", "openai-chat"}) {
    ServingOptions o = options_for(server, backend);
    o.request_rate = 200;
    o.max_concurrency = 4;
    const std::string out_file = testing::TempDir() + "/bench_serving_" + backend + ".jsonl";
    std::filesystem::remove(out_file);
    o.output_file = out_file;
    auto r = run_bench_serving(o);
    ASSERT_TRUE(r.is_ok()) << backend << ": " << r.status().to_string();
    EXPECT_EQ(r->metrics.completed, 12) << backend;
    EXPECT_EQ(r->metrics.failed, 0);
    EXPECT_EQ(r->metrics.total_output, 12 * 6);
    EXPECT_EQ(r->metrics.total_input, 12 * 16);
    EXPECT_GT(r->metrics.ttft.mean_ms, 0);
    EXPECT_GT(r->metrics.itl.median_ms, 0);
    EXPECT_GT(r->metrics.tpot.mean_ms, 0);
    std::ifstream f(out_file);
    std::string line;
    ASSERT_TRUE(std::getline(f, line));
    json rec = json::parse(line);
    EXPECT_EQ(rec["backend"], backend);
    EXPECT_EQ(rec["model"], "fake-model");
    EXPECT_EQ(rec["tokenizer"], kModelDir);  // found through /get_model_info
    EXPECT_EQ(rec["completed"], 12);
    EXPECT_EQ(rec["request_rate"], 200.0);
    EXPECT_EQ(rec["max_concurrency"], 4);
    EXPECT_EQ(rec["output_tokens_source"], "server");
  }
}

TEST(RunBenchServing, CountsHttpErrorsAndCutStreamsAsFailures) {
  FakeServer server;
  ServingOptions o = options_for(server, "openai");
  o.warmup_requests = 0;
  o.tokenizer = kModelDir;
  // Prompts from a ShareGPT file whose texts make the fake server fail some requests.
  const std::string path = testing::TempDir() + "/bench_serving_failures.json";
  std::ofstream(path) << R"([
    {"conversations": [{"value": "FAIL please, with enough words"}, {"value": "a reply of several tokens"}]},
    {"conversations": [{"value": "CUT this one short in the middle"}, {"value": "a reply of several tokens"}]},
    {"conversations": [{"value": "this prompt works as it should"}, {"value": "a reply of several tokens"}]}
  ])";
  o.dataset.name = "sharegpt";
  o.dataset.path = path;
  o.dataset.sharegpt_output_len = 5;
  auto r = run_bench_serving(o);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->metrics.completed, 1);
  EXPECT_EQ(r->metrics.failed, 2);
  EXPECT_EQ(r->metrics.total_output, 5);
  EXPECT_FALSE(r->record["first_error"].is_null());
}

TEST(RunBenchServing, ReportsAnUnreachableServerAsAnError) {
  ServingOptions o;
  o.port = free_port();
  o.disable_progress = true;
  auto r = run_bench_serving(o);
  EXPECT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("--model"), std::string::npos) << r.status().to_string();
  o.model = "m";
  o.tokenizer = kModelDir;
  o.dataset.name = "random";
  o.dataset.num_prompts = 2;
  o.dataset.random_input_len = 4;
  o.dataset.random_output_len = 2;
  r = run_bench_serving(o);  // the warmup fails: an error, not a crash
  EXPECT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("warmup"), std::string::npos) << r.status().to_string();
  o.warmup_requests = 0;
  r = run_bench_serving(o);  // without warmup every request fails and is counted
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->metrics.failed, 2);
}

TEST(RunBenchServing, RejectsBadOptions) {
  ServingOptions o;
  o.backend = "nope";
  EXPECT_EQ(run_bench_serving(o).status().code(), StatusCode::kInvalidArgument);
  o = ServingOptions{};
  o.extra_request_body = "[1]";
  EXPECT_EQ(run_bench_serving(o).status().code(), StatusCode::kInvalidArgument);
  o = ServingOptions{};
  o.request_rate = 0;
  EXPECT_EQ(run_bench_serving(o).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace radix::bench
