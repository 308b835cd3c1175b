// Post-processor implementations (see post_processor.h). Only single sequences are
// encoded, so only the "single" template matters.
#include "tokenizer/post_processor.h"

namespace radix::tok {
namespace {

class TemplateProcessor final : public PostProcessor {
 public:
  TemplateProcessor(std::vector<int32_t> prefix, std::vector<int32_t> suffix)
      : prefix_(std::move(prefix)), suffix_(std::move(suffix)) {}
  void process(std::vector<int32_t>* ids, bool add_special_tokens) const override {
    if (!add_special_tokens) return;
    ids->insert(ids->begin(), prefix_.begin(), prefix_.end());
    ids->insert(ids->end(), suffix_.begin(), suffix_.end());
  }

 private:
  std::vector<int32_t> prefix_, suffix_;
};

class NoOpProcessor final : public PostProcessor {
 public:
  void process(std::vector<int32_t>*, bool) const override {}
};

class SequenceProcessor final : public PostProcessor {
 public:
  explicit SequenceProcessor(std::vector<std::unique_ptr<PostProcessor>> steps)
      : steps_(std::move(steps)) {}
  void process(std::vector<int32_t>* ids, bool add_special_tokens) const override {
    for (const auto& s : steps_) s->process(ids, add_special_tokens);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

Result<std::unique_ptr<PostProcessor>> parse_template(const Json& j, const std::string& where) {
  auto single = j.find("single");
  if (single == j.end() || !single->is_array()) {
    return invalid_argument(where + ": 'single' must be an array of template pieces");
  }
  const Json empty = Json::object();
  const Json& specials = j.contains("special_tokens") ? j["special_tokens"] : empty;
  std::vector<int32_t> prefix, suffix;
  int sequences = 0;
  for (const auto& piece : *single) {
    if (piece.contains("Sequence")) {
      const Json& seq = piece["Sequence"];
      if (!seq.is_object() || seq.value("id", "") != "A") {
        return invalid_argument(where + ": the single template may only use sequence $A");
      }
      ++sequences;
      continue;
    }
    if (!piece.contains("SpecialToken") || !piece["SpecialToken"].is_object()) {
      return invalid_argument(where + ": template pieces must be Sequence or SpecialToken");
    }
    RADIX_ASSIGN_OR_RETURN(const std::string name, json_string(piece["SpecialToken"], "id", where));
    auto sp = specials.find(name);
    if (sp == specials.end() || !sp->contains("ids") || !(*sp)["ids"].is_array()) {
      return invalid_argument(where + ": special token '" + name +
                              "' is missing from special_tokens");
    }
    for (const auto& id : (*sp)["ids"]) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
        return invalid_argument(where + ": special token '" + name + "' has an invalid id");
      }
      (sequences == 0 ? prefix : suffix).push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
  }
  if (sequences != 1) return invalid_argument(where + ": the single template needs one $A");
  return make_template_processor(std::move(prefix), std::move(suffix));
}

// RobertaProcessing / BertProcessing: "cls": [token, id], "sep": [token, id].
Result<int32_t> token_pair_id(const Json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array() || it->size() != 2 || !(*it)[1].is_number_integer()) {
    return invalid_argument(where + ": '" + key + "' must be [token, id]");
  }
  return static_cast<int32_t>((*it)[1].get<int64_t>());
}

}  // namespace

std::unique_ptr<PostProcessor> make_template_processor(std::vector<int32_t> prefix,
                                                       std::vector<int32_t> suffix) {
  return std::make_unique<TemplateProcessor>(std::move(prefix), std::move(suffix));
}

Result<std::unique_ptr<PostProcessor>> parse_post_processor(const Json& j) {
  if (j.is_null()) return std::unique_ptr<PostProcessor>();
  RADIX_ASSIGN_OR_RETURN(const std::string type, json_type(j, "post_processor"));
  const std::string where = "post_processor " + type;
  if (type == "ByteLevel") return std::unique_ptr<PostProcessor>(new NoOpProcessor());
  if (type == "TemplateProcessing") return parse_template(j, where);
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    RADIX_ASSIGN_OR_RETURN(const int32_t cls, token_pair_id(j, "cls", where));
    RADIX_ASSIGN_OR_RETURN(const int32_t sep, token_pair_id(j, "sep", where));
    return make_template_processor({cls}, {sep});
  }
  if (type == "Sequence") {
    RADIX_ASSIGN_OR_RETURN(
        auto steps, json_sequence<PostProcessor>(j, "processors", where, parse_post_processor));
    return std::unique_ptr<PostProcessor>(new SequenceProcessor(std::move(steps)));
  }
  return unimplemented("unsupported post_processor type '" + type + "' in tokenizer.json");
}

}  // namespace radix::tok
