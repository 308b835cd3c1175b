// OpenAI request parsing and response writing (see openai_protocol.h).
#include "server/openai_protocol.h"

#include <algorithm>
#include <climits>

#include "server/json_fields.h"

namespace radix::server {
namespace {

using nlohmann::json;

constexpr size_t kMaxStops = 16;
constexpr size_t kMaxStopTokenIds = 256;
constexpr size_t kMaxModelName = 256;
constexpr int kMaxLogprobs = 20;
constexpr float kMinReportedLogprob = -9999.0f;  // JSON has no -inf; OpenAI reports this floor

json logprob_value(float lp) {
  return std::max(lp, kMinReportedLogprob);
}

json bytes_of(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

// Reads the sampling fields both endpoints share.
void read_common(FieldReader& r, const json& body, OpenAiCommon* out) {
  SamplingParams& p = out->params;
  r.read_string("model", kMaxModelName, &out->model);
  r.read_float("temperature", 0.0, 1e6, &p.temperature);
  r.read_float("top_p", 0.0, 1.0, &p.top_p, /*lo_exclusive=*/true);
  r.read_int("top_k", -1, INT32_MAX, &p.top_k);
  r.read_float("min_p", 0.0, 1.0, &p.min_p);
  r.read_float("frequency_penalty", -2.0, 2.0, &p.frequency_penalty);
  r.read_float("presence_penalty", -2.0, 2.0, &p.presence_penalty);
  r.read_float("repetition_penalty", 0.0, 2.0, &p.repetition_penalty, /*lo_exclusive=*/true);
  r.read_int("n", 1, 128, &p.n);
  r.read_strings("stop", kMaxStops, &p.stop);
  r.read_int_list("stop_token_ids", kMaxStopTokenIds, 0, INT32_MAX, &p.stop_token_ids);
  r.read_bool("ignore_eos", &p.ignore_eos);
  r.read_int("min_tokens", 0, INT32_MAX, &p.min_new_tokens);
  r.read_bool("skip_special_tokens", &p.skip_special_tokens);
  r.read_seed("seed", &p.seed);
  r.read_bool("stream", &out->stream);
  if (r.ok() && r.has("best_of")) {
    int best_of = p.n;
    r.read_int("best_of", 1, 128, &best_of);
    if (r.ok() && best_of != p.n) r.fail("best_of", "'best_of' other than n is not supported.");
  }
  if (const json* so = r.object("stream_options")) {
    if (!out->stream) {
      r.fail("stream_options", "'stream_options' is only allowed when 'stream' is true.");
    } else {
      FieldReader sr(*so, "stream_options.");
      sr.read_bool("include_usage", &out->include_usage);
      if (!sr.ok()) r.fail(sr.error()->param, sr.error()->message);
    }
  }
  if (const json* bias = r.object("logit_bias"); bias && !bias->empty()) {
    r.fail("logit_bias", "'logit_bias' is not supported.");
  }
  if (r.ok() && r.has("suffix") && !(body["suffix"].is_string() && body["suffix"].get<std::string>().empty())) {
    r.fail("suffix", "'suffix' is not supported.");
  }
  r.read_constraint(/*response_format=*/true, &p.constraint);
}

std::optional<ApiError> check_body(const json& body) {
  if (!body.is_object()) return bad_request("The request body must be a JSON object.");
  return std::nullopt;
}

// Content of one chat message as a string: a string, null, or a list of text parts.
std::optional<ApiError> normalize_content(const json& content, size_t i, json* out) {
  std::string param = "messages[" + std::to_string(i) + "].content";
  if (content.is_null() || content.is_string()) {
    *out = content.is_null() ? json("") : content;
    return std::nullopt;
  }
  if (!content.is_array()) {
    return bad_request("'" + param + "' must be a string or a list of content parts.", param);
  }
  std::string text;
  bool first = true;
  for (const auto& part : content) {
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string()) {
      return bad_request("'" + param + "' parts must be objects with a 'type'.", param);
    }
    const auto& type = part["type"].get_ref<const std::string&>();
    if (type != "text") {
      return bad_request("'" + param + "' part type '" + type.substr(0, 32) +
                             "' is not supported by this model (text only).",
                         param);
    }
    if (!part.contains("text") || !part["text"].is_string()) {
      return bad_request("'" + param + "' text parts need a string 'text'.", param);
    }
    if (!first) text += "\n";
    text += part["text"].get<std::string>();
    first = false;
  }
  *out = text;
  return std::nullopt;
}

std::optional<ApiError> normalize_messages(const json& messages, json* out) {
  if (!messages.is_array() || messages.empty()) {
    return bad_request("'messages' must be a non-empty list.", "messages");
  }
  if (messages.size() > 100000) return bad_request("'messages' is too long.", "messages");
  *out = json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    std::string param = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return bad_request("'" + param + "' must be an object.", param);
    if (!m.contains("role") || !m["role"].is_string()) {
      return bad_request("'" + param + ".role' must be a string.", param + ".role");
    }
    const auto& role = m["role"].get_ref<const std::string&>();
    if (role != "system" && role != "user" && role != "assistant" && role != "tool" &&
        role != "developer") {
      return bad_request("'" + param + ".role' must be system, user, assistant, tool or developer.",
                         param + ".role");
    }
    json msg = m;
    json content;
    if (auto err = normalize_content(m.contains("content") ? m["content"] : json(), i, &content)) {
      return err;
    }
    msg["content"] = std::move(content);
    out->push_back(std::move(msg));
  }
  return std::nullopt;
}

json choice_finish(const ChoiceUpdate& u) {
  return u.finished ? json(openai_finish_reason(u.finish_reason)) : json();
}

json chunk_base(const ResponseMeta& meta, const char* object, const OpenAiCommon& req) {
  json c = {{"id", meta.id}, {"object", object}, {"created", meta.created}, {"model", meta.model}};
  if (req.include_usage) c["usage"] = nullptr;
  return c;
}

// SGLang's `matched_stop` on a choice: the stop string or the stop token id.
void add_matched_stop(const std::optional<std::string>& text, int32_t token, json* choice) {
  if (text) {
    (*choice)["matched_stop"] = *text;
  } else if (token >= 0) {
    (*choice)["matched_stop"] = token;
  }
}

json response_body(const ResponseMeta& meta, const char* object, json choices, json usage) {
  return json{{"id", meta.id},
              {"object", object},
              {"created", meta.created},
              {"model", meta.model},
              {"choices", std::move(choices)},
              {"usage", std::move(usage)}};
}

}  // namespace

