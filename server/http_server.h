// HttpServer: radix's HTTP front end (DESIGN.md §3, step 1 and 3). It listens before the
// model is loaded (/health answers 503 until set_ready), then serves the OpenAI and
// SGLang routes over an Engine, a Tokenizer and a ChatTemplate. Every response carries
// X-Request-Id; --api-key guards everything but /health*, /metrics.
//
//   HttpServer server(options);
//   RADIX_RETURN_IF_ERROR(server.start());          // listening, /health = 503
//   server.attach(engine, tokenizer, chat_template);
//   server.set_ready();                             // after the warm-up generation
//   ...
//   server.drain(timeout); server.stop();           // SIGTERM
#pragma once

#include <chrono>
#include <memory>
#include <thread>

#include "core/status.h"
#include "runtime/engine.h"
#include "server/server_options.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace radix::server {

struct ServingState;
class HttpTransport;

class HttpServer {
 public:
  explicit HttpServer(ServerOptions options);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port and serves on a background thread. Fails when the address is taken.
  Status start();
  int port() const;  // the bound port (useful with port 0)

  // The loaded model; call once, before set_ready. `chat_template` may be null.
  void attach(std::shared_ptr<Engine> engine, std::shared_ptr<const Tokenizer> tokenizer,
              std::shared_ptr<const ChatTemplate> chat_template);
  void set_ready();
  bool ready() const;

  // Refuses new generation requests (503) and waits up to `timeout` for those in flight.
  // True when none is left.
  bool drain(std::chrono::milliseconds timeout);
  int in_flight() const;
  // Stops listening and joins every connection thread. Idempotent.
  void stop();

 private:
  void register_routes();

  std::unique_ptr<ServingState> state_;
  std::unique_ptr<HttpTransport> transport_;
  std::thread listener_;
  bool started_ = false;
};

// Loads the chat template for a model: `path` when given (a Jinja file), else the one in
// <model_dir>/tokenizer_config.json; null when neither exists.
Result<std::shared_ptr<const ChatTemplate>> load_chat_template(const std::string& model_dir,
                                                               const std::string& path);

}  // namespace radix::server
