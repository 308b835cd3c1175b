// Normalizer implementations (see normalizer.h); semantics follow Hugging Face tokenizers.
#include "tokenizer/normalizer.h"

#include <vector>

#include "tokenizer/unicode.h"

namespace radix::tok {
namespace {

class FormNormalizer final : public Normalizer {
 public:
  explicit FormNormalizer(NormalForm form) : form_(form) {}
  void normalize(std::string* text) const override { *text = normalize_form(*text, form_); }

 private:
  NormalForm form_;
};

class LowercaseNormalizer final : public Normalizer {
 public:
  void normalize(std::string* text) const override { *text = to_lowercase(*text); }
};

class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string* text) const override {
    size_t begin = 0, end = text->size();
    if (left_) {
      while (begin < end) {
        char32_t c = 0;
        const size_t n = decode_utf8(*text, begin, &c);
        if (!is_whitespace(c)) break;
        begin += n;
      }
    }
    if (right_) {
      while (end > begin) {
        size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>((*text)[start]) & 0xC0) == 0x80) {
          --start;
        }
        char32_t c = 0;
        decode_utf8(*text, start, &c);
        if (!is_whitespace(c)) break;
        end = start;
      }
    }
    *text = text->substr(begin, end - begin);
  }

 private:
  bool left_, right_;
};

class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prepend) : prepend_(std::move(prepend)) {}
  void normalize(std::string* text) const override {
    if (!text->empty()) text->insert(0, prepend_);
  }

 private:
  std::string prepend_;
};

class ReplaceNormalizer final : public Normalizer {
 public:
  ReplaceNormalizer(std::unique_ptr<Regex> pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void normalize(std::string* text) const override {
    *text = pattern_->replace_all(*text, content_);
  }

 private:
  std::unique_ptr<Regex> pattern_;
  std::string content_;
};

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps)
      : steps_(std::move(steps)) {}
  void normalize(std::string* text) const override {
    for (const auto& s : steps_) s->normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

Result<std::unique_ptr<Normalizer>> parse_normalizer(const Json& j) {
  if (j.is_null()) return std::unique_ptr<Normalizer>();
  RADIX_ASSIGN_OR_RETURN(const std::string type, json_type(j, "normalizer"));
  const std::string where = "normalizer " + type;
  if (type == "NFC") return std::unique_ptr<Normalizer>(new FormNormalizer(NormalForm::kNfc));
  if (type == "NFD") return std::unique_ptr<Normalizer>(new FormNormalizer(NormalForm::kNfd));
  if (type == "NFKC") return std::unique_ptr<Normalizer>(new FormNormalizer(NormalForm::kNfkc));
  if (type == "NFKD") return std::unique_ptr<Normalizer>(new FormNormalizer(NormalForm::kNfkd));
  if (type == "Lowercase") return std::unique_ptr<Normalizer>(new LowercaseNormalizer());
  if (type == "Strip") {
    RADIX_ASSIGN_OR_RETURN(const bool left, json_bool(j, "strip_left", where, true));
    RADIX_ASSIGN_OR_RETURN(const bool right, json_bool(j, "strip_right", where, true));
    return std::unique_ptr<Normalizer>(new StripNormalizer(left, right));
  }
  if (type == "Prepend") {
    RADIX_ASSIGN_OR_RETURN(std::string prepend, json_string(j, "prepend", where));
    return std::unique_ptr<Normalizer>(new PrependNormalizer(std::move(prepend)));
  }
  if (type == "Replace") {
    if (!j.contains("pattern")) return invalid_argument(where + ": missing 'pattern'");
    RADIX_ASSIGN_OR_RETURN(auto pattern, json_pattern(j["pattern"], where));
    RADIX_ASSIGN_OR_RETURN(std::string content, json_string(j, "content", where));
    return std::unique_ptr<Normalizer>(
        new ReplaceNormalizer(std::move(pattern), std::move(content)));
  }
  if (type == "Sequence") {
    RADIX_ASSIGN_OR_RETURN(auto steps,
                           json_sequence<Normalizer>(j, "normalizers", where, parse_normalizer));
    return std::unique_ptr<Normalizer>(new SequenceNormalizer(std::move(steps)));
  }
  return unimplemented("unsupported normalizer type '" + type + "' in tokenizer.json");
}

}  // namespace radix::tok
