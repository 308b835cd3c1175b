// Added-token matching (see added_vocabulary.h).
#include "tokenizer/added_vocabulary.h"

#include <algorithm>

#include "tokenizer/normalizer.h"
#include "tokenizer/unicode.h"

namespace radix::tok {
namespace {

char32_t last_char(std::string_view s) {
  size_t i = s.size() - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  char32_t c = 0;
  decode_utf8(s, i, &c);
  return c;
}

char32_t first_char(std::string_view s) {
  char32_t c = 0;
  decode_utf8(s, 0, &c);
  return c;
}

}  // namespace

void AddedVocabulary::Trie::insert(std::string_view pattern, int32_t token_index) {
  int32_t node = 0;
  for (char ch : pattern) {
    const uint64_t key = (static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(ch);
    auto it = edges.find(key);
    if (it == edges.end()) {
      const auto child = static_cast<int32_t>(terminal.size());
      terminal.push_back(-1);
      it = edges.emplace(key, child).first;
    }
    node = it->second;
  }
  if (terminal[node] < 0) terminal[node] = token_index;  // the first of equal patterns wins
  first_byte[static_cast<unsigned char>(pattern[0])] = true;
}

void AddedVocabulary::build(const std::vector<AddedToken>& tokens, const Normalizer* normalizer) {
  tokens_ = tokens;
  for (size_t k = 0; k < tokens_.size(); ++k) {
    const AddedToken& t = tokens_[k];
    if (t.content.empty()) continue;
    std::string pattern = t.content;
    if (t.normalized && normalizer != nullptr) normalizer->normalize(&pattern);
    if (pattern.empty()) continue;
    tries_[t.normalized ? 1 : 0].insert(pattern, static_cast<int32_t>(k));
  }
}

void AddedVocabulary::find(std::string_view text, bool normalized_set,
                           std::vector<Match>* out) const {
  const Trie& trie = tries_[normalized_set ? 1 : 0];
  if (trie.terminal.size() <= 1) return;
  size_t pos = 0, start_offset = 0;
  while (pos < text.size()) {
    if (!trie.first_byte[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    // Longest pattern starting at pos.
    int32_t node = 0, best = -1;
    size_t best_end = 0;
    for (size_t i = pos; i < text.size(); ++i) {
      auto it =
          trie.edges.find((static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(text[i]));
      if (it == trie.edges.end()) break;
      node = it->second;
      if (trie.terminal[node] >= 0) best = trie.terminal[node], best_end = i + 1;
    }
    if (best < 0) {
      ++pos;
      continue;
    }
    const AddedToken& tok = tokens_[best];
    size_t begin = pos, end = best_end;
    pos = best_end;  // the search resumes after the raw match
    if (tok.single_word) {
      const bool space_before = begin == 0 || !is_word_char(last_char(text.substr(0, begin)));
      const bool space_after = end == text.size() || !is_word_char(first_char(text.substr(end)));
      if (!space_before || !space_after) continue;
    }
    if (tok.lstrip) {
      size_t b = begin;
      while (b > 0) {
        size_t s = b - 1;
        while (s > 0 && (static_cast<unsigned char>(text[s]) & 0xC0) == 0x80) --s;
        char32_t c = 0;
        decode_utf8(text, s, &c);
        if (!is_whitespace(c)) break;
        b = s;
      }
      begin = std::max(b, start_offset);
    }
    if (tok.rstrip) {
      while (end < text.size()) {
        char32_t c = 0;
        const size_t n = decode_utf8(text, end, &c);
        if (!is_whitespace(c)) break;
        end += n;
      }
    }
    out->push_back({begin, end, tok.id});
    start_offset = end;
  }
}

}  // namespace radix::tok
