// Decoder implementations (see decoder.h); semantics follow Hugging Face tokenizers.
#include "tokenizer/decoder.h"

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/unicode.h"

namespace radix::tok {
namespace {

const std::string kReplacementUtf8 = "\xEF\xBF\xBD";

// Byte-level tokens back to bytes: a token whose characters are all in the GPT-2 table
// maps to those bytes, any other token (e.g. an added token) to its own UTF-8; the joined
// bytes are repaired lossily into one string.
class ByteLevelDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>* tokens) const override {
    std::string bytes;
    for (const auto& t : *tokens) {
      const size_t mark = bytes.size();
      bool all_mapped = true;
      size_t i = 0;
      while (i < t.size()) {
        char32_t c = 0;
        i += decode_utf8(t, i, &c);
        const int b = byte_level_byte(c);
        if (b < 0) {
          all_mapped = false;
          break;
        }
        bytes.push_back(static_cast<char>(b));
      }
      if (!all_mapped) {
        bytes.resize(mark);
        bytes += t;
      }
    }
    tokens->assign(1, utf8_lossy(bytes));
  }
  void token_bytes(std::string* t) const override {
    std::string bytes;
    size_t i = 0;
    while (i < t->size()) {
      char32_t c = 0;
      i += decode_utf8(*t, i, &c);
      const int b = byte_level_byte(c);
      if (b < 0) return;  // not a byte-level token (an added token): its own UTF-8
      bytes.push_back(static_cast<char>(b));
    }
    *t = std::move(bytes);
  }
};

class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool strip_first)
      : replacement_(std::move(replacement)), strip_first_(strip_first) {}
  void decode_chain(std::vector<std::string>* tokens) const override {
    for (size_t k = 0; k < tokens->size(); ++k) {
      std::string& t = (*tokens)[k];
      std::string out;
      out.reserve(t.size());
      size_t i = 0;
      while (i < t.size()) {
        if (t.compare(i, replacement_.size(), replacement_) == 0) {
          // The first token loses every replacement character, not only a leading one.
          if (!(k == 0 && strip_first_)) out.push_back(' ');
          i += replacement_.size();
        } else {
          out.push_back(t[i++]);
        }
      }
      t = std::move(out);
    }
  }

  void token_bytes(std::string* t) const override {
    std::string out;
    size_t i = 0;
    while (i < t->size()) {
      if (t->compare(i, replacement_.size(), replacement_) == 0) {
        out.push_back(' ');
        i += replacement_.size();
      } else {
        out.push_back((*t)[i++]);
      }
    }
    *t = std::move(out);
  }

 private:
  std::string replacement_;
  bool strip_first_;
};

class ByteFallbackDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>* tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens->size());
    std::string run;
    auto flush = [&] {
      if (run.empty()) return;
      if (is_valid_utf8(run)) {
        out.push_back(run);
      } else {
        for (size_t k = 0; k < run.size(); ++k) out.push_back(kReplacementUtf8);
      }
      run.clear();
    };
    for (auto& t : *tokens) {
      const int b = byte_fallback_value(t);
      if (b >= 0) {
        run.push_back(static_cast<char>(b));
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    *tokens = std::move(out);
  }
  bool has_byte_fallback() const override { return true; }
  void token_bytes(std::string* t) const override {
    if (const int b = byte_fallback_value(*t); b >= 0) t->assign(1, static_cast<char>(b));
  }
};

class FuseDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>* tokens) const override {
    std::string all;
    for (const auto& t : *tokens) all += t;
    tokens->assign(1, std::move(all));
  }
};

class StripDecoder final : public Decoder {
 public:
  StripDecoder(char32_t content, size_t start, size_t stop)
      : content_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>* tokens) const override {
    for (auto& t : *tokens) {
      std::vector<std::pair<size_t, char32_t>> chars;  // (byte offset, code point)
      size_t i = 0;
      while (i < t.size()) {
        char32_t c = 0;
        const size_t n = decode_utf8(t, i, &c);
        chars.push_back({i, c});
        i += n;
      }
      size_t start_cut = 0;
      for (size_t k = 0; k < std::min(start_, chars.size()) && chars[k].second == content_; ++k) {
        start_cut = k + 1;
      }
      size_t stop_cut = chars.size();
      for (size_t k = 0; k < std::min(stop_, chars.size() - start_cut); ++k) {
        const size_t idx = chars.size() - k - 1;
        if (chars[idx].second != content_) break;
        stop_cut = idx;
      }
      const size_t b = start_cut < chars.size() ? chars[start_cut].first : t.size();
      const size_t e = stop_cut < chars.size() ? chars[stop_cut].first : t.size();
      t = t.substr(b, e - b);
    }
  }

 private:
  char32_t content_;
  size_t start_, stop_;
};

