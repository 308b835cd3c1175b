// `radix tokenize`: encode or decode with a model's tokenizer from the command line, for
// users comparing ids with Hugging Face and for the parity tests (tests/e2e/
// tokenizer_parity.mjs). Reads a tokenizer directory or a tokenizer.json file.
//
//   radix tokenize --tokenizer DIR --text "Hello"          -> [9906]
//   radix tokenize --tokenizer DIR --jsonl prompts.jsonl   -> one id array per line
//   radix tokenize --tokenizer DIR --decode 9906,1917      -> "Hello world"
//   radix tokenize --tokenizer DIR --decode --jsonl ids.jsonl (lines are id arrays)
//   radix tokenize --tokenizer DIR --messages conv.json [--add-generation-prompt]
//                                                         -> {"prompt": "...", "ids": [...]}
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace radix::cli {
namespace {

using Json = nlohmann::json;

struct TokenizeOptions {
  std::string tokenizer;
  std::string text;
  std::string jsonl;
  std::string messages;  // a JSON messages array, or {"messages": [...], <template variables>}
  bool add_generation_prompt = false;
  std::string decode_ids;  // "1,2,3" or "[1,2,3]"; empty with --decode: read --jsonl/--text
  bool decode = false;
  bool no_special = false;
  bool skip_special_tokens = false;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "radix tokenize: %s\n", message.c_str());
  return 1;
}

std::string dump_string(const std::string& s) {
  return Json(s).dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

std::string dump_ids(const std::vector<int32_t>& ids) {
  std::string out = "[";
  for (size_t k = 0; k < ids.size(); ++k) {
    if (k > 0) out += ",";
    out += std::to_string(ids[k]);
  }
  return out + "]";
}

// "1,2,3", "[1, 2, 3]" or a JSON array -> ids.
Result<std::vector<int32_t>> parse_ids(const std::string& text) {
  std::string s = text;
  const size_t first = s.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && s[first] != '[') s = "[" + s + "]";
  Json j = Json::parse(s, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_array()) return invalid_argument("expected a list of ids");
  std::vector<int32_t> ids;
  for (const auto& v : j) {
    if (!v.is_number_integer() || v.get<int64_t>() < INT32_MIN || v.get<int64_t>() > INT32_MAX) {
      return invalid_argument("ids must be 32-bit integers, got " + v.dump());
    }
    ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
  return ids;
}

Result<std::shared_ptr<Tokenizer>> load(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return Tokenizer::from_dir(path);
  return Tokenizer::from_file(path);
}

// Renders the chat template of the tokenizer directory over the messages file and
// tokenizes the prompt as transformers' apply_chat_template(tokenize=True) does: the
// template writes the special tokens itself, so none are added.
int run_messages(const TokenizeOptions& o, const Tokenizer& t) {
  auto tmpl = ChatTemplate::from_tokenizer_config(o.tokenizer);
  if (!tmpl.is_ok()) return fail(tmpl.status().to_string());
  std::ifstream in(o.messages, std::ios::binary);
  if (!in) return fail("cannot open " + o.messages);
  std::ostringstream ss;
  ss << in.rdbuf();
  auto doc = nlohmann::ordered_json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return fail(o.messages + ": not valid JSON");
  nlohmann::ordered_json messages = doc, extra = nlohmann::ordered_json::object();
  if (doc.is_object()) {
    if (!doc.contains("messages")) return fail(o.messages + ": object without \"messages\"");
    messages = doc["messages"];
    for (auto it = doc.begin(); it != doc.end(); ++it) {
      if (it.key() != "messages") extra[it.key()] = it.value();
    }
  }
  auto prompt =
      tmpl->render(messages, o.add_generation_prompt, tmpl->bos_token(), tmpl->eos_token(), extra);
  if (!prompt.is_ok()) return fail(prompt.status().to_string());
  const std::string out = "{\"prompt\": " + dump_string(*prompt) +
                          ", \"ids\": " + dump_ids(t.encode(*prompt, false)) + "}\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

int run_tokenize(const TokenizeOptions& o) {
  if (!o.messages.empty()) {
    if (!o.text.empty() || !o.jsonl.empty() || o.decode) {
      return fail("--messages cannot be combined with --text, --jsonl or --decode");
    }
    std::error_code ec;
    if (!std::filesystem::is_directory(o.tokenizer, ec)) {
      return fail("--messages needs --tokenizer to be a directory (for its chat template)");
    }
    auto tok = load(o.tokenizer);
    if (!tok.is_ok()) return fail(tok.status().to_string());
    return run_messages(o, **tok);
  }
  const bool have_text = !o.text.empty(), have_jsonl = !o.jsonl.empty();
  const bool inline_ids = o.decode && !o.decode_ids.empty();
  if (static_cast<int>(have_text) + static_cast<int>(have_jsonl) + static_cast<int>(inline_ids) !=
      1) {
    return fail("give exactly one of --text, --jsonl or --decode IDS");
  }
  auto tok = load(o.tokenizer);
  if (!tok.is_ok()) return fail(tok.status().to_string());
  const Tokenizer& t = **tok;

  // One input item (a text, or a list of ids when decoding) -> one output line.
  auto process = [&](const std::string& item, bool item_is_json, std::string* out) -> Status {
    if (o.decode) {
      RADIX_ASSIGN_OR_RETURN(const auto ids, parse_ids(item));
      *out += dump_string(t.decode(ids, o.skip_special_tokens));
    } else if (item_is_json) {
      Json j = Json::parse(item, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded() || !j.is_string()) return invalid_argument("expected a JSON string");
      *out += dump_ids(t.encode(j.get_ref<const std::string&>(), !o.no_special));
    } else {
      *out += dump_ids(t.encode(item, !o.no_special));
    }
    *out += "\n";
    return Status::ok();
  };

  std::string out;
  if (!have_jsonl) {
    Status s = process(inline_ids ? o.decode_ids : o.text, false, &out);
    if (!s.is_ok()) return fail(s.message());
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }
  std::ifstream in(o.jsonl, std::ios::binary);
  if (!in) return fail("cannot open " + o.jsonl);
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    Status s = process(line, true, &out);
    if (!s.is_ok()) return fail(o.jsonl + ":" + std::to_string(line_no) + ": " + s.message());
    if (out.size() > (1 << 20)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace

void register_tokenize(CLI::App& app, Runner* run) {
  auto* cmd = app.add_subcommand("tokenize", "Encode text or decode ids with a model's tokenizer");
  auto opts = std::make_shared<TokenizeOptions>();
  cmd->add_option("--tokenizer,--tokenizer-path", opts->tokenizer,
                  "Tokenizer directory (tokenizer.json [+ tokenizer_config.json]) or a "
                  "tokenizer.json file")
      ->required();
  cmd->add_option("--text", opts->text, "Text to encode (or ids to decode with --decode)");
  cmd->add_option("--jsonl", opts->jsonl,
                  "File with one JSON string per line (one JSON id array per line with "
                  "--decode); prints one result per line");
  cmd->add_flag("--no-special", opts->no_special, "Encode without special tokens (BOS/EOS)");
  cmd->add_option("--decode", opts->decode_ids,
                  "Decode instead of encode: ids as 1,2,3, or none to read --jsonl/--text")
      ->expected(0, 1);
  cmd->add_flag("--skip-special-tokens", opts->skip_special_tokens,
                "Drop special tokens when decoding");
  cmd->add_option("--messages", opts->messages,
                  "Render the chat template over this JSON messages file and print "
                  "{\"prompt\", \"ids\"}");
  cmd->add_flag("--add-generation-prompt", opts->add_generation_prompt,
                "With --messages: end the prompt with the assistant turn header");
  cmd->callback([run, opts, cmd] {
    opts->decode = cmd->count("--decode") > 0;
    *run = [opts] { return run_tokenize(*opts); };
  });
}

}  // namespace radix::cli
