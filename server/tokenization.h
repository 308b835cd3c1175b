// Text <-> token ids for the HTTP threads: prompts (text or ids checked against the
// vocabulary), chat messages through the chat template, and per-token text for logprob
// listings. The only server file that calls the tokenizer and the template directly.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "server/prompt_input.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace radix::server {

// Token ids of a prompt. Text is encoded with the tokenizer's special tokens (BOS);
// ids must lie in [0, vocab_size). An empty result is an InvalidArgument.
Result<std::vector<int32_t>> prompt_token_ids(const Tokenizer& tokenizer, const PromptInput& prompt,
                                              int vocab_size, const std::string& param);

// Plain encoding (/tokenize, health probes).
std::vector<int32_t> encode_text(const Tokenizer& tokenizer, const std::string& text,
                                 bool add_special_tokens);

// Text of ids (skipping special tokens when asked).
std::string detokenize(const Tokenizer& tokenizer, const std::vector<int32_t>& ids,
                       bool skip_special_tokens);

// The text of one token as listed in logprobs (special tokens included).
std::string token_text(const Tokenizer& tokenizer, int32_t id);

struct ChatRenderOptions {
  bool add_generation_prompt = true;
  bool continue_final_message = false;
  nlohmann::json template_kwargs = nlohmann::json::object();
};

// The chat prompt rendered by the template (a string; tokenize it without adding
// special tokens: the template writes them).
Result<std::string> render_chat(const ChatTemplate& chat_template, const Tokenizer& tokenizer,
                                const nlohmann::json& messages, const ChatRenderOptions& options);

// Token ids of a rendered chat prompt.
Result<std::vector<int32_t>> chat_token_ids(const Tokenizer& tokenizer,
                                            const std::string& rendered);

}  // namespace radix::server
