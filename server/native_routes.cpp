// SGLang native route: POST /generate (single or batch, streaming with cumulative text).
#include "server/json_fields.h"
#include "server/native_protocol.h"
#include "server/routes.h"
#include "server/tokenization.h"

namespace radix::server {

using nlohmann::json;

void handle_generate(Call& call) {
  if (!check_serving(call)) return;
  auto body = parse_json_body(call);
  if (!body) return;
  auto req = std::make_shared<GenerateRequest>();
  if (auto err = parse_generate_request(*body, req.get())) return reply_error(call, *err);
  const ServingState& state = call.state;
  int64_t total_choices = 0;
  for (const auto& item : req->items) total_choices += item.params.n;
  if (total_choices > 1024) {
    return reply_error(call, bad_request("A request may ask for at most 1024 generations "
                                         "(prompts x n)."));
  }
  std::vector<PreparedPrompt> prompts;
  for (size_t i = 0; i < req->items.size(); ++i) {
    const GenerateItem& item = req->items[i];
    const char* param = item.prompt.is_text ? "text" : "input_ids";
    auto ids = prompt_token_ids(*state.tokenizer, item.prompt, state.vocab_size(), param);
    if (!ids.is_ok()) return reply_error(call, api_error_from(ids.status(), param));
    PreparedPrompt p;
    p.rid = !item.rid.empty() ? item.rid
            : req->batch      ? call.rid + "-" + std::to_string(i)
                              : call.rid;
    p.params = item.params;
    // SGLang clamps max_new_tokens to the room the context leaves.
    if (auto err = fit_context(state, ids->size(), /*max_tokens_set=*/false, &p.params)) {
      return reply_error(call, *err);
    }
    if (p.params.logprob_start_len >= static_cast<int>(ids->size())) {
      return reply_error(
          call, bad_request("'logprob_start_len' (" + std::to_string(p.params.logprob_start_len) +
                                ") must be less than the prompt length (" +
                                std::to_string(ids->size()) + ").",
                            "logprob_start_len"));
    }
    p.ids = std::move(ids).value();
    prompts.push_back(std::move(p));
  }
  InFlightGuard in_flight(call.state);
  auto gen = start_generation(call, std::move(prompts), "sampling_params.");
  if (!gen) return;
  const Tokenizer* tok = state.tokenizer.get();
  TokenTextFn text_of = [tok](int32_t id) { return token_text(*tok, id); };

  auto item_json = [req, text_of](const Generation& g, size_t c) {
    const ChoiceResult& choice = g.choices()[c];
    return native_item_json(*req, req->items[choice.prompt], g.prompts()[choice.prompt], choice,
                            text_of);
  };

  if (!req->stream) {
    if (!wait_for_completion(call, *gen)) return;
    if (!gen->error().is_ok()) return reply_error(call, api_error_from(gen->error()));
    if (!req->list_response()) return reply_json(call.res, 200, item_json(*gen, 0));
    json out = json::array();
    for (size_t c = 0; c < gen->choices().size(); ++c) out.push_back(item_json(*gen, c));
    return reply_json(call.res, 200, out);
  }

  StreamHooks hooks;
  hooks.on_updates = [req, item_json](const std::vector<ChoiceUpdate>& updates, const Generation& g,
                                      SseWriter& w) {
    for (const auto& u : updates) {
      if (u.text.empty() && u.token_ids.empty() && !u.finished) continue;
      json chunk = item_json(g, static_cast<size_t>(u.index));
      if (req->list_response()) chunk["index"] = u.index;
      if (!w.event(chunk)) return;
    }
  };
  stream_generation(call, std::move(gen), std::move(hooks));
}

}  // namespace radix::server
