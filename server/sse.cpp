// SSE framing (see sse.h).
#include "server/sse.h"

#include "server/json_fields.h"

namespace radix::server {

std::string sse_event(const nlohmann::json& data) {
  return "data: " + dump_json(data) + "\n\n";
}

std::string sse_done() {
  return "data: [DONE]\n\n";
}

std::string sse_error(const ApiError& error) {
  return sse_event(error.to_json());
}

bool SseWriter::raw(const std::string& s) {
  if (!ok_) return false;
  ok_ = write_(s);
  return ok_;
}

}  // namespace radix::server
