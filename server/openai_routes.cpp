// OpenAI routes: /v1/completions, /v1/chat/completions, /v1/models. Parse and validate on
// the HTTP thread, tokenize (chat: render the template first), submit, then answer whole
// or as SSE.
#include <climits>

#include "server/json_fields.h"
#include "server/openai_protocol.h"
#include "server/routes.h"
#include "server/tokenization.h"

namespace radix::server {
namespace {

using nlohmann::json;

constexpr int kMaxTotalChoices = 1024;  // prompts x n in one request

TokenTextFn token_text_fn(const ServingState& state) {
  const Tokenizer* tok = state.tokenizer.get();
  return [tok](int32_t id) { return token_text(*tok, id); };
}

ResponseMeta make_meta(const Call& call, const char* prefix, const std::string& model) {
  return ResponseMeta{std::string(prefix) + call.rid, unix_time_now(),
                      model.empty() ? call.state.model_name : model};
}

}  // namespace

void handle_completions(Call& call) {
  if (!check_serving(call)) return;
  auto body = parse_json_body(call);
  if (!body) return;
  CompletionRequest req;
  if (auto err = parse_completion_request(*body, &req)) return reply_error(call, *err);
  if (!check_model(call, req.model)) return;
  if (static_cast<int64_t>(req.prompts.size()) * req.params.n > kMaxTotalChoices) {
    return reply_error(
        call, bad_request("A request may ask for at most " + std::to_string(kMaxTotalChoices) +
                              " completions (prompts x n).",
                          "n"));
  }
  const ServingState& state = call.state;
  std::vector<PreparedPrompt> prompts;
  for (size_t i = 0; i < req.prompts.size(); ++i) {
    auto ids = prompt_token_ids(*state.tokenizer, req.prompts[i], state.vocab_size(), "prompt");
    if (!ids.is_ok()) return reply_error(call, api_error_from(ids.status(), "prompt"));
    PreparedPrompt p;
    p.rid = req.prompts.size() == 1 ? call.rid : call.rid + "-" + std::to_string(i);
    p.params = req.params;
    if (auto err = fit_context(state, ids->size(), req.max_tokens_set, &p.params)) {
      return reply_error(call, *err);
    }
    if (req.echo) {
      p.text =
          req.prompts[i].is_text ? req.prompts[i].text : detokenize(*state.tokenizer, *ids, false);
    }
    p.ids = std::move(ids).value();
    prompts.push_back(std::move(p));
  }
  InFlightGuard in_flight(call.state);
  auto gen = start_generation(call, std::move(prompts));
  if (!gen) return;
  const ResponseMeta meta = make_meta(call, "cmpl-", req.model);
  const TokenTextFn text_of = token_text_fn(state);

  if (!req.stream) {
    if (!wait_for_completion(call, *gen)) return;
    if (!gen->error().is_ok()) return reply_error(call, api_error_from(gen->error()));
    return reply_json(call.res, 200,
                      completion_response(meta, req, gen->prompts(), gen->choices(), text_of));
  }

  auto offsets = std::make_shared<std::vector<size_t>>(gen->choices().size(), 0);
  StreamHooks hooks;
  hooks.on_updates = [req, meta, text_of, offsets](const std::vector<ChoiceUpdate>& updates,
                                                   const Generation& g, SseWriter& w) {
    for (const auto& u : updates) {
      const PromptResult& prompt = g.prompts()[u.prompt];
      std::string text = (u.first && req.echo ? prompt.prompt_text : std::string()) + u.text;
      json logprobs = nullptr;
      bool has_logprobs = false;
      if (req.logprobs >= 0) {
        std::vector<TokenLogprob> entries;
        bool prompt_first = false;
        if (u.first && req.echo) {
          entries = echo_logprob_entries(prompt);
          prompt_first = !entries.empty();
        }
        entries.insert(entries.end(), u.logprobs.begin(), u.logprobs.end());
        has_logprobs = !entries.empty();
        logprobs = completion_logprobs_json(entries, text_of, (*offsets)[u.index], prompt_first);
      }
      (*offsets)[u.index] += text.size();
      if (text.empty() && !has_logprobs && !u.finished) continue;
      if (!w.event(completion_chunk(meta, req, u, text, logprobs))) return;
    }
  };
  hooks.on_finish = [req, meta](const Generation& g, SseWriter& w) {
    if (req.include_usage) {
      w.event(usage_chunk(meta, "text_completion", usage_json(g.prompts(), g.choices())));
    }
  };
  stream_generation(call, std::move(gen), std::move(hooks));
}

void handle_chat_completions(Call& call) {
  if (!check_serving(call)) return;
  auto body = parse_json_body(call);
  if (!body) return;
  ChatRequest req;
  if (auto err = parse_chat_request(*body, &req)) return reply_error(call, *err);
  if (!check_model(call, req.model)) return;
  const ServingState& state = call.state;
  if (!state.chat_template) {
    return reply_error(call, bad_request("This model has no chat template; start the server with "
                                         "--chat-template FILE or use /v1/completions."));
  }
  ChatRenderOptions render;
  render.add_generation_prompt = req.add_generation_prompt;
  render.continue_final_message = req.continue_final_message;
  render.template_kwargs = req.template_kwargs;
  auto rendered = render_chat(*state.chat_template, *state.tokenizer, req.messages, render);
  if (!rendered.is_ok()) return reply_error(call, api_error_from(rendered.status(), "messages"));
  auto ids = chat_token_ids(*state.tokenizer, *rendered);
  if (!ids.is_ok()) return reply_error(call, api_error_from(ids.status(), "messages"));
  PreparedPrompt p;
  p.rid = call.rid;
  p.params = req.params;
  if (!req.max_tokens_set) p.params.max_new_tokens = INT_MAX;  // the rest of the context
  if (auto err = fit_context(state, ids->size(), req.max_tokens_set, &p.params)) {
    return reply_error(call, *err);
  }
  p.ids = std::move(ids).value();
  std::vector<PreparedPrompt> prompts;
  prompts.push_back(std::move(p));
  InFlightGuard in_flight(call.state);
  auto gen = start_generation(call, std::move(prompts));
  if (!gen) return;
  const ResponseMeta meta = make_meta(call, "chatcmpl-", req.model);
  const TokenTextFn text_of = token_text_fn(state);

  if (!req.stream) {
    if (!wait_for_completion(call, *gen)) return;
    if (!gen->error().is_ok()) return reply_error(call, api_error_from(gen->error()));
    return reply_json(call.res, 200,
                      chat_response(meta, req, gen->prompts(), gen->choices(), text_of));
  }

  StreamHooks hooks;
  hooks.on_updates = [req, meta, text_of](const std::vector<ChoiceUpdate>& updates,
                                          const Generation&, SseWriter& w) {
    for (const auto& u : updates) {
      if (u.first && !w.event(chat_role_chunk(meta, req, u.index))) return;
      bool has_logprobs = req.logprobs && !u.logprobs.empty();
      if (!u.text.empty() || has_logprobs) {
        json lp = has_logprobs ? chat_logprobs_json(u.logprobs, text_of) : json();
        if (!w.event(chat_content_chunk(meta, req, u.index, u.text, lp))) return;
      }
      if (u.finished && !w.event(chat_finish_chunk(meta, req, u))) return;
    }
  };
  hooks.on_finish = [req, meta](const Generation& g, SseWriter& w) {
    if (req.include_usage) {
      w.event(usage_chunk(meta, "chat.completion.chunk", usage_json(g.prompts(), g.choices())));
    }
  };
  stream_generation(call, std::move(gen), std::move(hooks));
}

static json model_card(const ServingState& state) {
  return json{
      {"id", state.model_name},
      {"object", "model"},
      {"created",
       std::chrono::duration_cast<std::chrono::seconds>(state.started.time_since_epoch()).count()},
      {"owned_by", "radix"},
      {"root", state.engine ? state.engine->model_info().model_path : state.model_name},
      {"max_model_len", state.context_length()}};
}

void handle_models(Call& call) {
  json data = json::array();
  if (call.state.attached.load()) data.push_back(model_card(call.state));
  reply_json(call.res, 200, json{{"object", "list"}, {"data", std::move(data)}});
}

void handle_model(Call& call, const std::string& id) {
  if (!call.state.attached.load() || id != call.state.model_name) {
    return reply_error(call, model_not_found(id));
  }
  reply_json(call.res, 200, model_card(call.state));
}

}  // namespace radix::server
