// Pre-tokenizer implementations (see pre_tokenizer.h); semantics follow Hugging Face
// tokenizers, including how each SplitDelimiterBehavior folds matches into pieces.
#include "tokenizer/pre_tokenizer.h"

#include <algorithm>
#include <array>
#include <functional>

#include "tokenizer/unicode.h"

namespace radix::tok {
namespace {

using Segments = std::vector<std::pair<Span, bool>>;

// Segments from a regex: gaps (not matched) and matches, covering the text.
Segments regex_segments(const Regex& re, std::string_view text, bool invert) {
  std::vector<Span> matches;
  re.find_all(text, &matches);
  Segments segs;
  size_t prev = 0;
  for (const auto& m : matches) {
    if (prev != m.first) segs.push_back({{prev, m.first}, invert});
    segs.push_back({m, !invert});
    prev = m.second;
  }
  if (prev != text.size()) segs.push_back({{prev, text.size()}, invert});
  return segs;
}

// Segments from a character predicate: every matching character is its own match.
Segments char_segments(std::string_view text, const std::function<bool(char32_t)>& pred) {
  Segments segs;
  size_t last = 0, i = 0;
  while (i < text.size()) {
    char32_t c = 0;
    const size_t n = decode_utf8(text, i, &c);
    if (pred(c)) {
      if (last < i) segs.push_back({{last, i}, false});
      segs.push_back({{i, i + n}, true});
      last = i + n;
    }
    i += n;
  }
  if (last < text.size()) segs.push_back({{last, text.size()}, false});
  return segs;
}

// Replaces each word by the pieces `split` produces for it; a piece starting at offset 0
// of a word that starts the input also starts the input.
template <typename SplitFn>
void split_words(std::vector<PreToken>* words, SplitFn split) {
  std::vector<PreToken> out;
  out.reserve(words->size());
  for (auto& w : *words) {
    for (const Span& s : split(std::string_view(w.text))) {
      if (s.first == s.second) continue;
      out.push_back({w.text.substr(s.first, s.second - s.first), w.at_start && s.first == 0});
    }
  }
  *words = std::move(out);
}

class SplitPreTokenizer final : public PreTokenizer {
 public:
  SplitPreTokenizer(std::unique_ptr<Regex> re, SplitBehavior behavior, bool invert)
      : re_(std::move(re)), behavior_(behavior), invert_(invert) {}
  void pre_tokenize(std::vector<PreToken>* words) const override {
    split_words(words, [&](std::string_view t) {
      return apply_split_behavior(regex_segments(*re_, t, invert_), behavior_);
    });
  }

 private:
  std::unique_ptr<Regex> re_;
  SplitBehavior behavior_;
  bool invert_;
};

class CharSplitPreTokenizer final : public PreTokenizer {
 public:
  CharSplitPreTokenizer(std::function<bool(char32_t)> pred, SplitBehavior behavior)
      : pred_(std::move(pred)), behavior_(behavior) {}
  void pre_tokenize(std::vector<PreToken>* words) const override {
    split_words(words, [&](std::string_view t) {
      return apply_split_behavior(char_segments(t, pred_), behavior_);
    });
  }

