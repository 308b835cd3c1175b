// A real HttpServer on an ephemeral port over a FakeEngine and the bundled default
// model's tokenizer and chat template, plus small client helpers (JSON posts, SSE
// parsing) for round-trip tests.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "server/http_server.h"
#include "tests/unit/server/fake_engine.h"
#include "tokenizer/tokenizer.h"

namespace radix::server::testing {

inline std::string default_model_dir() {
  return std::string(RADIX_SOURCE_DIR) + "/models/default";
}

// The `data:` payloads of an SSE body; fails the test on anything that is not framed
// as `data: ...\n\n`.
inline std::vector<std::string> sse_payloads(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) {
      ADD_FAILURE() << "unterminated SSE event: " << body.substr(pos);
      break;
    }
    std::string ev = body.substr(pos, end - pos);
    if (ev.rfind("data: ", 0) != 0) {
      ADD_FAILURE() << "SSE event without 'data: ': " << ev;
    } else {
      out.push_back(ev.substr(6));
    }
    pos = end + 2;
  }
  return out;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tok = Tokenizer::from_dir(default_model_dir());
    ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
    tokenizer_ = std::move(tok).value();
    engine_ = std::make_shared<FakeEngine>();
    engine_->script.tokens = tokenizer_->encode(" alpha beta gamma delta", false);
    ASSERT_FALSE(engine_->script.tokens.empty());
  }
  void TearDown() override {
    if (server_) server_->stop();
  }

  // Starts the server; `ready` attaches the engine and marks it ready.
  void start(ServerOptions options = {}, bool ready = true) {
    options.host = "127.0.0.1";
    options.port = 0;
    if (options.served_model_name.empty()) options.served_model_name = "tiny";
    // A short fallback poll, unless the test chose one (a long one leaves only the
    // transport's client watch to notice a client leaving).
    if (options.poll_interval == ServerOptions{}.poll_interval) {
      options.poll_interval = std::chrono::milliseconds(10);
    }
    server_ = std::make_unique<HttpServer>(options);
    ASSERT_TRUE(server_->start().is_ok());
    if (ready) attach_and_ready();
  }
  void attach_and_ready() {
    auto tmpl = load_chat_template(default_model_dir(), "");
    ASSERT_TRUE(tmpl.is_ok()) << tmpl.status().to_string();
    server_->attach(engine_, tokenizer_, *tmpl);
    server_->set_ready();
  }

  httplib::Client client() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(30, 0);
    return c;
  }

  httplib::Result post(const std::string& path, const std::string& body,
                       httplib::Headers headers = {}) {
    auto c = client();
    return c.Post(path.c_str(), headers, body, "application/json");
  }
  httplib::Result post(const std::string& path, const nlohmann::json& body,
                       httplib::Headers headers = {}) {
    return post(path, body.dump(), std::move(headers));
  }
  httplib::Result get(const std::string& path, httplib::Headers headers = {}) {
    auto c = client();
    return c.Get(path.c_str(), headers);
  }

  std::string decode(const std::vector<int32_t>& ids) const {
    return tokenizer_->decode(ids, true);
  }
  // The text the fake engine's choice 0 produces in `n` tokens.
  std::string script_text(size_t n, size_t choice = 0) const {
    std::vector<int32_t> ids;
    const auto& t = engine_->script.tokens;
    for (size_t i = 0; i < n; ++i) ids.push_back(t[(i + choice) % t.size()]);
    return decode(ids);
  }

  std::shared_ptr<Tokenizer> tokenizer_;
  std::shared_ptr<FakeEngine> engine_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace radix::server::testing
