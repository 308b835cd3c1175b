// SGLang /generate parsing and response writing (see native_protocol.h).
#include "server/native_protocol.h"

#include <climits>

#include "server/json_fields.h"

namespace radix::server {
namespace {

using nlohmann::json;

// Reads one sampling_params object into `p`.
std::optional<ApiError> read_sampling(const json& sp, const std::string& prefix,
                                      SamplingParams* p) {
  if (!sp.is_object()) return bad_request("'" + prefix + "' must be an object.", prefix);
  FieldReader r(sp, prefix + ".");
  r.read_int("max_new_tokens", 0, INT32_MAX, &p->max_new_tokens);
  r.read_int("min_new_tokens", 0, INT32_MAX, &p->min_new_tokens);
  r.read_float("temperature", 0.0, 1e6, &p->temperature);
  r.read_float("top_p", 0.0, 1.0, &p->top_p, /*lo_exclusive=*/true);
  r.read_int("top_k", -1, INT32_MAX, &p->top_k);
  r.read_float("min_p", 0.0, 1.0, &p->min_p);
  r.read_float("frequency_penalty", -2.0, 2.0, &p->frequency_penalty);
  r.read_float("presence_penalty", -2.0, 2.0, &p->presence_penalty);
  r.read_float("repetition_penalty", 0.0, 2.0, &p->repetition_penalty, /*lo_exclusive=*/true);
  r.read_strings("stop", 16, &p->stop);
  r.read_int_list("stop_token_ids", 256, 0, INT32_MAX, &p->stop_token_ids);
  r.read_bool("ignore_eos", &p->ignore_eos);
  r.read_bool("skip_special_tokens", &p->skip_special_tokens);
  r.read_int("n", 1, 128, &p->n);
  r.read_seed("seed", &p->seed);
  r.read_seed("sampling_seed", &p->seed);
  r.read_constraint(/*response_format=*/false, &p->constraint);
  return r.error();
}

// A per-item field that is a scalar (for all items) or a list (one per item).
const json* item_value(const json& body, const char* key, size_t i, size_t n,
                       std::optional<ApiError>* err) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return nullptr;
  if (!it->is_array()) return &*it;
  if (it->size() != n) {
    *err = bad_request(std::string("'") + key + "' as a list must have one entry per prompt (" +
                           std::to_string(n) + ").",
                       key);
    return nullptr;
  }
  return &(*it)[i];
}

}  // namespace

bool GenerateRequest::list_response() const {
  if (batch) return true;
  for (const auto& item : items) {
    if (item.params.n > 1) return true;
  }
  return false;
}

std::optional<ApiError> parse_generate_request(const json& body, GenerateRequest* out) {
  if (!body.is_object()) return bad_request("The request body must be a JSON object.");
  bool has_text = body.contains("text") && !body["text"].is_null();
  bool has_ids = body.contains("input_ids") && !body["input_ids"].is_null();
  if (has_text == has_ids) {
    return bad_request("Exactly one of 'text' and 'input_ids' is required.",
                       has_text ? "input_ids" : "text");
  }
  std::vector<PromptInput> prompts;
  const char* key = has_text ? "text" : "input_ids";
  if (auto err = parse_prompt_value(body[key], key, &prompts, &out->batch)) return err;
  for (const auto& p : prompts) {
    if (p.is_text != has_text) {
      return bad_request(has_text ? "'text' must be a string or a list of strings."
                                  : "'input_ids' must be a list of ids or a list of id lists.",
                         key);
    }
  }
  FieldReader r(body);
  r.read_bool("stream", &out->stream);
  r.read_bool("return_text_in_logprobs", &out->return_text_in_logprobs);
  if (!r.ok()) return r.error();
  if (body.contains("image_data") && !body["image_data"].is_null()) {
    return bad_request("'image_data' is not supported by this model.", "image_data");
  }

  const size_t n = prompts.size();
  out->items.clear();
  for (size_t i = 0; i < n; ++i) {
    GenerateItem item;
    item.prompt = std::move(prompts[i]);
    std::optional<ApiError> err;
    if (const json* sp = item_value(body, "sampling_params", i, n, &err)) {
      std::string prefix = body["sampling_params"].is_array()
                               ? "sampling_params[" + std::to_string(i) + "]"
                               : std::string("sampling_params");
      if (auto e = read_sampling(*sp, prefix, &item.params)) return e;
    }
    if (const json* v = item_value(body, "return_logprob", i, n, &err)) {
      if (!v->is_boolean())
        return bad_request("'return_logprob' must be a boolean.", "return_logprob");
      item.params.return_logprob = v->get<bool>();
    }
    if (const json* v = item_value(body, "top_logprobs_num", i, n, &err)) {
      auto k = json_to_int(*v, 0, 20);
      if (!k)
        return bad_request("'top_logprobs_num' must be an integer in [0, 20].", "top_logprobs_num");
      item.params.top_logprobs_num = static_cast<int>(*k);
    }
    if (const json* v = item_value(body, "logprob_start_len", i, n, &err)) {
      auto k = json_to_int(*v, -1, INT32_MAX);
      if (!k) {
        return bad_request("'logprob_start_len' must be an integer >= -1.", "logprob_start_len");
      }
      item.params.logprob_start_len = static_cast<int>(*k);
    }
    if (const json* v = item_value(body, "rid", i, n, &err)) {
      if (!v->is_string() || v->get_ref<const std::string&>().size() > 128) {
        return bad_request("'rid' must be a string of at most 128 bytes.", "rid");
      }
      item.rid = v->get<std::string>();
    }
    if (err) return err;
    if (!item.params.return_logprob) item.params.logprob_start_len = -1;
    out->items.push_back(std::move(item));
  }
  return std::nullopt;
}

