// Connection handling over raw sockets and concurrent clients: a client may send its first
// request late and reuse an idle connection past the advertised keep-alive timeout;
// shutdown does not wait for idle connections; requests sharing an X-Request-Id run
// independently; several choices of one request stop and abort as they should.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <future>
#include <thread>

#include "tests/unit/server/server_fixture.h"

namespace radix::server::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// A raw client socket: the test decides when each byte is sent.
class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawConnection() { ::close(fd_); }
  bool connected() const { return connected_; }

  void send_get(const std::string& path) { send_request("GET", path); }
  // A request with no body and no Content-Length header (as `curl -X POST URL` sends).
  void send_request(const std::string& method, const std::string& path) {
    const std::string req = method + " " + path + " HTTP/1.1\r\nHost: test\r\n\r\n";
    ASSERT_EQ(::send(fd_, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  }
  // One response (headers + Content-Length body); "" when the server closed first.
  std::string read_response() {
    std::string got;
    for (;;) {
      const size_t head_end = got.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        size_t length = 0;
        const size_t cl = got.find("Content-Length: ");
        if (cl != std::string::npos && cl < head_end) length = std::stoul(got.substr(cl + 16));
        if (got.size() >= head_end + 4 + length) return got.substr(0, head_end + 4 + length);
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) return "";
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return "";
      got.append(buf, static_cast<size_t>(n));
    }
  }
  // True once the server has closed or reset the connection (within `wait`).
  bool closed_by_server(std::chrono::milliseconds wait) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
    char c;
    const ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

ServerOptions short_keep_alive() {
  ServerOptions o;
  o.transport.keep_alive_timeout = 1s;
  o.transport.keep_alive_grace = 1s;
  return o;
}

TEST_F(ServerTest, FirstRequestMayArriveAfterTheKeepAliveTimeout) {
  // A client that opens many connections at once can be slow to write on each; a fresh
  // connection waits for its request up to the read timeout, not the keep-alive timeout.
  start(short_keep_alive());
  RawConnection c(server_->port());
  ASSERT_TRUE(c.connected());
  std::this_thread::sleep_for(1300ms);
  c.send_get("/health");
  const std::string r = c.read_response();
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
}

// HTTP/1.1: no Content-Length and no chunked encoding means an empty body, not "read
// until the client closes" (which hung `curl -X POST .../flush_cache` until it gave up).
TEST_F(ServerTest, APostWithoutContentLengthHasAnEmptyBody) {
  start();
  RawConnection c(server_->port());
  ASSERT_TRUE(c.connected());
  c.send_request("POST", "/flush_cache");
  std::string r = c.read_response();  // waits up to 5 s
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  RawConnection d(server_->port());
  ASSERT_TRUE(d.connected());
  d.send_request("POST", "/v1/completions");
  r = d.read_response();
  EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0u) << r;
  EXPECT_NE(r.find("The request body is empty"), std::string::npos) << r;
}

TEST_F(ServerTest, IdleConnectionOutlivesTheAdvertisedKeepAliveThenCloses) {
  start(short_keep_alive());
  RawConnection c(server_->port());
  ASSERT_TRUE(c.connected());
  c.send_get("/health");
  std::string r = c.read_response();
  ASSERT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_NE(r.find("Keep-Alive: timeout=1"), std::string::npos) << r;
  // A client reusing the connection just after the advertised timeout (its timer ran
  // late) is still served...
  std::this_thread::sleep_for(1300ms);
  c.send_get("/health");
  r = c.read_response();
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  // ...and a connection left idle is closed after the timeout plus the grace.
  EXPECT_TRUE(c.closed_by_server(3000ms));
}

TEST_F(ServerTest, StopDoesNotWaitForConnectionsThatSentNothing) {
  start();
  RawConnection idle(server_->port());
  ASSERT_TRUE(idle.connected());
  std::this_thread::sleep_for(100ms);  // accepted, waiting for a first request
  const auto t0 = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_TRUE(idle.closed_by_server(1000ms));
}

TEST_F(ServerTest, ManySimultaneousConnectionsAreAllServed) {
  start();
  constexpr int kClients = 200;
  std::vector<std::unique_ptr<RawConnection>> conns;
  for (int i = 0; i < kClients; ++i) {
    conns.push_back(std::make_unique<RawConnection>(server_->port()));
    ASSERT_TRUE(conns.back()->connected());
  }
  for (auto& c : conns) c->send_get("/v1/models");
  int ok = 0;
  for (auto& c : conns) ok += c->read_response().rfind("HTTP/1.1 200", 0) == 0 ? 1 : 0;
  EXPECT_EQ(ok, kClients);
}

// Streams a completion; the client gives up after `keep_chunks` chunks when > 0.
struct StreamOutcome {
  std::string request_id;
  std::vector<std::string> events;
};
StreamOutcome stream_completion(int port, const json& body, const std::string& request_id,
                                int keep_chunks) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30, 0);
  StreamOutcome out;
  std::string data;
  int chunks = 0;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  if (!request_id.empty()) req.set_header("X-Request-Id", request_id);
  req.response_handler = [&](const httplib::Response& res) {
    out.request_id = res.get_header_value("X-Request-Id");
    return true;
  };
  req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
    data.append(d, n);
    return keep_chunks <= 0 || ++chunks < keep_chunks;
  };
  c.send(req);
  if (keep_chunks <= 0) out.events = sse_payloads(data);
  return out;
}

