#include "bench/http_client.h"

#include <httplib.h>

#include <charconv>

namespace radix::bench {
namespace {

constexpr size_t kMaxErrorBody = 2000;

std::unique_ptr<httplib::Client> make_client(const BaseUrl& base, const HttpTimeouts& t) {
  auto cli = std::make_unique<httplib::Client>(base.scheme + "://" + base.authority());
  cli->set_connection_timeout(t.connect_s, 0);
  cli->set_read_timeout(t.read_s, 0);
  cli->set_write_timeout(t.connect_s, 0);
  cli->set_keep_alive(false);
  return cli;
}

httplib::Headers to_headers(const HttpHeaders& headers) {
  httplib::Headers out;
  for (const auto& [k, v] : headers) out.emplace(k, v);
  return out;
}

std::string describe(const BaseUrl& base, const std::string& path) {
  return base.to_string() + path;
}

Result<nlohmann::json> json_reply(const httplib::Result& r, const BaseUrl& base,
                                  const std::string& path) {
  if (!r) {
    return unavailable(describe(base, path) + ": " + httplib::to_string(r.error()) +
                       " (is the server running? check --base-url or --host/--port)");
  }
  if (r->status < 200 || r->status >= 300) {
    return unavailable(describe(base, path) + ": HTTP " + std::to_string(r->status) + ": " +
                       r->body.substr(0, kMaxErrorBody));
  }
  nlohmann::json j = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return data_loss(describe(base, path) + ": the reply is not JSON");
  return j;
}

}  // namespace

std::string BaseUrl::authority() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string BaseUrl::to_string() const {
  return scheme + "://" + authority() + path_prefix;
}

Result<BaseUrl> parse_base_url(const std::string& url) {
  BaseUrl b;
  std::string_view rest = url;
  if (rest.starts_with("http://")) {
    b.scheme = "http";
    b.port = 80;
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    b.scheme = "https";
    b.port = 443;
    rest.remove_prefix(8);
  } else {
    return invalid_argument("--base-url '" + url + "' must start with http:// or https://");
  }
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  // host, host:port, [v6], [v6]:port
  std::string_view host = authority;
  std::string_view port;
  bool has_port = false;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return invalid_argument("--base-url '" + url + "' has an unclosed '['");
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalid_argument("--base-url '" + url + "' is malformed");
      port = after.substr(1);
      has_port = true;
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    has_port = true;
  }
  if (has_port) {
    int value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value < 1 ||
        value > 65535) {
      return invalid_argument("--base-url '" + url + "' has an invalid port");
    }
    b.port = value;
  }
  authority = host;
  if (authority.empty()) return invalid_argument("--base-url '" + url + "' has no host");
  b.host = std::string(authority);
  b.path_prefix = std::string(path);
  return b;
}

Result<nlohmann::json> http_get_json(const BaseUrl& base, const std::string& path,
                                     const HttpHeaders& headers, const HttpTimeouts& timeouts) {
  auto cli = make_client(base, timeouts);
  return json_reply(cli->Get(base.path_prefix + path, to_headers(headers)), base, path);
}

Result<nlohmann::json> http_post_json(const BaseUrl& base, const std::string& path,
                                      const std::string& body, const HttpHeaders& headers,
                                      const HttpTimeouts& timeouts) {
  auto cli = make_client(base, timeouts);
  return json_reply(
      cli->Post(base.path_prefix + path, to_headers(headers), body, "application/json"), base,
      path);
}

StreamResult http_post_stream(const BaseUrl& base, const std::string& path, const std::string& body,
                              const HttpHeaders& headers, const HttpTimeouts& timeouts,
                              const std::function<bool(const char*, size_t)>& on_body) {
  StreamResult result;
  try {
    auto cli = make_client(base, timeouts);
    httplib::Request req;
    req.method = "POST";
    req.path = base.path_prefix + path;
    req.headers = to_headers(headers);
    req.headers.emplace("Accept", "text/event-stream");
    req.body = body;
    req.set_header("Content-Type", "application/json");
    req.response_handler = [&result](const httplib::Response& res) {
      result.status = res.status;
      return true;
    };
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      if (result.status == 200) return on_body(data, n);
      if (result.error.size() < kMaxErrorBody)
        result.error.append(data, std::min(n, kMaxErrorBody));
      return true;
    };
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    if (!cli->send(req, res, err)) {
      const std::string what = "HTTP client error: " + httplib::to_string(err);
      result.error = result.error.empty() ? what : what + ": " + result.error;
      if (result.status == 200) result.status = 0;  // a stream cut short is a failure too
    } else if (result.status != 200) {
      result.error = "HTTP " + std::to_string(result.status) + ": " + result.error;
    }
  } catch (const std::exception& e) {
    result.status = 0;
    result.error = std::string("client error: ") + e.what();
  }
  return result;
}

}  // namespace radix::bench