 private:
  std::function<bool(char32_t)> pred_;
  SplitBehavior behavior_;
};

const char* const kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, std::unique_ptr<Regex> re)
      : add_prefix_space_(add_prefix_space), re_(std::move(re)) {}
  void pre_tokenize(std::vector<PreToken>* words) const override {
    if (add_prefix_space_) {
      for (auto& w : *words) {
        if (w.text.empty() || w.text[0] != ' ') w.text.insert(0, " ");
      }
    }
    if (re_) {
      split_words(words, [&](std::string_view t) {
        return apply_split_behavior(regex_segments(*re_, t, false), SplitBehavior::kIsolated);
      });
    }
    for (auto& w : *words) {
      std::string mapped;
      mapped.reserve(w.text.size() * 2);
      for (char ch : w.text) append_utf8(&mapped, byte_level_char(static_cast<unsigned char>(ch)));
      w.text = std::move(mapped);
    }
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> re_;  // null when use_regex is false
};

enum class PrependScheme { kAlways, kFirst, kNever };

class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  MetaspacePreTokenizer(std::string replacement, PrependScheme scheme, bool split)
      : replacement_(std::move(replacement)), scheme_(scheme), split_(split) {
    decode_utf8(replacement_, 0, &replacement_char_);
  }
  void pre_tokenize(std::vector<PreToken>* words) const override {
    for (auto& w : *words) {
      std::string t;
      t.reserve(w.text.size() + replacement_.size());
      for (char ch : w.text) {
        if (ch == ' ') {
          t += replacement_;
        } else {
          t.push_back(ch);
        }
      }
      const bool starts = t.compare(0, replacement_.size(), replacement_) == 0;
      if (!starts &&
          (scheme_ == PrependScheme::kAlways || (scheme_ == PrependScheme::kFirst && w.at_start))) {
        t.insert(0, replacement_);
      }
      w.text = std::move(t);
    }
    if (split_) {
      const char32_t r = replacement_char_;
      split_words(words, [r](std::string_view t) {
        return apply_split_behavior(char_segments(t, [r](char32_t c) { return c == r; }),
                                    SplitBehavior::kMergedWithNext);
      });
    }
  }

 private:
  std::string replacement_;
  char32_t replacement_char_ = 0;
  PrependScheme scheme_;
  bool split_;
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}
  void pre_tokenize(std::vector<PreToken>* words) const override {
    for (const auto& s : steps_) s->pre_tokenize(words);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

Result<SplitBehavior> parse_behavior(const Json& j, const std::string& where,
                                     const std::string& fallback) {
  RADIX_ASSIGN_OR_RETURN(const std::string b, json_string(j, "behavior", where, fallback));
  if (b == "Removed") return SplitBehavior::kRemoved;
  if (b == "Isolated") return SplitBehavior::kIsolated;
  if (b == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (b == "Contiguous") return SplitBehavior::kContiguous;
  return invalid_argument(where + ": unknown split behavior '" + b + "'");
}

Result<std::unique_ptr<PreTokenizer>> make(PreTokenizer* p) {
  return std::unique_ptr<PreTokenizer>(p);
}

}  // namespace

std::vector<Span> apply_split_behavior(const Segments& segments, SplitBehavior behavior) {
  std::vector<Span> out;
  out.reserve(segments.size());
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const auto& s : segments) out.push_back(s.first);
      break;
    case SplitBehavior::kRemoved:
      for (const auto& s : segments) {
        if (!s.second) out.push_back(s.first);
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const auto& [span, is_match] : segments) {
        if (is_match && !previous_match && !out.empty()) {
          out.back().second = span.second;
        } else {
          out.push_back(span);
        }
        previous_match = is_match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
        const auto& [span, is_match] = *it;
        if (is_match && !previous_match && !out.empty()) {
          out.back().first = span.first;
        } else {
          out.push_back(span);
        }
        previous_match = is_match;
      }
      std::reverse(out.begin(), out.end());
      break;
    case SplitBehavior::kContiguous:
      for (const auto& [span, is_match] : segments) {
        if (is_match == previous_match && !out.empty()) {
          out.back().second = span.second;
        } else {
          out.push_back(span);
        }
        previous_match = is_match;
      }
      break;
  }
  return out;
}

char32_t byte_level_char(unsigned char b) {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    char32_t next = 256;
    for (int i = 0; i < 256; ++i) {
      const bool printable = (i >= 33 && i <= 126) || (i >= 161 && i <= 172) || i >= 174;
      t[i] = printable ? static_cast<char32_t>(i) : next++;
    }
    return t;
  }();
  return table[b];
}

int byte_level_byte(char32_t c) {
  static const std::array<int, 324> table = [] {
    std::array<int, 324> t{};
    t.fill(-1);
    for (int b = 0; b < 256; ++b) t[byte_level_char(static_cast<unsigned char>(b))] = b;
    return t;
  }();
  return c < table.size() ? table[c] : -1;
}

