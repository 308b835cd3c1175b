// `radix chat-template`: renders a model's chat template over a messages file and prints
// the prompt as a JSON string (so every byte is visible), for users checking prompts
// against transformers and for tests/e2e/chat_template_parity.mjs.
//
//   radix chat-template --tokenizer DIR --messages conv.json [--add-generation-prompt]
//   radix chat-template --template tmpl.jinja --bos-token '<s>' --messages conv.json
//
// The messages file is either the OpenAI messages array, or an object
// {"messages": [...], <other template variables such as "tools", "enable_thinking">}.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "tokenizer/chat_template.h"

namespace radix::cli {
namespace {

using Json = nlohmann::ordered_json;

struct ChatTemplateOptions {
  std::string tokenizer;
  std::string template_file;
  std::string messages_file;
  std::string bos_token;
  std::string eos_token;
  bool add_generation_prompt = false;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "radix chat-template: %s\n", message.c_str());
  return 1;
}

int run_chat_template(const ChatTemplateOptions& o) {
  if (o.tokenizer.empty() && o.template_file.empty())
    return fail("give --tokenizer DIR or --template FILE");
  auto loaded = o.tokenizer.empty()
                    ? ChatTemplate::from_tokenizer_config(o.template_file)
                    : ChatTemplate::from_tokenizer_config(o.tokenizer, o.template_file);
  if (!loaded.is_ok()) return fail(loaded.status().to_string());
  const std::string bos = o.bos_token.empty() ? loaded->bos_token() : o.bos_token;
  const std::string eos = o.eos_token.empty() ? loaded->eos_token() : o.eos_token;

  std::ifstream in(o.messages_file, std::ios::binary);
  if (!in) return fail("cannot open " + o.messages_file);
  std::ostringstream ss;
  ss << in.rdbuf();
  Json input = Json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (input.is_discarded()) return fail(o.messages_file + " is not valid JSON");
  Json messages;
  Json extra = Json::object();
  if (input.is_array()) {
    messages = std::move(input);
  } else if (input.is_object() && input.contains("messages")) {
    messages = input["messages"];
    for (auto it = input.begin(); it != input.end(); ++it) {
      if (it.key() != "messages") extra[it.key()] = it.value();
    }
  } else {
    return fail(o.messages_file + ": expected a messages array or an object with \"messages\"");
  }

  auto prompt = loaded->render(messages, o.add_generation_prompt, bos, eos, extra);
  if (!prompt.is_ok()) return fail(prompt.status().to_string());
  std::string out;
  try {
    out = nlohmann::json(*prompt).dump(-1, ' ', /*ensure_ascii=*/false);
  } catch (const nlohmann::json::exception& e) {
    return fail(std::string("rendered prompt is not valid UTF-8: ") + e.what());
  }
  std::printf("%s\n", out.c_str());
  return 0;
}

}  // namespace

void register_chat_template(CLI::App& app, Runner* run) {
  auto* cmd = app.add_subcommand("chat-template", "Render a chat template over a messages file");
  static ChatTemplateOptions o;
  cmd->add_option("--tokenizer", o.tokenizer,
                  "Tokenizer directory or tokenizer_config.json (template and bos/eos tokens)");
  cmd->add_option("--template", o.template_file,
                  "A .jinja template file (overrides the tokenizer's)");
  cmd->add_option("--messages", o.messages_file, "JSON messages array, or {messages, tools, ...}")
      ->required();
  cmd->add_flag("--add-generation-prompt", o.add_generation_prompt,
                "End with the assistant header");
  cmd->add_option("--bos-token", o.bos_token, "bos_token (default: from tokenizer_config.json)");
  cmd->add_option("--eos-token", o.eos_token, "eos_token (default: from tokenizer_config.json)");
  cmd->callback([run] { *run = [] { return run_chat_template(o); }; });
}

}  // namespace radix::cli
