// The HTTP side of `radix bench serving`: a base URL, JSON GET/POST for setup calls
// (/v1/models, /get_model_info) and a streaming POST that hands body bytes to a callback
// as they arrive. Built on cpp-httplib's blocking client, one connection per request: the
// caller runs each in-flight request on its own thread (bench/serving.cpp). https works
// where the system cpp-httplib was built with OpenSSL (Debian's is).
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace radix::bench {

struct BaseUrl {
  std::string scheme = "http";  // http | https
  std::string host;
  int port = 80;
  std::string path_prefix;  // "" or "/something" (no trailing slash)

  std::string authority() const;  // host:port, an IPv6 host in brackets
  std::string to_string() const;
};

// "http[s]://host[:port][/prefix]" (IPv6 hosts in brackets); other schemes, a bad port or
// no host are InvalidArgument.
Result<BaseUrl> parse_base_url(const std::string& url);

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpTimeouts {
  int connect_s = 60;
  int read_s = 6 * 3600;  // one read may wait as long as the server queues a request
};

// GET or POST returning the body parsed as JSON; a non-2xx status or a body that is not
// JSON is an error quoting the status and the start of the body.
Result<nlohmann::json> http_get_json(const BaseUrl& base, const std::string& path,
                                     const HttpHeaders& headers, const HttpTimeouts& timeouts = {});
Result<nlohmann::json> http_post_json(const BaseUrl& base, const std::string& path,
                                      const std::string& body, const HttpHeaders& headers,
                                      const HttpTimeouts& timeouts = {});

struct StreamResult {
  int status = 0;     // HTTP status; 0 when no response came
  std::string error;  // transport error, or the body of a non-200 response
};

// POSTs `body` (JSON) and calls on_body for every piece of a 200 response's body as it
// arrives (on_body returning false cancels). Never throws.
StreamResult http_post_stream(const BaseUrl& base, const std::string& path, const std::string& body,
                              const HttpHeaders& headers, const HttpTimeouts& timeouts,
                              const std::function<bool(const char*, size_t)>& on_body);

}  // namespace radix::bench
