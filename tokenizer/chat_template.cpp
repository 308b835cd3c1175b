// ChatTemplate: loads a model's chat template and renders OpenAI messages with the
// variables transformers' apply_chat_template provides.
#include "tokenizer/chat_template.h"
#include "core/file_util.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace radix {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A special token in tokenizer_config.json: "text" or {"content": "text", ...}.
std::string token_string(const nlohmann::ordered_json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto c = it->find("content");
    if (c != it->end() && c->is_string()) return c->get<std::string>();
  }
  return "";
}

Result<nlohmann::ordered_json> read_json(const std::string& path) {
  RADIX_ASSIGN_OR_RETURN(std::string text, read_file(path));
  nlohmann::ordered_json j =
      nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid_argument(path + " is not valid JSON");
  if (!j.is_object()) return invalid_argument(path + " is not a JSON object");
  return j;
}

// The config's template text: a string, or from a {name, template} list the one named
// `name` ("" when the list has none of that name and name is not "default").
Result<std::string> template_from_config(const nlohmann::ordered_json& config, const std::string& path,
                                         const std::string& name = "default") {
  auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) return not_found(path + " has no chat_template");
  if (it->is_string()) return name == "default" ? it->get<std::string>() : std::string();
  if (it->is_array()) {
    std::string names;
    for (const auto& entry : *it) {
      if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") ||
          !entry["name"].is_string() || !entry["template"].is_string()) {
        return invalid_argument(path +
                                ": chat_template list entries must be {name, template} strings");
      }
      if (entry["name"] == name) return entry["template"].get<std::string>();
      names += (names.empty() ? "" : ", ") + entry["name"].get<std::string>();
    }
    if (name != "default") return std::string();
    return not_found(path + ": chat_template has no template named 'default' (has: " + names + ")");
  }
  return invalid_argument(path + ": chat_template must be a string or a list of {name, template}");
}

}  // namespace

Result<ChatTemplate> ChatTemplate::parse(const std::string& source) {
  ChatTemplate t;
  RADIX_ASSIGN_OR_RETURN(t.template_, jinja::Template::parse(source));
  t.source_ = source;
  return t;
}

Result<ChatTemplate> ChatTemplate::from_tokenizer_config(const std::string& path,
                                                         const std::string& template_override) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string config_path;
  std::string jinja_path;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(fs::path(path) / "chat_template.jinja", ec)) {
      jinja_path = (fs::path(path) / "chat_template.jinja").string();
    }
    config_path = (fs::path(path) / "tokenizer_config.json").string();
  } else if (ends_with(path, ".jinja")) {
    jinja_path = path;
    config_path = (fs::path(path).parent_path() / "tokenizer_config.json").string();
  } else {
    config_path = path;
  }
  if (!template_override.empty()) jinja_path = template_override;

  nlohmann::ordered_json config = nlohmann::ordered_json::object();
  const bool have_config = fs::exists(config_path, ec);
  if (have_config) {
    RADIX_ASSIGN_OR_RETURN(config, read_json(config_path));
  } else if (jinja_path.empty()) {
    return not_found("no chat template: " + config_path + " does not exist");
  }

  std::string source;
  if (!jinja_path.empty()) {
    RADIX_ASSIGN_OR_RETURN(source, read_file(jinja_path));
  } else {
    RADIX_ASSIGN_OR_RETURN(source, template_from_config(config, config_path));
  }
  auto parsed = parse(source);
  if (!parsed.is_ok()) {
    return parsed.status().with_context(jinja_path.empty() ? config_path : jinja_path);
  }
  ChatTemplate t = std::move(parsed).value();
  if (jinja_path.empty()) {
    // A named "tool_use" template serves requests with tools, as in transformers.
    RADIX_ASSIGN_OR_RETURN(std::string tool_source, template_from_config(config, config_path, "tool_use"));
    if (!tool_source.empty()) {
      auto tool = jinja::Template::parse(tool_source);
      if (!tool.is_ok()) return tool.status().with_context(config_path + " (tool_use template)");
      t.tool_use_ = std::make_shared<jinja::Template>(std::move(tool).value());
    }
  }
  t.bos_token_ = token_string(config, "bos_token");
  t.eos_token_ = token_string(config, "eos_token");
  return t;
}

Result<std::string> ChatTemplate::render(const nlohmann::ordered_json& messages,
                                         bool add_generation_prompt, const std::string& bos_token,
                                         const std::string& eos_token,
                                         const nlohmann::ordered_json& extra) const {
  if (!messages.is_array()) return invalid_argument("messages must be a JSON array");
  if (!extra.is_object()) return invalid_argument("chat template variables must be a JSON object");
  jinja::Dict context;
  try {
    context.set("messages", jinja::Value::from_json(messages));
    context.set("tools", jinja::Value::none());
    context.set("documents", jinja::Value::none());
    context.set("add_generation_prompt", jinja::Value::boolean(add_generation_prompt));
    if (!bos_token.empty()) context.set("bos_token", jinja::Value::string(bos_token));
    if (!eos_token.empty()) context.set("eos_token", jinja::Value::string(eos_token));
    for (auto it = extra.begin(); it != extra.end(); ++it) {
      context.set(it.key(), jinja::Value::from_json(it.value()));
    }
  } catch (const jinja::RenderError& e) {
    return invalid_argument(std::string("chat template input: ") + e.what());
  }
  const auto tools = extra.find("tools");
  const bool with_tools = tools != extra.end() && !tools->is_null();
  return with_tools && tool_use_ ? tool_use_->render(context) : template_.render(context);
}

}  // namespace radix
