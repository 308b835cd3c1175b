// `radix serve`: the HTTP server over the engine (DESIGN.md §1, SGLang launch_server
// flag names). It listens first (/health = 503), loads tokenizer, chat template and
// engine, warms up with one generation, prints "ready", and on SIGTERM/SIGINT drains
// in-flight requests (aborting them after --shutdown-timeout) and exits cleanly.
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "core/logging.h"
#include "runtime/engine.h"
#include "server/http_server.h"
#include "tokenizer/tokenizer.h"

namespace radix::cli {
namespace {

struct ServeArgs {
  EngineOptions engine;
  server::ServerOptions server;
  int tp_size = 1;
  std::string quantization;
  std::string chat_template;
  std::string log_level = "info";
  int shutdown_timeout_s = 30;
  int max_body_mb = 64;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 1;
}

// Thousands of streaming clients need thousands of sockets: lift the soft limit.
void raise_open_file_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

nlohmann::json launch_args(const ServeArgs& a) {
  const EngineOptions& e = a.engine;
  return {{"model_path", e.model_path},
          {"tokenizer_path", e.tokenizer_path.empty() ? e.model_path : e.tokenizer_path},
          {"device", e.device},
          {"dtype", e.dtype},
          {"load_format", e.load_format},
          {"kv_cache_dtype", e.kv_cache_dtype},
          {"context_length", e.context_length},
          {"max_running_requests", e.max_running_requests},
          {"max_total_tokens", e.max_total_tokens},
          {"mem_fraction_static", e.mem_fraction_static},
          {"chunked_prefill_size", e.chunked_prefill_size},
          {"max_prefill_tokens", e.max_prefill_tokens},
          {"schedule_policy", e.schedule_policy},
          {"disable_radix_cache", e.disable_radix_cache},
          {"cascade_min_prefix_len", e.cascade_min_prefix_len},
          {"enable_overlap_schedule", e.enable_overlap_schedule},
          {"overlap_schedule_min_batch", e.overlap_min_batch},
          {"disable_cuda_graph", e.disable_cuda_graph},
          {"cuda_graph_max_bs", e.cuda_graph_max_bs},
          {"tp_size", a.tp_size},
          {"chat_template", a.chat_template}};
}

// One short greedy generation straight through the engine before reporting ready.
Status warm_up(Engine& engine, const Tokenizer& tokenizer) {
  GenerateInput input;
  input.rid = "warmup";
  input.input_ids = tokenizer.encode("Hello", true);
  if (input.input_ids.empty()) input.input_ids = {0};
  input.params.max_new_tokens = 4;
  input.params.temperature = 0.0f;
  RADIX_ASSIGN_OR_RETURN(auto handle, engine.submit(std::move(input)));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  RequestEvent event;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!handle->next(&event, std::chrono::milliseconds(100))) continue;
    if (!event.error.is_ok()) return event.error.with_context("warm-up generation");
    if (event.finished) return Status::ok();
  }
  handle->abort();
  return unavailable("warm-up generation did not finish within 10 minutes");
}

