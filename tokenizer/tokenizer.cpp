// Tokenizer loading, encode and decode (see tokenizer.h).
#include "tokenizer/tokenizer.h"
#include "core/file_util.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "tokenizer/added_vocabulary.h"
#include "tokenizer/bpe.h"
#include "tokenizer/decoder.h"
#include "tokenizer/json_util.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/post_processor.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/unicode.h"

namespace radix {
namespace {

using tok::Json;

// A token field of tokenizer_config.json: "text", {"content": "text", ...} or null.
std::string config_token(const Json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto c = it->find("content");
    if (c != it->end() && c->is_string()) return c->get<std::string>();
  }
  return "";
}

Result<std::vector<tok::AddedToken>> parse_added_tokens(const Json& j) {
  std::vector<tok::AddedToken> out;
  if (j.is_null()) return out;
  if (!j.is_array()) return invalid_argument("tokenizer.json: 'added_tokens' must be an array");
  for (const auto& a : j) {
    const std::string where = "added_tokens entry";
    if (!a.is_object()) return invalid_argument(where + " must be an object");
    tok::AddedToken t;
    RADIX_ASSIGN_OR_RETURN(t.content, tok::json_string(a, "content", where));
    RADIX_ASSIGN_OR_RETURN(const int64_t id, tok::json_int(a, "id", where, -1));
    if (id < 0 || id >= (int64_t{1} << 26)) {
      return invalid_argument(where + " '" + t.content + "' has no valid id");
    }
    t.id = static_cast<int32_t>(id);
    RADIX_ASSIGN_OR_RETURN(t.special, tok::json_bool(a, "special", where, false));
    RADIX_ASSIGN_OR_RETURN(t.lstrip, tok::json_bool(a, "lstrip", where, false));
    RADIX_ASSIGN_OR_RETURN(t.rstrip, tok::json_bool(a, "rstrip", where, false));
    RADIX_ASSIGN_OR_RETURN(t.single_word, tok::json_bool(a, "single_word", where, false));
    RADIX_ASSIGN_OR_RETURN(t.normalized, tok::json_bool(a, "normalized", where, !t.special));
    if (!tok::is_valid_utf8(t.content)) return invalid_argument(where + " is not valid UTF-8");
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

Result<std::shared_ptr<Tokenizer>> Tokenizer::from_file(const std::string& path) {
  RADIX_ASSIGN_OR_RETURN(const std::string text, read_file(path));
  auto t = from_json_string(text);
  if (!t.is_ok()) return t.status().with_context(path);
  return t;
}

Result<std::shared_ptr<Tokenizer>> Tokenizer::from_json_string(std::string_view text) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid_argument("tokenizer.json is not valid JSON");
  if (!j.is_object()) return invalid_argument("tokenizer.json must be a JSON object");
  std::shared_ptr<Tokenizer> t(new Tokenizer());
  try {
    if (!j.contains("model")) return invalid_argument("tokenizer.json has no 'model'");
    const Json null_json;
    auto field = [&](const char* key) -> const Json& {
      auto it = j.find(key);
      return it == j.end() ? null_json : *it;
    };
    RADIX_ASSIGN_OR_RETURN(t->model_, tok::BpeModel::from_json(j["model"]));
    RADIX_ASSIGN_OR_RETURN(t->normalizer_, tok::parse_normalizer(field("normalizer")));
    RADIX_ASSIGN_OR_RETURN(t->pre_tokenizer_, tok::parse_pre_tokenizer(field("pre_tokenizer")));
    RADIX_ASSIGN_OR_RETURN(t->post_processor_, tok::parse_post_processor(field("post_processor")));
    RADIX_ASSIGN_OR_RETURN(t->decoder_, tok::parse_decoder(field("decoder")));
    RADIX_ASSIGN_OR_RETURN(auto added, parse_added_tokens(field("added_tokens")));

    // Ids as Hugging Face assigns them when it loads the file (the "id" fields are only
    // checked there): a token in the model's vocab keeps that id, a repeated content keeps
    // its first id, any other token takes the next id after the model vocab and the added
    // tokens so far.
    const auto model_size = static_cast<int64_t>(t->model_->vocab().size());
    int64_t max_added = -1;
    std::unordered_map<std::string, int32_t> assigned;
    for (auto& a : added) {
      if (auto id = t->model_->token_to_id(a.content)) {
        a.id = *id;
      } else if (auto it = assigned.find(a.content); it != assigned.end()) {
        a.id = it->second;
      } else {
        a.id = static_cast<int32_t>(max_added >= model_size || model_size == 0 ? max_added + 1
                                                                               : model_size);
      }
      assigned.emplace(a.content, a.id);
      max_added = std::max<int64_t>(max_added, a.id);
    }
    t->id_to_token_ = t->model_->id_to_token();
    int32_t size = static_cast<int32_t>(t->id_to_token_.size());
    for (const auto& a : added) size = std::max(size, a.id + 1);
    t->id_to_token_.resize(size);
    t->special_.assign(size, 0);
    for (const auto& a : added) {
      t->id_to_token_[a.id] = a.content;
      if (a.special) t->special_[a.id] = 1;
      t->added_by_content_.push_back({a.content, a.id});
    }
    std::stable_sort(t->added_by_content_.begin(), t->added_by_content_.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
    t->added_ = std::make_unique<tok::AddedVocabulary>();
    t->added_->build(added, t->normalizer_.get());
    t->byte_fallback_.assign(size, 0);
    if (t->decoder_ && t->decoder_->has_byte_fallback()) {
      for (int32_t id = 0; id < size; ++id) {
        t->byte_fallback_[id] = tok::byte_fallback_value(t->id_to_token_[id]) >= 0;
      }
    }
  } catch (const Json::exception& e) {
    return invalid_argument(std::string("tokenizer.json has an unexpected field type: ") +
                            e.what());
  }
  return t;
}

Result<std::shared_ptr<Tokenizer>> Tokenizer::from_dir(const std::string& dir) {
  const std::filesystem::path d(dir);
  RADIX_ASSIGN_OR_RETURN(auto t, from_file((d / "tokenizer.json").string()));
  const std::string config = (d / "tokenizer_config.json").string();
  std::error_code ec;
  if (std::filesystem::exists(config, ec)) {
    RADIX_RETURN_IF_ERROR(t->load_config(config).with_context(config));
  }
  return t;
}

Status Tokenizer::load_config(const std::string& config_path) {
  RADIX_ASSIGN_OR_RETURN(const std::string text, read_file(config_path));
  Json cfg = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (cfg.is_discarded() || !cfg.is_object()) return invalid_argument("not a JSON object");
  bos_token_ = config_token(cfg, "bos_token");
  eos_token_ = config_token(cfg, "eos_token");
  pad_token_ = config_token(cfg, "pad_token");
  bos_id_ = bos_token_.empty() ? std::nullopt : token_to_id(bos_token_);
  eos_id_ = eos_token_.empty() ? std::nullopt : token_to_id(eos_token_);
  pad_id_ = pad_token_.empty() ? std::nullopt : token_to_id(pad_token_);

  // transformers' Llama/Gemma fast tokenizers replace the post-processor by a template
  // built from add_bos_token (default true) and add_eos_token (default false).
  const std::string cls = cfg.value("tokenizer_class", std::string());
  static const char* const kTemplateClasses[] = {"LlamaTokenizer", "LlamaTokenizerFast",
                                                 "GemmaTokenizer", "GemmaTokenizerFast"};
  if (std::find(std::begin(kTemplateClasses), std::end(kTemplateClasses), cls) ==
      std::end(kTemplateClasses)) {
    return Status::ok();
  }
  auto flag = [&](const char* key, bool fallback) {
    auto it = cfg.find(key);
    return it != cfg.end() && it->is_boolean() ? it->get<bool>() : fallback;
  };
  const bool add_bos = flag("add_bos_token", true), add_eos = flag("add_eos_token", false);
  if (add_bos && !bos_id_)
    return invalid_argument("add_bos_token is set but there is no bos_token");
  if (add_eos && !eos_id_)
    return invalid_argument("add_eos_token is set but there is no eos_token");
  std::vector<int32_t> prefix, suffix;
  if (add_bos) prefix.push_back(*bos_id_);
  if (add_eos) suffix.push_back(*eos_id_);
  post_processor_ = tok::make_template_processor(std::move(prefix), std::move(suffix));
  return Status::ok();
}

void Tokenizer::encode_piece(std::string piece, bool at_start, std::vector<int32_t>* ids) const {
  if (normalizer_) normalizer_->normalize(&piece);
  if (piece.empty()) return;
  std::vector<tok::AddedVocabulary::Match> matches;
  added_->find(piece, /*normalized_set=*/true, &matches);
  std::vector<tok::PreToken> words;
  auto emit_text = [&](size_t b, size_t e) {
    if (b >= e) return;
    words.clear();
    words.push_back({piece.substr(b, e - b), at_start && b == 0});
    if (pre_tokenizer_) pre_tokenizer_->pre_tokenize(&words);
    for (const auto& w : words) model_->tokenize(w.text, ids);
  };
  size_t prev = 0;
  for (const auto& m : matches) {
    emit_text(prev, m.begin);
    ids->push_back(m.id);
    prev = m.end;
  }
  emit_text(prev, piece.size());
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  const std::string input = tok::utf8_lossy(text);
  std::vector<int32_t> ids;
  std::vector<tok::AddedVocabulary::Match> matches;
  added_->find(input, /*normalized_set=*/false, &matches);
  size_t prev = 0;
  for (const auto& m : matches) {
    if (prev < m.begin) encode_piece(input.substr(prev, m.begin - prev), prev == 0, &ids);
    ids.push_back(m.id);
    prev = m.end;
  }
  if (prev < input.size()) encode_piece(input.substr(prev), prev == 0, &ids);
  if (post_processor_) post_processor_->process(&ids, add_special_tokens);
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) continue;
    if (skip_special_tokens && special_[id]) continue;
    const std::string& t = id_to_token_[id];
    if (t.empty()) continue;
    tokens.push_back(t);
  }
  if (!decoder_) {
    std::string out;
    for (size_t k = 0; k < tokens.size(); ++k) {
      if (k > 0) out.push_back(' ');
      out += tokens[k];
    }
    return out;
  }
  decoder_->decode_chain(&tokens);
  std::string out;
  for (const auto& t : tokens) out += t;
  return out;
}

int32_t Tokenizer::vocab_size() const {
  return static_cast<int32_t>(id_to_token_.size());
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  auto it = std::lower_bound(added_by_content_.begin(), added_by_content_.end(), token,
                             [](const auto& e, std::string_view t) { return e.first < t; });
  if (it != added_by_content_.end() && it->first == token) return it->second;
  return model_->token_to_id(token);
}

std::string Tokenizer::id_to_token(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return "";
  return id_to_token_[id];
}

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && id < vocab_size() && special_[id] != 0;
}

std::optional<std::string> Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || id >= vocab_size() || special_[id] != 0 || id_to_token_[id].empty()) return std::nullopt;
  std::string t = id_to_token_[id];
  if (decoder_) decoder_->token_bytes(&t);
  return t;
}

bool Tokenizer::is_byte_fallback_token(int32_t id) const {
  return id >= 0 && id < vocab_size() && byte_fallback_[id] != 0;
}

}  // namespace radix
