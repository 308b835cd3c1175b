// Server-sent events framing as OpenAI and SGLang clients parse it: each event is one
// `data: <json>\n\n`, the stream ends with `data: [DONE]\n\n`, and a failure mid-stream
// is an error event (`data: {"error": {...}}`) followed by [DONE].
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>

#include "server/api_error.h"

namespace radix::server {

std::string sse_event(const nlohmann::json& data);
std::string sse_done();
std::string sse_error(const ApiError& error);

// Writes events to a transport; remembers the first failed write (client gone) so the
// producer can stop and abort its request.
class SseWriter {
 public:
  using WriteFn = std::function<bool(const std::string&)>;
  explicit SseWriter(WriteFn write) : write_(std::move(write)) {}

  bool event(const nlohmann::json& data) { return raw(sse_event(data)); }
  bool done() { return raw(sse_done()); }
  bool error(const ApiError& e) { return raw(sse_error(e)); }
  bool ok() const { return ok_; }

 private:
  bool raw(const std::string& s);

  WriteFn write_;
  bool ok_ = true;
};

}  // namespace radix::server
