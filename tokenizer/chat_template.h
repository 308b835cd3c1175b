// ChatTemplate: a model's chat template (tokenizer_config.json `chat_template`, or a
// .jinja file) rendered as transformers' apply_chat_template renders it. HTTP threads
// turn an OpenAI `messages` array into the prompt text here, then tokenize it
// (DESIGN.md §3). Parse once at load; render is const and thread-safe.
//
//   RADIX_ASSIGN_OR_RETURN(auto tmpl, ChatTemplate::from_tokenizer_config(model_dir));
//   RADIX_ASSIGN_OR_RETURN(std::string prompt,
//       tmpl.render(messages, /*add_generation_prompt=*/true, tmpl.bos_token(), tmpl.eos_token()));
//
// Messages are the OpenAI JSON array as sent (content a string or a list of parts,
// tool_calls, ...): templates read whatever fields they need. Pass nlohmann::ordered_json
// (or json parsed with ordered_json) to keep object key order, which `tojson` output
// depends on exactly as in Python.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "core/status.h"
#include "tokenizer/jinja/template.h"

namespace radix {

class ChatTemplate {
 public:
  // Parses template text. Errors: InvalidArgument "template syntax error at line L,
  // column C: ...".
  static Result<ChatTemplate> parse(const std::string& source);

  // `path` is one of:
  //  - a tokenizer_config.json: its chat_template, a string or a list of {name, template}
  //    (the one named "default" is used, as transformers does without tools; with
  //    `tools` in render's `extra` the one named "tool_use" when there is one);
  //  - a .jinja file: the template text;
  //  - a directory: DIR/chat_template.jinja when present (newer HF repos), else
  //    DIR/tokenizer_config.json.
  // bos_token()/eos_token() are read from that tokenizer_config.json (or one next to the
  // .jinja file): a string or {"content": ...}; "" when absent. A non-empty
  // `template_override` (a .jinja file, like SGLang's --chat-template) replaces the
  // config's template while the special tokens still come from `path`.
  static Result<ChatTemplate> from_tokenizer_config(const std::string& path,
                                                    const std::string& template_override = "");

  // Renders with the variables transformers passes: messages, add_generation_prompt,
  // tools=None and documents=None unless given in `extra`, bos_token/eos_token (left
  // undefined when empty, as for a tokenizer without them), then every key of `extra`
  // (e.g. "tools": [...], "enable_thinking": false). Errors: InvalidArgument for a
  // non-array `messages`, a raise_exception() in the template, or a render error.
  Result<std::string> render(
      const nlohmann::ordered_json& messages, bool add_generation_prompt,
      const std::string& bos_token, const std::string& eos_token,
      const nlohmann::ordered_json& extra = nlohmann::ordered_json::object()) const;

  const std::string& source() const { return source_; }
  const std::string& bos_token() const { return bos_token_; }
  const std::string& eos_token() const { return eos_token_; }

 private:
  jinja::Template template_;
  std::shared_ptr<const jinja::Template> tool_use_;  // the config's "tool_use" template, if any
  std::string source_;
  std::string bos_token_;
  std::string eos_token_;
};

}  // namespace radix