int run_serve(ServeArgs& a) {
  if (Status s = set_log_level(a.log_level); !s.is_ok()) return fail(s.message());
  if (a.tp_size != 1) {
    return fail("--tp-size " + std::to_string(a.tp_size) +
                ": tensor parallelism is not supported yet; use --tp-size 1.");
  }
  if (!a.quantization.empty() && a.quantization != "none") {
    return fail("--quantization " + a.quantization + " is not supported yet.");
  }
  if (a.max_body_mb < 1) return fail("--max-request-body-mb must be at least 1.");
  if (a.shutdown_timeout_s < 0) return fail("--shutdown-timeout must be >= 0.");

  // SIGTERM/SIGINT are taken synchronously by this thread (sigwait below): block them
  // before any thread starts so none of them receives it.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  raise_open_file_limit();

  a.server.max_body_bytes = static_cast<size_t>(a.max_body_mb) << 20;
  a.server.launch_args = launch_args(a);
  server::HttpServer http(a.server);
  if (Status s = http.start(); !s.is_ok()) return fail(s.message());
  std::printf("radix serve: listening on http://%s:%d (loading; /health answers 503)\n",
              a.server.host.c_str(), http.port());
  std::fflush(stdout);

  const std::string tok_dir =
      a.engine.tokenizer_path.empty() ? a.engine.model_path : a.engine.tokenizer_path;
  auto tokenizer = Tokenizer::from_dir(tok_dir);
  if (!tokenizer.is_ok()) return fail("tokenizer: " + tokenizer.status().to_string());
  auto chat_template = server::load_chat_template(tok_dir, a.chat_template);
  if (!chat_template.is_ok()) return fail(chat_template.status().to_string());
  auto engine_or = Engine::create(a.engine);
  if (!engine_or.is_ok()) return fail("engine: " + engine_or.status().to_string());
  std::shared_ptr<Engine> engine = std::move(engine_or).value();

  const ModelInfo& info = engine->model_info();
  const EngineStats stats = engine->stats();
  std::printf(
      "radix serve: loaded %s (%s): context %d, vocab %d, KV pool %s tokens, device %s, "
      "dtype %s; tokenizer %s (vocab %d); chat template: %s\n",
      info.model_path.c_str(), info.architecture.c_str(), info.context_length, info.vocab_size,
      stats.kv_total_slots > 0 ? std::to_string(stats.kv_total_slots).c_str() : "(see log)",
      a.engine.device.c_str(), a.engine.dtype.c_str(),
      tok_dir.c_str(), (*tokenizer)->vocab_size(),
      *chat_template
          ? (a.chat_template.empty() ? "from the tokenizer config" : a.chat_template.c_str())
          : "none (chat completions disabled)");
  std::fflush(stdout);
  http.attach(engine, *tokenizer, *chat_template);
  if (Status s = warm_up(*engine, **tokenizer); !s.is_ok()) {
    http.stop();
    engine->shutdown(std::chrono::milliseconds(0));
    return fail(s.to_string());
  }
  http.set_ready();
  std::printf("radix serve: ready on http://%s:%d (model \"%s\")\n", a.server.host.c_str(),
              http.port(),
              a.server.served_model_name.empty() ? info.model_path.c_str()
                                                 : a.server.served_model_name.c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  const auto timeout = std::chrono::seconds(a.shutdown_timeout_s);
  std::printf("radix serve: %s received; draining %d in-flight request(s) (up to %d s)\n",
              sig == SIGTERM ? "SIGTERM" : "SIGINT", http.in_flight(), a.shutdown_timeout_s);
  std::fflush(stdout);
  if (!http.drain(timeout)) {
    std::printf("radix serve: %d request(s) still running; aborting them\n", http.in_flight());
    engine->shutdown(std::chrono::milliseconds(0));  // aborts: their handlers finish
  }
  http.stop();
  engine->shutdown(std::chrono::milliseconds(0));
  std::printf("radix serve: stopped\n");
  return 0;
}

}  // namespace

void register_serve(CLI::App& app, Runner* run) {
  auto* cmd = app.add_subcommand("serve", "Serve a model over HTTP (OpenAI and SGLang APIs)");
  static ServeArgs a;
  add_engine_flags(cmd, &a.engine);
  cmd->add_option("--host", a.server.host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", a.server.port, "Port to listen on")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--tp-size,--tp", a.tp_size, "Tensor parallel size (only 1 for now)")
      ->capture_default_str();
  cmd->add_option("--quantization", a.quantization, "Weight quantization (not supported yet)");
  cmd->add_option("--api-key", a.server.api_key,
                  "Require 'Authorization: Bearer KEY' (health and metrics stay open)");
  cmd->add_option("--served-model-name", a.server.served_model_name,
                  "Model name in the API (default: the model path)");
  cmd->add_option("--chat-template", a.chat_template,
                  "Chat template: a .jinja file or a tokenizer_config.json (default: the "
                  "model's)");
  cmd->add_option("--log-level", a.log_level, "debug, info, warning, error")->capture_default_str();
  cmd->add_option("--shutdown-timeout", a.shutdown_timeout_s,
                  "Seconds to let in-flight requests finish on SIGTERM before aborting them")
      ->capture_default_str();
  cmd->add_option("--max-request-body-mb", a.max_body_mb, "Largest request body (413 above)")
      ->capture_default_str();
  cmd->callback([run] { *run = [] { return run_serve(a); }; });
}

}  // namespace radix::cli
