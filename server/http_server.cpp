// HttpServer: routing, authentication, request ids, body limits and lifecycle (see
// http_server.h). Route logic lives in *_routes.cpp.
#include "server/http_server.h"

#include <map>
#include <memory>
#include <string>

#include "core/logging.h"
#include "server/api_error.h"
#include "server/http_transport.h"
#include "server/json_fields.h"
#include "server/routes.h"
#include "server/serving_state.h"

namespace radix::server {
namespace {

using httplib::Request;
using httplib::Response;
using HandlerResponse = httplib::Server::HandlerResponse;

constexpr size_t kMaxRequestIdLength = 128;

bool valid_request_id(const std::string& rid) {
  if (rid.empty() || rid.size() > kMaxRequestIdLength) return false;
  for (char c : rid) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

// Compares without an early exit so the key cannot be guessed byte by byte from timing.
bool constant_time_equal(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i % (b.empty() ? 1 : b.size())];
  return diff == 0 && !b.empty();
}

// Health and metrics stay open with --api-key (load balancers and scrapers).
bool is_open_path(const std::string& path) {
  return path == "/health" || path == "/health_generate" || path == "/metrics";
}

// Error responses close their connection (see HttpTransport::close_after_response).
void write_error(Response& res, const ApiError& e) {
  res.status = e.http_status;
  res.set_content(dump_json(e.to_json()), "application/json");
  res.set_header("Connection", "close");
  HttpTransport::close_after_response();
}

}  // namespace

HttpServer::HttpServer(ServerOptions options) : state_(std::make_unique<ServingState>()) {
  state_->options = std::move(options);
  state_->model_name = state_->options.served_model_name;
  transport_ = std::make_unique<HttpTransport>(state_->options.transport);
  transport_->set_payload_max_length(state_->options.max_body_bytes);
  transport_->set_read_timeout(state_->options.read_timeout_s, 0);
  transport_->set_write_timeout(state_->options.write_timeout_s, 0);
  transport_->set_tcp_nodelay(true);
  register_routes();
}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::register_routes() {
  ServingState* s = state_.get();
  HttpTransport* t = transport_.get();

  t->set_pre_routing_handler([s](const Request& req, Response& res) {
    // HTTP/1.1: a request with neither Content-Length nor chunked Transfer-Encoding has an
    // empty body (RFC 9112, 6.3). httplib reads such a POST's body until the client
    // closes, so `curl -X POST .../flush_cache` hung until the client gave up. The length
    // is made explicit here, the one hook that runs before the body is read (httplib's
    // Request is a mutable local of its connection loop).
    if (!req.has_header("Content-Length") &&
        req.get_header_value("Transfer-Encoding").find("chunked") == std::string::npos) {
      const_cast<Request&>(req).set_header("Content-Length", "0");
    }
    std::string rid = req.get_header_value("X-Request-Id");
    if (!rid.empty() && !valid_request_id(rid)) {
      res.set_header("X-Request-Id", new_request_id());
      write_error(res, bad_request("X-Request-Id must be 1 to 128 characters of [A-Za-z0-9._:-]."));
      return HandlerResponse::Handled;
    }
    res.set_header("X-Request-Id", rid.empty() ? new_request_id() : rid);
    // CORS, open to every origin as SGLang's and vLLM's servers are by default: browsers
    // may call the API directly. A preflight (OPTIONS with Origin and
    // Access-Control-Request-Method) is answered here, before the API key check
    // (browsers send no credentials on it).
    if (req.has_header("Origin")) {
      res.set_header("Access-Control-Allow-Origin", "*");
      res.set_header("Access-Control-Expose-Headers", "X-Request-Id");
      if (req.method == "OPTIONS" && req.has_header("Access-Control-Request-Method")) {
        const std::string asked = req.get_header_value("Access-Control-Request-Headers");
        res.status = 204;
        res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        res.set_header("Access-Control-Allow-Headers", asked.empty() ? "*" : asked);
        res.set_header("Access-Control-Max-Age", "600");
        return HandlerResponse::Handled;
      }
    }
    if (!s->options.api_key.empty() && !is_open_path(req.path)) {
      std::string auth = req.get_header_value("Authorization");
      const std::string prefix = "Bearer ";
      std::string key = auth.rfind(prefix, 0) == 0 ? auth.substr(prefix.size()) : std::string();
      if (!constant_time_equal(key, s->options.api_key)) {
        s->metrics.count_error(401);
        write_error(res, unauthorized(auth.empty() ? "Missing API key: send 'Authorization: Bearer "
                                                     "<key>'."
                                                   : "Invalid API key."));
        return HandlerResponse::Handled;
      }
    }
    return HandlerResponse::Unhandled;
  });

  // The methods each fixed path serves, so a known path asked with another method is a
  // 405 naming them rather than a 404.
  auto methods = std::make_shared<std::map<std::string, std::string>>();

  // Errors httplib produces itself (unknown route, body over the limit, bad HTTP) get the
  // same JSON shape as ours.
  t->set_error_handler(httplib::Server::HandlerWithResponse([s, methods](const Request& req, Response& res) {
    if (!res.body.empty()) return HandlerResponse::Unhandled;
    ApiError e;
    if (res.status == 404) {
      if (auto it = methods->find(req.path); it != methods->end()) {
        res.status = 405;
        res.set_header("Allow", it->second);
      }
    }
    switch (res.status) {
      case 404:
        e = route_not_found(req.method, req.path);
        break;
      case 405:
        e = method_not_allowed(req.method, req.path, res.get_header_value("Allow"));
        break;
      case 413:
        e = payload_too_large(s->options.max_body_bytes);
        break;
      case 400:
        e = bad_request("Malformed HTTP request.");
        break;
      default:
        e = ApiError{res.status, "HTTP error " + std::to_string(res.status) + ".",
                     res.status >= 500 ? "server_error" : "invalid_request_error", "", ""};
    }
    s->metrics.count_error(res.status);
    write_error(res, e);
    return HandlerResponse::Handled;
  }));

  t->set_exception_handler([s](const Request& req, Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    RADIX_LOG_ERROR("{} {}: internal error: {}", req.method, req.path, what);
    s->metrics.count_error(500);
    write_error(res, ApiError{500, "Internal server error: " + what, "server_error", "", ""});
  });

  t->set_logger([](const Request& req, const Response& res) {
    if (res.status >= 400) HttpTransport::close_after_response();
    RADIX_LOG_DEBUG("{} {} -> {} (request {})", req.method, req.path, res.status,
                    res.get_header_value("X-Request-Id"));
  });

  auto make_call = [s](const Request& req, Response& res) {
    return Call{*s, req, res, res.get_header_value("X-Request-Id"), {}, Generation::Clock::now()};
  };
  auto allow = [methods](const char* path, const char* method) {
    std::string& m = (*methods)[path];
    m += m.empty() ? method : std::string(", ") + method;
  };
  auto get = [t, make_call, allow](const char* pattern, void (*fn)(Call&)) {
    allow(pattern, "GET");
    t->Get(pattern, [make_call, fn](const Request& req, Response& res) {
      Call call = make_call(req, res);
      fn(call);
    });
  };
  auto post = [t, s, make_call, allow](const char* pattern, void (*fn)(Call&)) {
    allow(pattern, "POST");
    t->Post(pattern, [s, make_call, fn](const Request& req, Response& res,
                                        const httplib::ContentReader& reader) {
      Call call = make_call(req, res);
      if (req.is_multipart_form_data()) {
        return reply_error(call, bad_request("Send the request body as application/json."));
      }
      const size_t limit = s->options.max_body_bytes;
      bool too_large = false;
      bool read = reader([&](const char* data, size_t n) {
        if (call.body.size() + n > limit) {
          too_large = true;
          return false;
        }
        call.body.append(data, n);
        return true;
      });
      if (too_large || res.status == 413) return reply_error(call, payload_too_large(limit));
      if (!read) return reply_error(call, bad_request("Could not read the request body."));
      fn(call);
    });
  };

  post("/v1/completions", handle_completions);
  post("/v1/chat/completions", handle_chat_completions);
  get("/v1/models", handle_models);
  t->Get(R"(/v1/models/(.+))", [make_call](const Request& req, Response& res) {
    Call call = make_call(req, res);
    handle_model(call, req.matches[1].str());
  });
  post("/generate", handle_generate);
  get("/health", handle_health);
  get("/health_generate", handle_health_generate);
  get("/get_model_info", handle_get_model_info);
  get("/get_server_info", handle_get_server_info);
  get("/flush_cache", handle_flush_cache);
  post("/flush_cache", handle_flush_cache);
  get("/metrics", handle_metrics);
  post("/tokenize", handle_tokenize);
  post("/detokenize", handle_detokenize);
}

Status HttpServer::start() {
  if (started_) return Status::ok();
  const auto& o = state_->options;
  if (!transport_->bind(o.host, o.port)) {
    return unavailable("Cannot listen on " + o.host + ":" + std::to_string(o.port) +
                       " (address in use or not available).");
  }
  state_->options.port = transport_->bound_port();
  listener_ = std::thread([t = transport_.get()] { t->serve(); });
  started_ = true;
  RADIX_LOG_INFO("HTTP server listening on http://{}:{}", o.host, transport_->bound_port());
  return Status::ok();
}

int HttpServer::port() const {
  return transport_->bound_port();
}

void HttpServer::attach(std::shared_ptr<Engine> engine, std::shared_ptr<const Tokenizer> tokenizer,
                        std::shared_ptr<const ChatTemplate> chat_template) {
  if (state_->attached.load()) return;
  if (state_->model_name.empty()) state_->model_name = engine->model_info().model_path;
  state_->engine = std::move(engine);
  state_->tokenizer = std::move(tokenizer);
  state_->chat_template = std::move(chat_template);
  state_->attached.store(true);
}

void HttpServer::set_ready() {
  if (state_->attached.load()) state_->ready.store(true);
}

bool HttpServer::ready() const {
  return state_->ready.load();
}

int HttpServer::in_flight() const {
  return state_->in_flight.load();
}

bool HttpServer::drain(std::chrono::milliseconds timeout) {
  state_->draining.store(true);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (state_->in_flight.load() > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

void HttpServer::stop() {
  if (!started_) return;
  started_ = false;
  transport_->shutdown();
  if (listener_.joinable()) listener_.join();
}

Result<std::shared_ptr<const ChatTemplate>> load_chat_template(const std::string& model_dir,
                                                               const std::string& path) {
  // --chat-template FILE (a .jinja file or a tokenizer_config.json) must load; the model's
  // own template is optional (NotFound: chat is refused with a clear 400).
  auto t = ChatTemplate::from_tokenizer_config(path.empty() ? model_dir : path);
  if (!t.is_ok()) {
    if (path.empty() && t.status().code() == StatusCode::kNotFound) {
      return std::shared_ptr<const ChatTemplate>();
    }
    return t.status().with_context("loading the chat template");
  }
  return std::shared_ptr<const ChatTemplate>(std::make_shared<ChatTemplate>(std::move(t).value()));
}

}  // namespace radix::server