const char* openai_finish_reason(FinishReason r) {
  switch (r) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kAbort:
      return "abort";
    default:
      return nullptr;
  }
}

std::optional<ApiError> parse_completion_request(const json& body, CompletionRequest* out) {
  if (auto err = check_body(body)) return err;
  FieldReader r(body);
  out->params.max_new_tokens = 16;  // OpenAI's default for completions
  read_common(r, body, out);
  if (r.has("max_tokens")) {
    r.read_int("max_tokens", 0, INT32_MAX, &out->params.max_new_tokens);
    out->max_tokens_set = true;
  }
  r.read_bool("echo", &out->echo);
  r.read_int("logprobs", 0, kMaxLogprobs, &out->logprobs);
  if (!r.ok()) return r.error();
  if (!body.contains("prompt") || body["prompt"].is_null()) {
    return bad_request("'prompt' is required.", "prompt");
  }
  bool batch = false;
  if (auto err = parse_prompt_value(body["prompt"], "prompt", &out->prompts, &batch)) return err;
  if (out->logprobs >= 0) {
    out->params.return_logprob = true;
    out->params.top_logprobs_num = out->logprobs;
    if (out->echo) out->params.logprob_start_len = 0;
  }
  return std::nullopt;
}

std::optional<ApiError> parse_chat_request(const json& body, ChatRequest* out) {
  if (auto err = check_body(body)) return err;
  FieldReader r(body);
  read_common(r, body, out);
  for (const char* key : {"max_completion_tokens", "max_tokens"}) {
    if (r.has(key)) {
      r.read_int(key, 0, INT32_MAX, &out->params.max_new_tokens);
      out->max_tokens_set = true;
      break;
    }
  }
  r.read_bool("logprobs", &out->logprobs);
  r.read_int("top_logprobs", 0, kMaxLogprobs, &out->top_logprobs);
  r.read_bool("add_generation_prompt", &out->add_generation_prompt);
  r.read_bool("continue_final_message", &out->continue_final_message);
  if (const json* kw = r.object("chat_template_kwargs")) out->template_kwargs = *kw;
  // Tools, as vLLM serves them without a tool-call parser: the list goes to the chat
  // template (templates that know tools render them), tool_choice defaults to "none",
  // and a choice that asks for calls ("auto", "required", a named function) is refused,
  // since no calls are parsed out of the output. Legacy `functions` is refused.
  if (r.ok() && body.contains("tools") && !body["tools"].is_null()) {
    const json& tools = body["tools"];
    if (!tools.is_array()) {
      r.fail("tools", "'tools' must be a list.");
    } else {
      for (size_t i = 0; i < tools.size() && r.ok(); ++i) {
        if (!tools[i].is_object()) r.fail("tools", "'tools[" + std::to_string(i) + "]' must be an object.");
      }
      if (r.ok() && !tools.empty() && !out->template_kwargs.contains("tools")) out->template_kwargs["tools"] = tools;
    }
  }
  if (r.ok() && body.contains("tool_choice") && !body["tool_choice"].is_null() && body["tool_choice"] != "none") {
    r.fail("tool_choice",
           "Function calling is not supported: 'tool_choice' must be \"none\" (the tools are shown to the model, "
           "but no calls are parsed from its output).");
  }
  if (r.ok() && body.contains("functions") && !body["functions"].is_null()) {
    r.fail("functions", "'functions' (legacy function calling) is not supported.");
  }
  if (!r.ok()) return r.error();
  if (out->top_logprobs > 0 && !out->logprobs) {
    return bad_request("'top_logprobs' requires 'logprobs' to be true.", "top_logprobs");
  }
  if (!body.contains("messages")) return bad_request("'messages' is required.", "messages");
  if (auto err = normalize_messages(body["messages"], &out->messages)) return err;
  if (out->continue_final_message) {
    if (out->add_generation_prompt) {
      return bad_request(
          "'continue_final_message' and 'add_generation_prompt' cannot both be true.",
          "continue_final_message");
    }
    if (out->messages.back()["role"] != "assistant") {
      return bad_request("'continue_final_message' needs a final assistant message.",
                         "continue_final_message");
    }
  }
  if (out->logprobs) {
    out->params.return_logprob = true;
    out->params.top_logprobs_num = out->top_logprobs;
  }
  return std::nullopt;
}

