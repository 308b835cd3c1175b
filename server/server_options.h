// ServerOptions: what `radix serve` (cli/serve_cmd.cpp) configures in the HTTP layer.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "server/http_transport.h"

namespace radix::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 30000;               // 0 = an ephemeral port (tests)
  std::string api_key;            // empty: no authentication
  std::string served_model_name;  // empty: the model path
  size_t max_body_bytes = 64u << 20;
  int read_timeout_s = 60;                      // a client sending its request body
  int write_timeout_s = 60;                     // a client not reading its response
  // A waiting request is woken by its engine events and by the transport when its client
  // leaves; at least this often it also checks the client itself (the fallback).
  std::chrono::milliseconds poll_interval{1000};
  TransportOptions transport;
  std::string version = "0.1.0";
  // Engine and launch settings echoed by /get_server_info (filled by `radix serve`).
  nlohmann::json launch_args = nlohmann::json::object();
};

}  // namespace radix::server
