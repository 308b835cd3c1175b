// ApiError construction and the Status -> HTTP status mapping (see api_error.h).
#include "server/api_error.h"

namespace radix::server {
namespace {

const char* type_for(int http_status) {
  switch (http_status) {
    case 400:
    case 405:
    case 413:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 404:
      return "not_found_error";
    case 503:
      return "service_unavailable";
    default:
      return "server_error";
  }
}

ApiError make(int http_status, std::string message, std::string param, std::string code) {
  return ApiError{http_status, std::move(message), type_for(http_status), std::move(param),
                  std::move(code)};
}

}  // namespace

nlohmann::json ApiError::to_json() const {
  nlohmann::json err = {{"message", message},
                        {"type", type},
                        {"param", param.empty() ? nlohmann::json() : nlohmann::json(param)},
                        {"code", code.empty() ? nlohmann::json() : nlohmann::json(code)}};
  return nlohmann::json{{"error", std::move(err)}};
}

int http_status_for(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kResourceExhausted:
    case StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

ApiError api_error_from(const Status& status, std::string param) {
  int http = http_status_for(status.code());
  std::string code;
  switch (status.code()) {
    case StatusCode::kOutOfRange:
      code = "context_length_exceeded";
      break;
    case StatusCode::kResourceExhausted:
      code = "server_overloaded";
      break;
    case StatusCode::kUnavailable:
      code = "server_not_ready";
      break;
    case StatusCode::kUnimplemented:
      code = "unsupported";
      break;
    default:
      break;
  }
  return make(http, status.message(), std::move(param), std::move(code));
}

ApiError bad_request(std::string message, std::string param) {
  return make(400, std::move(message), std::move(param), "invalid_value");
}

ApiError unauthorized(std::string message) {
  return make(401, std::move(message), {}, "invalid_api_key");
}

ApiError route_not_found(const std::string& method, const std::string& path) {
  return make(404, "No route for " + method + " " + path + ".", {}, "unknown_route");
}

ApiError method_not_allowed(const std::string& method, const std::string& path, const std::string& allowed) {
  return make(405, "Method " + method + " is not allowed on " + path + "; use " + allowed + ".", {},
              "method_not_allowed");
}

ApiError model_not_found(const std::string& model) {
  return make(404, "The model '" + model + "' does not exist; GET /v1/models lists the served one.",
              "model", "model_not_found");
}

ApiError payload_too_large(size_t limit_bytes) {
  return make(413,
              "Request body is larger than the limit of " + std::to_string(limit_bytes) + " bytes.",
              {}, "request_too_large");
}

ApiError overloaded(std::string message) {
  return make(503, std::move(message), {}, "server_overloaded");
}

ApiError not_ready() {
  return make(503, "The server is still loading the model; retry when /health returns 200.", {},
              "server_not_ready");
}

}  // namespace radix::server