json usage_json(const std::vector<PromptResult>& prompts,
                const std::vector<ChoiceResult>& choices) {
  int64_t prompt_tokens = 0, cached = 0, completion = 0;
  for (const auto& p : prompts) {
    prompt_tokens += p.prompt_tokens;
    cached += p.cached_tokens;
  }
  for (const auto& c : choices) completion += c.completion_tokens;
  return json{{"prompt_tokens", prompt_tokens},
              {"completion_tokens", completion},
              {"total_tokens", prompt_tokens + completion},
              {"prompt_tokens_details", {{"cached_tokens", cached}}}};
}

json completion_logprobs_json(const std::vector<TokenLogprob>& tokens,
                              const TokenTextFn& token_text, size_t text_offset,
                              bool prompt_first) {
  json out_tokens = json::array(), lps = json::array(), tops = json::array(),
       offsets = json::array();
  size_t offset = text_offset;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const auto& t = tokens[i];
    std::string text = token_text(t.id);
    out_tokens.push_back(text);
    offsets.push_back(offset);
    offset += text.size();
    if (i == 0 && prompt_first) {  // the first prompt token has no logprob
      lps.push_back(nullptr);
      tops.push_back(nullptr);
      continue;
    }
    lps.push_back(logprob_value(t.logprob));
    json top = json::object();
    for (const auto& [id, lp] : t.top) top[token_text(id)] = logprob_value(lp);
    if (!t.top.empty()) top[text] = logprob_value(t.logprob);
    tops.push_back(std::move(top));
  }
  return json{{"tokens", std::move(out_tokens)},
              {"token_logprobs", std::move(lps)},
              {"top_logprobs", std::move(tops)},
              {"text_offset", std::move(offsets)}};
}

json chat_logprobs_json(const std::vector<TokenLogprob>& tokens, const TokenTextFn& token_text) {
  json content = json::array();
  for (const auto& t : tokens) {
    std::string text = token_text(t.id);
    json top = json::array();
    for (const auto& [id, lp] : t.top) {
      std::string alt = token_text(id);
      top.push_back({{"token", alt}, {"logprob", logprob_value(lp)}, {"bytes", bytes_of(alt)}});
    }
    content.push_back({{"token", text},
                       {"logprob", logprob_value(t.logprob)},
                       {"bytes", bytes_of(text)},
                       {"top_logprobs", std::move(top)}});
  }
  return json{{"content", std::move(content)}};
}