class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(std::unique_ptr<Regex> pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>* tokens) const override {
    for (auto& t : *tokens) t = pattern_->replace_all(t, content_);
  }
  void token_bytes(std::string* t) const override { *t = pattern_->replace_all(*t, content_); }

 private:
  std::unique_ptr<Regex> pattern_;
  std::string content_;
};

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps)
      : steps_(std::move(steps)) {}
  void decode_chain(std::vector<std::string>* tokens) const override {
    for (const auto& s : steps_) s->decode_chain(tokens);
  }
  void token_bytes(std::string* t) const override {
    for (const auto& s : steps_) s->token_bytes(t);
  }
  bool has_byte_fallback() const override {
    for (const auto& s : steps_) {
      if (s->has_byte_fallback()) return true;
    }
    return false;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

Result<std::unique_ptr<Decoder>> make(Decoder* d) {
  return std::unique_ptr<Decoder>(d);
}

}  // namespace

int byte_fallback_value(std::string_view t) {
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const int hi = hex(t[3]), lo = hex(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

Result<std::unique_ptr<Decoder>> parse_decoder(const Json& j) {
  if (j.is_null()) return std::unique_ptr<Decoder>();
  RADIX_ASSIGN_OR_RETURN(const std::string type, json_type(j, "decoder"));
  const std::string where = "decoder " + type;
  if (type == "ByteLevel") return make(new ByteLevelDecoder());
  if (type == "ByteFallback") return make(new ByteFallbackDecoder());
  if (type == "Fuse") return make(new FuseDecoder());
  if (type == "Metaspace") {
    RADIX_ASSIGN_OR_RETURN(std::string replacement, json_char(j, "replacement", where, "\u2581"));
    RADIX_ASSIGN_OR_RETURN(const bool prefix, json_bool(j, "add_prefix_space", where, true));
    RADIX_ASSIGN_OR_RETURN(const std::string scheme,
                           json_string(j, "prepend_scheme", where, prefix ? "always" : "never"));
    if (scheme != "always" && scheme != "first" && scheme != "never") {
      return invalid_argument(where + ": unknown prepend_scheme '" + scheme + "'");
    }
    return make(new MetaspaceDecoder(std::move(replacement), scheme != "never"));
  }
  if (type == "Strip") {
    RADIX_ASSIGN_OR_RETURN(const std::string content, json_char(j, "content", where, " "));
    RADIX_ASSIGN_OR_RETURN(const int64_t start, json_int(j, "start", where, 0));
    RADIX_ASSIGN_OR_RETURN(const int64_t stop, json_int(j, "stop", where, 0));
    if (start < 0 || stop < 0) return invalid_argument(where + ": start/stop must be >= 0");
    char32_t c = 0;
    decode_utf8(content, 0, &c);
    return make(new StripDecoder(c, static_cast<size_t>(start), static_cast<size_t>(stop)));
  }
  if (type == "Replace") {
    if (!j.contains("pattern")) return invalid_argument(where + ": missing 'pattern'");
    RADIX_ASSIGN_OR_RETURN(auto pattern, json_pattern(j["pattern"], where));
    RADIX_ASSIGN_OR_RETURN(std::string content, json_string(j, "content", where));
    return make(new ReplaceDecoder(std::move(pattern), std::move(content)));
  }
  if (type == "Sequence") {
    RADIX_ASSIGN_OR_RETURN(auto steps, json_sequence<Decoder>(j, "decoders", where, parse_decoder));
    return make(new SequenceDecoder(std::move(steps)));
  }
  return unimplemented("unsupported decoder type '" + type + "' in tokenizer.json");
}

}  // namespace radix::tok
