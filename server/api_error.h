// ApiError: the one shape every HTTP error takes (OpenAI's
// `{"error": {"message", "type", "param", "code"}}`), and the mapping from a radix
// Status to an HTTP status. Route handlers turn any failed Status into an ApiError;
// the openai clients parse this body into their APIError classes.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "core/status.h"

namespace radix::server {

struct ApiError {
  int http_status = 500;
  std::string message;
  std::string type;   // "invalid_request_error", "authentication_error", ...
  std::string param;  // the offending field, empty when none
  std::string code;   // machine-readable, empty when none

  nlohmann::json to_json() const;
};

// HTTP status for a Status code: InvalidArgument/OutOfRange -> 400, Unauthenticated ->
// 401, NotFound -> 404, ResourceExhausted/Unavailable -> 503, the rest -> 500.
int http_status_for(StatusCode code);

// An ApiError for a failed Status (message kept, type and code derived from the status).
ApiError api_error_from(const Status& status, std::string param = {});

ApiError bad_request(std::string message, std::string param = {});
ApiError unauthorized(std::string message);
ApiError route_not_found(const std::string& method, const std::string& path);
// 405 for a known path asked with a method it does not serve; `allowed` as in the Allow header.
ApiError method_not_allowed(const std::string& method, const std::string& path, const std::string& allowed);
ApiError model_not_found(const std::string& model);
ApiError payload_too_large(size_t limit_bytes);
ApiError overloaded(std::string message);
ApiError not_ready();

}  // namespace radix::server