// Prompt tokens as logprob entries for echo: one per prompt id, the first with no logprob;
// engine prompt logprobs align with the end of the prompt.
std::vector<TokenLogprob> echo_logprob_entries(const PromptResult& p) {
  std::vector<TokenLogprob> out(p.prompt_ids.size());
  for (size_t i = 0; i < out.size(); ++i) out[i].id = p.prompt_ids[i];
  size_t n = std::min(p.prompt_logprobs.size(), out.size() > 0 ? out.size() - 1 : 0);
  for (size_t k = 0; k < n; ++k) {
    const auto& src = p.prompt_logprobs[p.prompt_logprobs.size() - n + k];
    auto& dst = out[out.size() - n + k];
    dst.logprob = src.logprob;
    dst.top = src.top;
  }
  return out;
}

json completion_response(const ResponseMeta& meta, const CompletionRequest& req,
                         const std::vector<PromptResult>& prompts,
                         const std::vector<ChoiceResult>& choices, const TokenTextFn& token_text) {
  json out_choices = json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    const auto& c = choices[i];
    const auto& p = prompts[c.prompt];
    std::string prefix = req.echo ? p.prompt_text : std::string();
    json lp = nullptr;
    if (req.logprobs >= 0) {
      std::vector<TokenLogprob> entries;
      if (req.echo) entries = echo_logprob_entries(p);
      entries.insert(entries.end(), c.logprobs.begin(), c.logprobs.end());
      lp = completion_logprobs_json(entries, token_text, 0, req.echo && !p.prompt_ids.empty());
    }
    json choice = {
        {"index", i},
        {"text", prefix + c.text},
        {"logprobs", std::move(lp)},
        {"finish_reason", c.finished ? json(openai_finish_reason(c.finish_reason)) : json()}};
    add_matched_stop(c.matched_stop, c.matched_stop_token, &choice);
    out_choices.push_back(std::move(choice));
  }
  return response_body(meta, "text_completion", std::move(out_choices),
                       usage_json(prompts, choices));
}

json chat_response(const ResponseMeta& meta, const ChatRequest& req,
                   const std::vector<PromptResult>& prompts,
                   const std::vector<ChoiceResult>& choices, const TokenTextFn& token_text) {
  json out_choices = json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    const auto& c = choices[i];
    json choice = {
        {"index", i},
        {"message", {{"role", "assistant"}, {"content", c.text}}},
        {"logprobs", req.logprobs ? chat_logprobs_json(c.logprobs, token_text) : json()},
        {"finish_reason", c.finished ? json(openai_finish_reason(c.finish_reason)) : json()}};
    add_matched_stop(c.matched_stop, c.matched_stop_token, &choice);
    out_choices.push_back(std::move(choice));
  }
  return response_body(meta, "chat.completion", std::move(out_choices),
                       usage_json(prompts, choices));
}

json completion_chunk(const ResponseMeta& meta, const CompletionRequest& req,
                      const ChoiceUpdate& update, const std::string& text, const json& logprobs) {
  json c = chunk_base(meta, "text_completion", req);
  c["choices"] = json::array({{{"index", update.index},
                               {"text", text},
                               {"logprobs", logprobs},
                               {"finish_reason", choice_finish(update)}}});
  return c;
}

json chat_role_chunk(const ResponseMeta& meta, const ChatRequest& req, int index) {
  json c = chunk_base(meta, "chat.completion.chunk", req);
  c["choices"] = json::array({{{"index", index},
                               {"delta", {{"role", "assistant"}, {"content", ""}}},
                               {"logprobs", nullptr},
                               {"finish_reason", nullptr}}});
  return c;
}

json chat_content_chunk(const ResponseMeta& meta, const ChatRequest& req, int index,
                        const std::string& text, const json& logprobs) {
  json c = chunk_base(meta, "chat.completion.chunk", req);
  c["choices"] = json::array({{{"index", index},
                               {"delta", {{"content", text}}},
                               {"logprobs", logprobs},
                               {"finish_reason", nullptr}}});
  return c;
}

json chat_finish_chunk(const ResponseMeta& meta, const ChatRequest& req,
                       const ChoiceUpdate& update) {
  json c = chunk_base(meta, "chat.completion.chunk", req);
  json choice = {{"index", update.index},
                 {"delta", json::object()},
                 {"logprobs", nullptr},
                 {"finish_reason", choice_finish(update)}};
  add_matched_stop(update.matched_stop, update.matched_stop_token, &choice);
  c["choices"] = json::array({std::move(choice)});
  return c;
}

json usage_chunk(const ResponseMeta& meta, const char* object, const json& usage) {
  return json{{"id", meta.id},       {"object", object},         {"created", meta.created},
              {"model", meta.model}, {"choices", json::array()}, {"usage", usage}};
}

}  // namespace radix::server