Result<std::unique_ptr<PreTokenizer>> parse_pre_tokenizer(const Json& j) {
  if (j.is_null()) return std::unique_ptr<PreTokenizer>();
  RADIX_ASSIGN_OR_RETURN(const std::string type, json_type(j, "pre_tokenizer"));
  const std::string where = "pre_tokenizer " + type;
  if (type == "Sequence") {
    RADIX_ASSIGN_OR_RETURN(
        auto steps, json_sequence<PreTokenizer>(j, "pretokenizers", where, parse_pre_tokenizer));
    return make(new SequencePreTokenizer(std::move(steps)));
  }
  if (type == "Split") {
    if (!j.contains("pattern")) return invalid_argument(where + ": missing 'pattern'");
    RADIX_ASSIGN_OR_RETURN(auto re, json_pattern(j["pattern"], where));
    RADIX_ASSIGN_OR_RETURN(const SplitBehavior behavior, parse_behavior(j, where, ""));
    RADIX_ASSIGN_OR_RETURN(const bool invert, json_bool(j, "invert", where, false));
    return make(new SplitPreTokenizer(std::move(re), behavior, invert));
  }
  if (type == "ByteLevel") {
    RADIX_ASSIGN_OR_RETURN(const bool prefix, json_bool(j, "add_prefix_space", where, true));
    RADIX_ASSIGN_OR_RETURN(const bool use_regex, json_bool(j, "use_regex", where, true));
    std::unique_ptr<Regex> re;
    if (use_regex) {
      RADIX_ASSIGN_OR_RETURN(re, Regex::compile(kGpt2Pattern));
    }
    return make(new ByteLevelPreTokenizer(prefix, std::move(re)));
  }
  if (type == "Metaspace") {
    RADIX_ASSIGN_OR_RETURN(std::string replacement, json_char(j, "replacement", where, "\u2581"));
    RADIX_ASSIGN_OR_RETURN(const bool split, json_bool(j, "split", where, true));
    // Older files carry add_prefix_space instead of prepend_scheme.
    RADIX_ASSIGN_OR_RETURN(const bool prefix, json_bool(j, "add_prefix_space", where, true));
    RADIX_ASSIGN_OR_RETURN(const std::string scheme_name,
                           json_string(j, "prepend_scheme", where, prefix ? "always" : "never"));
    PrependScheme scheme;
    if (scheme_name == "always") {
      scheme = PrependScheme::kAlways;
    } else if (scheme_name == "first") {
      scheme = PrependScheme::kFirst;
    } else if (scheme_name == "never") {
      scheme = PrependScheme::kNever;
    } else {
      return invalid_argument(where + ": unknown prepend_scheme '" + scheme_name + "'");
    }
    return make(new MetaspacePreTokenizer(std::move(replacement), scheme, split));
  }
  if (type == "Digits") {
    RADIX_ASSIGN_OR_RETURN(const bool individual, json_bool(j, "individual_digits", where, false));
    return make(new CharSplitPreTokenizer(
        is_numeric, individual ? SplitBehavior::kIsolated : SplitBehavior::kContiguous));
  }
  if (type == "Punctuation") {
    RADIX_ASSIGN_OR_RETURN(const SplitBehavior behavior, parse_behavior(j, where, "Isolated"));
    return make(new CharSplitPreTokenizer(is_punctuation, behavior));
  }
  if (type == "WhitespaceSplit") {
    return make(new CharSplitPreTokenizer(is_whitespace, SplitBehavior::kRemoved));
  }
  if (type == "Whitespace") {
    // \w+|[^\w\s]+ with Rust regex's Unicode classes; everything else is removed.
    const char* w = "\\p{L}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}";
    const char* s =
        "\\x{09}-\\x{0D}\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}"
        "\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";
    RADIX_ASSIGN_OR_RETURN(auto re, Regex::compile(std::string("[") + w + "]+|[^" + w + s + "]+"));
    return make(new SplitPreTokenizer(std::move(re), SplitBehavior::kRemoved, /*invert=*/true));
  }
  return unimplemented("unsupported pre_tokenizer type '" + type + "' in tokenizer.json");
}

}  // namespace radix::tok