json native_finish_reason(FinishReason reason, const std::optional<std::string>& matched,
                          int32_t matched_token, int completion_tokens) {
  switch (reason) {
    case FinishReason::kStop: {
      json f = {{"type", "stop"}};
      if (matched) {
        f["matched"] = *matched;
      } else if (matched_token >= 0) {
        f["matched"] = matched_token;
      } else {
        f["matched"] = nullptr;
      }
      return f;
    }
    case FinishReason::kLength:
      return json{{"type", "length"}, {"length", completion_tokens}};
    case FinishReason::kAbort:
      return json{{"type", "abort"}};
    default:
      return nullptr;
  }
}

namespace {

json logprob_triples(const std::vector<TokenLogprob>& tokens, bool with_text,
                     const TokenTextFn& token_text, bool null_first) {
  json out = json::array();
  for (size_t i = 0; i < tokens.size(); ++i) {
    const auto& t = tokens[i];
    json lp = (i == 0 && null_first) ? json() : json(t.logprob);
    out.push_back(json::array({lp, t.id, with_text ? json(token_text(t.id)) : json()}));
  }
  return out;
}

json top_triples(const std::vector<TokenLogprob>& tokens, bool with_text,
                 const TokenTextFn& token_text, bool null_first) {
  json out = json::array();
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i == 0 && null_first) {
      out.push_back(nullptr);
      continue;
    }
    json alts = json::array();
    for (const auto& [id, lp] : tokens[i].top) {
      alts.push_back(json::array({lp, id, with_text ? json(token_text(id)) : json()}));
    }
    out.push_back(std::move(alts));
  }
  return out;
}

}  // namespace

json native_item_json(const GenerateRequest& req, const GenerateItem& item,
                      const PromptResult& prompt, const ChoiceResult& choice,
                      const TokenTextFn& token_text) {
  json meta = {
      {"id", prompt.rid},
      {"prompt_tokens", prompt.prompt_tokens},
      {"completion_tokens", choice.completion_tokens},
      {"cached_tokens", prompt.cached_tokens},
      {"finish_reason",
       choice.finished ? native_finish_reason(choice.finish_reason, choice.matched_stop,
                                              choice.matched_stop_token, choice.completion_tokens)
                       : json()}};
  if (item.params.return_logprob) {
    // Prompt logprobs cover positions logprob_start_len.. of the prompt; position 0 has none.
    std::vector<TokenLogprob> input;
    int start = std::max(item.params.logprob_start_len, 0);
    for (size_t i = static_cast<size_t>(start); i < prompt.prompt_ids.size(); ++i) {
      TokenLogprob t;
      t.id = prompt.prompt_ids[i];
      input.push_back(t);
    }
    size_t n = std::min(prompt.prompt_logprobs.size(), input.size());
    for (size_t k = 0; k < n; ++k) {
      auto& dst = input[input.size() - n + k];
      const auto& src = prompt.prompt_logprobs[prompt.prompt_logprobs.size() - n + k];
      dst.logprob = src.logprob;
      dst.top = src.top;
    }
    bool null_first = item.params.logprob_start_len >= 0 && start == 0;
    bool text = req.return_text_in_logprobs;
    meta["input_token_logprobs"] = item.params.logprob_start_len >= 0
                                       ? logprob_triples(input, text, token_text, null_first)
                                       : json::array();
    meta["output_token_logprobs"] = logprob_triples(choice.logprobs, text, token_text, false);
    meta["input_top_logprobs"] = item.params.logprob_start_len >= 0
                                     ? top_triples(input, text, token_text, null_first)
                                     : json::array();
    meta["output_top_logprobs"] = top_triples(choice.logprobs, text, token_text, false);
  }
  return json{{"text", choice.text}, {"meta_info", std::move(meta)}};
}

}  // namespace radix::server
