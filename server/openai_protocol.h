// OpenAI protocol: JSON <-> server-native structs for /v1/completions and
// /v1/chat/completions. Parsing validates every field a client may send (a clear 400
// naming the field); the writers build response bodies and SSE chunk payloads in the
// exact shapes the official clients parse.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "runtime/sampling_params.h"
#include "server/api_error.h"
#include "server/generation_types.h"
#include "server/prompt_input.h"

namespace radix::server {

// Fields shared by both endpoints.
struct OpenAiCommon {
  std::string model;  // empty: the served model
  SamplingParams params;
  bool max_tokens_set = false;  // false: generation may use the rest of the context
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
};

struct CompletionRequest : OpenAiCommon {
  std::vector<PromptInput> prompts;
  bool echo = false;
  int logprobs = -1;  // -1: none; k >= 0: the sampled token plus k alternatives
};

struct ChatRequest : OpenAiCommon {
  nlohmann::json messages;  // normalized: every content a string
  bool add_generation_prompt = true;
  bool continue_final_message = false;
  nlohmann::json template_kwargs = nlohmann::json::object();  // chat_template_kwargs
  bool logprobs = false;
  int top_logprobs = 0;
};

std::optional<ApiError> parse_completion_request(const nlohmann::json& body,
                                                 CompletionRequest* out);
std::optional<ApiError> parse_chat_request(const nlohmann::json& body, ChatRequest* out);

// Usage block; prompt tokens counted once per prompt, completion tokens over all choices.
nlohmann::json usage_json(const std::vector<PromptResult>& prompts,
                          const std::vector<ChoiceResult>& choices);

// Completions logprobs object for `tokens` (text offsets start at `text_offset`).
// `prompt_first` marks a leading prompt token whose logprob is null (echo).
nlohmann::json completion_logprobs_json(const std::vector<TokenLogprob>& tokens,
                                        const TokenTextFn& token_text, size_t text_offset,
                                        bool prompt_first);
// The prompt tokens of an echoed prompt as logprob entries (the first has none).
std::vector<TokenLogprob> echo_logprob_entries(const PromptResult& prompt);
// Chat logprobs object {"content": [...]}.
nlohmann::json chat_logprobs_json(const std::vector<TokenLogprob>& tokens,
                                  const TokenTextFn& token_text);

struct ResponseMeta {
  std::string id;  // "cmpl-..." / "chatcmpl-..."
  int64_t created = 0;
  std::string model;
};

// Non-streaming bodies. `echo_texts[p]` is the prompt text to prepend (completions echo).
nlohmann::json completion_response(const ResponseMeta& meta, const CompletionRequest& req,
                                   const std::vector<PromptResult>& prompts,
                                   const std::vector<ChoiceResult>& choices,
                                   const TokenTextFn& token_text);
nlohmann::json chat_response(const ResponseMeta& meta, const ChatRequest& req,
                             const std::vector<PromptResult>& prompts,
                             const std::vector<ChoiceResult>& choices,
                             const TokenTextFn& token_text);

// Streaming chunk payloads (each becomes one `data:` line).
nlohmann::json completion_chunk(const ResponseMeta& meta, const CompletionRequest& req,
                                const ChoiceUpdate& update, const std::string& text,
                                const nlohmann::json& logprobs);
// Chat: the role chunk, a content chunk and the finish chunk of one choice.
nlohmann::json chat_role_chunk(const ResponseMeta& meta, const ChatRequest& req, int index);
nlohmann::json chat_content_chunk(const ResponseMeta& meta, const ChatRequest& req, int index,
                                  const std::string& text, const nlohmann::json& logprobs);
nlohmann::json chat_finish_chunk(const ResponseMeta& meta, const ChatRequest& req,
                                 const ChoiceUpdate& update);
// The final usage chunk (choices empty) for stream_options.include_usage.
nlohmann::json usage_chunk(const ResponseMeta& meta, const char* object,
                           const nlohmann::json& usage);

}  // namespace radix::server
