// Tokenizer and chat template calls for the server (see tokenization.h).
#include "server/tokenization.h"

#include <span>

namespace radix::server {

Result<std::vector<int32_t>> prompt_token_ids(const Tokenizer& tokenizer, const PromptInput& prompt,
                                              int vocab_size, const std::string& param) {
  std::vector<int32_t> ids;
  if (prompt.is_text) {
    ids = encode_text(tokenizer, prompt.text, /*add_special_tokens=*/true);
  } else {
    for (int32_t id : prompt.ids) {
      if (id < 0 || id >= vocab_size) {
        return invalid_argument("'" + param + "' contains token id " + std::to_string(id) +
                                " outside the vocabulary [0, " + std::to_string(vocab_size) + ").");
      }
    }
    ids = prompt.ids;
  }
  if (ids.empty()) return invalid_argument("'" + param + "' is empty: the prompt has no tokens.");
  return ids;
}

std::vector<int32_t> encode_text(const Tokenizer& tokenizer, const std::string& text,
                                 bool add_special_tokens) {
  return tokenizer.encode(text, add_special_tokens);
}

std::string detokenize(const Tokenizer& tokenizer, const std::vector<int32_t>& ids,
                       bool skip_special_tokens) {
  return tokenizer.decode(ids, skip_special_tokens);
}

std::string token_text(const Tokenizer& tokenizer, int32_t id) {
  return tokenizer.decode(std::span<const int32_t>(&id, 1), /*skip_special_tokens=*/false);
}

Result<std::string> render_chat(const ChatTemplate& chat_template, const Tokenizer& tokenizer,
                                const nlohmann::json& messages, const ChatRenderOptions& options) {
  // The template engine keeps key order (ordered_json); the request's order is not kept
  // by nlohmann::json, which only matters to templates that iterate a message's items.
  auto ordered = [](const nlohmann::json& j) { return nlohmann::ordered_json::parse(j.dump()); };
  const std::string& bos =
      chat_template.bos_token().empty() ? tokenizer.bos_token() : chat_template.bos_token();
  const std::string& eos =
      chat_template.eos_token().empty() ? tokenizer.eos_token() : chat_template.eos_token();
  auto rendered = chat_template.render(ordered(messages), options.add_generation_prompt, bos, eos,
                                       ordered(options.template_kwargs));
  if (!rendered.is_ok()) return rendered.status().with_context("applying the chat template");
  std::string text = std::move(rendered).value();
  if (options.continue_final_message) {
    // Cut what the template appends after the final assistant message (its end-of-turn),
    // so generation continues that message.
    const auto& last = messages.back()["content"].get_ref<const std::string&>();
    size_t at = last.empty() ? std::string::npos : text.rfind(last);
    if (at != std::string::npos) text.resize(at + last.size());
  }
  return text;
}

Result<std::vector<int32_t>> chat_token_ids(const Tokenizer& tokenizer,
                                            const std::string& rendered) {
  std::vector<int32_t> ids = encode_text(tokenizer, rendered, /*add_special_tokens=*/false);
  if (ids.empty()) return invalid_argument("The chat prompt rendered to no tokens.");
  return ids;
}

}  // namespace radix::server