TEST_F(ServerTest, RequestsSharingAnXRequestIdRunIndependently) {
  // The engine keys aborts by request id: if both went in as "dup-1", the client that
  // leaves would abort the other one too.
  engine_->script.token_delay = 5ms;
  start();
  const json body = {{"prompt", "x"}, {"max_tokens", 60}, {"stream", true}};
  auto leaver = std::async(std::launch::async,
                           [&] { return stream_completion(server_->port(), body, "dup-1", 2); });
  auto stayer = std::async(std::launch::async,
                           [&] { return stream_completion(server_->port(), body, "dup-1", 0); });
  const StreamOutcome left = leaver.get();
  const StreamOutcome stayed = stayer.get();
  EXPECT_EQ(left.request_id, "dup-1");
  EXPECT_EQ(stayed.request_id, "dup-1");
  ASSERT_GE(stayed.events.size(), 2u);
  EXPECT_EQ(stayed.events.back(), "[DONE]");
  json last = json::parse(stayed.events[stayed.events.size() - 2]);
  EXPECT_EQ(last["id"], "cmpl-dup-1");
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length") << last;
  std::string text;
  for (size_t i = 0; i + 1 < stayed.events.size(); ++i) {
    text += json::parse(stayed.events[i])["choices"][0]["text"].get<std::string>();
  }
  EXPECT_EQ(text, script_text(60));
  EXPECT_TRUE(engine_->wait_for_aborts(1));
  // Each submission had its own engine id, derived from the client's.
  auto submitted = engine_->submitted();
  ASSERT_EQ(submitted.size(), 2u);
  EXPECT_NE(submitted[0].rid, submitted[1].rid);
  EXPECT_EQ(submitted[0].rid.rfind("dup-1#", 0), 0u) << submitted[0].rid;
  EXPECT_EQ(submitted[1].rid.rfind("dup-1#", 0), 0u) << submitted[1].rid;
}

TEST_F(ServerTest, ConcurrentNonStreamedRequestsWithOneRequestIdBothAnswer) {
  engine_->script.token_delay = 2ms;
  start();
  auto ask = [&] {
    return post("/v1/completions", json{{"prompt", "x"}, {"max_tokens", 20}},
                {{"X-Request-Id", "same"}});
  };
  auto a = std::async(std::launch::async, ask);
  auto b = std::async(std::launch::async, ask);
  for (auto* f : {&a, &b}) {
    auto r = f->get();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->get_header_value("X-Request-Id"), "same");
    json j = json::parse(r->body);
    EXPECT_EQ(j["id"], "cmpl-same");
    EXPECT_EQ(j["choices"][0]["text"], script_text(20));
  }
}

TEST_F(ServerTest, ClientLeavingAStreamWithSeveralChoicesAbortsThemAll) {
  engine_->script.token_delay = 5ms;
  start();
  const json body = {{"prompt", "x"}, {"max_tokens", 200}, {"n", 3}, {"stream", true}};
  stream_completion(server_->port(), body, "", 2);
  EXPECT_TRUE(engine_->wait_for_aborts(1));
  // Every choice's output ended (the real engine frees their KV in its next step).
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (engine_->running() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(engine_->running(), 0);
}

TEST_F(ServerTest, OneChoiceMatchingAStopStringLeavesTheOthersRunning) {
  start();
  // Choice i starts at script token i: the stop string (choice 0's first two tokens)
  // ends choice 0 at once; choice 1 never produces it within max_tokens.
  const auto k = static_cast<int>(engine_->script.tokens.size());
  ASSERT_GE(k, 3);
  const std::string stop = script_text(2, 0);
  const std::string full = script_text(static_cast<size_t>(k), 1);
  ASSERT_EQ(full.find(stop), std::string::npos);
  for (bool stream : {false, true}) {
    json body = {{"prompt", "x"}, {"max_tokens", k}, {"n", 2}, {"stop", stop}, {"stream", stream}};
    auto r = post("/v1/completions", body);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    std::map<int, std::string> text, finish;
    if (stream) {
      auto events = sse_payloads(r->body);
      ASSERT_FALSE(events.empty());
      EXPECT_EQ(events.back(), "[DONE]");
      for (size_t i = 0; i + 1 < events.size(); ++i) {
        const json chunk = json::parse(events[i]);
        for (const auto& ch : chunk["choices"]) {
          const int index = ch["index"].get<int>();
          text[index] += ch["text"].get<std::string>();
          if (!ch["finish_reason"].is_null()) {
            finish[index] = ch["finish_reason"].get<std::string>();
          }
        }
      }
    } else {
      const json j = json::parse(r->body);
      for (const auto& ch : j["choices"]) {
        text[ch["index"].get<int>()] = ch["text"].get<std::string>();
        finish[ch["index"].get<int>()] = ch["finish_reason"].get<std::string>();
      }
    }
    EXPECT_EQ(finish[0], "stop") << "stream=" << stream;
    EXPECT_EQ(text[0], "") << "stream=" << stream;
    EXPECT_EQ(finish[1], "length") << "stream=" << stream;
    EXPECT_EQ(text[1], full) << "stream=" << stream;
  }
  // Each time, the server stopped the finished choice in the engine (freeing its KV)
  // while the other one still ran.
  EXPECT_EQ(engine_->choice_aborts(), 2);
}

}  // namespace
}  // namespace radix::server::testing
