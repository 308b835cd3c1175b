// Operational routes: health, model and server info, cache flush, Prometheus metrics,
// and vLLM-style /tokenize and /detokenize.
#include <climits>

#include "server/json_fields.h"
#include "server/openai_protocol.h"
#include "server/routes.h"
#include "server/tokenization.h"

namespace radix::server {

using nlohmann::json;

void handle_health(Call& call) {
  if (!call.state.ready.load() || call.state.draining.load()) {
    return reply_error(call, call.state.draining.load()
                                 ? api_error_from(unavailable("The server is shutting down."))
                                 : not_ready());
  }
  call.res.status = 200;
  call.res.set_content("", "text/plain");
}

void handle_health_generate(Call& call) {
  if (!check_serving(call)) return;
  PreparedPrompt p;
  p.rid = call.rid;
  p.ids = encode_text(*call.state.tokenizer, "Hello", true);
  if (p.ids.empty()) p.ids = {0};
  p.params.max_new_tokens = 1;
  p.params.temperature = 0.0f;
  std::vector<PreparedPrompt> prompts;
  prompts.push_back(std::move(p));
  InFlightGuard in_flight(call.state);
  auto gen = start_generation(call, std::move(prompts));
  if (!gen) return;
  if (!wait_for_completion(call, *gen)) return;
  if (!gen->error().is_ok()) {
    return reply_error(call,
                       api_error_from(unavailable("Generation failed: " + gen->error().message())));
  }
  call.res.status = 200;
  call.res.set_content("", "text/plain");
}

void handle_get_model_info(Call& call) {
  if (!call.state.attached.load()) return reply_error(call, not_ready());
  const ModelInfo& info = call.state.engine->model_info();
  reply_json(call.res, 200,
             json{{"model_path", info.model_path},
                  {"served_model_name", call.state.model_name},
                  {"architecture", info.architecture},
                  {"context_length", info.context_length},
                  {"vocab_size", info.vocab_size},
                  {"eos_token_ids", info.eos_token_ids},
                  {"is_generation", true}});
}

void handle_get_server_info(Call& call) {
  const ServingState& s = call.state;
  json info = s.options.launch_args.is_object() ? s.options.launch_args : json::object();
  info["host"] = s.options.host;
  info["port"] = s.options.port;
  info["served_model_name"] = s.model_name;
  info["api_key_set"] = !s.options.api_key.empty();
  info["max_body_bytes"] = s.options.max_body_bytes;
  info["version"] = s.options.version;
  info["ready"] = s.ready.load();
  if (s.attached.load()) {
    const ModelInfo& m = s.engine->model_info();
    info["model_path"] = m.model_path;
    info["context_length"] = m.context_length;
    EngineStats st = s.engine->stats();
    info["num_running_reqs"] = st.num_running;
    info["num_queue_reqs"] = st.num_queued;
    info["max_total_num_tokens"] = st.kv_total_slots;
  }
  reply_json(call.res, 200, info);
}

void handle_flush_cache(Call& call) {
  if (!call.state.attached.load()) return reply_error(call, not_ready());
  if (!call.state.engine->flush_cache()) {
    return reply_error(call, api_error_from(unavailable(
                                 "Cache not flushed: requests are running or queued; retry when "
                                 "the server is idle.")));
  }
  call.res.status = 200;
  call.res.set_content("Cache flushed.\n", "text/plain");
}

void handle_metrics(Call& call) {
  EngineStats stats;
  if (call.state.attached.load()) stats = call.state.engine->stats();
  call.res.status = 200;
  call.res.set_content(call.state.metrics.render(stats, call.state.model_name),
                       "text/plain; version=0.0.4");
}

void handle_tokenize(Call& call) {
  if (!check_serving(call)) return;
  auto body = parse_json_body(call);
  if (!body) return;
  if (!body->is_object()) return reply_error(call, bad_request("The body must be a JSON object."));
  const ServingState& s = call.state;
  FieldReader r(*body);
  std::string model;
  bool add_special = true;
  r.read_string("model", 256, &model);
  r.read_bool("add_special_tokens", &add_special);
  if (!r.ok()) return reply_error(call, *r.error());
  if (!check_model(call, model)) return;
  std::vector<int32_t> ids;
  if (body->contains("messages")) {
    ChatRequest chat;
    json chat_body = {{"messages", (*body)["messages"]}};
    if (body->contains("add_generation_prompt")) {
      chat_body["add_generation_prompt"] = (*body)["add_generation_prompt"];
    }
    if (auto err = parse_chat_request(chat_body, &chat)) return reply_error(call, *err);
    if (!s.chat_template) return reply_error(call, bad_request("This model has no chat template."));
    ChatRenderOptions opts;
    opts.add_generation_prompt = chat.add_generation_prompt;
    auto rendered = render_chat(*s.chat_template, *s.tokenizer, chat.messages, opts);
    if (!rendered.is_ok()) return reply_error(call, api_error_from(rendered.status(), "messages"));
    ids = encode_text(*s.tokenizer, *rendered, false);
  } else {
    std::string prompt;
    if (!body->contains("prompt") || !(*body)["prompt"].is_string()) {
      return reply_error(call,
                         bad_request("'prompt' (a string) or 'messages' is required.", "prompt"));
    }
    prompt = (*body)["prompt"].get<std::string>();
    ids = encode_text(*s.tokenizer, prompt, add_special);
  }
  reply_json(call.res, 200,
             json{{"tokens", ids}, {"count", ids.size()}, {"max_model_len", s.context_length()}});
}

void handle_detokenize(Call& call) {
  if (!check_serving(call)) return;
  auto body = parse_json_body(call);
  if (!body) return;
  if (!body->is_object()) return reply_error(call, bad_request("The body must be a JSON object."));
  FieldReader r(*body);
  std::vector<int32_t> ids;
  std::string model;
  r.read_string("model", 256, &model);
  r.read_int_list("tokens", kMaxPromptTokenIds, 0, call.state.vocab_size() - 1, &ids);
  if (!r.ok()) return reply_error(call, *r.error());
  if (!r.has("tokens")) return reply_error(call, bad_request("'tokens' is required.", "tokens"));
  if (!check_model(call, model)) return;
  reply_json(call.res, 200, json{{"prompt", detokenize(*call.state.tokenizer, ids, false)}});
}

}  // namespace radix::server
