// Added tokens (tokenizer.json "added_tokens": special tokens such as <|begin_of_text|>,
// and user-added tokens): found in the input before any other stage and emitted as their
// own ids. Matching is leftmost-longest over a byte trie, with the single_word, lstrip and
// rstrip rules of Hugging Face tokenizers. Tokens with normalized=true are matched on the
// normalized text (their pattern normalized the same way), the others on the raw input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace radix::tok {

class Normalizer;

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool single_word = false;
};

class AddedVocabulary {
 public:
  struct Match {
    size_t begin, end;  // byte span in the searched text, whitespace strips included
    int32_t id;
  };

  // `normalizer` (may be null) rewrites the patterns of normalized tokens.
  void build(const std::vector<AddedToken>& tokens, const Normalizer* normalizer);
  // Matches of the raw-text set (normalized=false) or the normalized set, in order.
  void find(std::string_view text, bool normalized_set, std::vector<Match>* out) const;
  bool empty() const { return tries_[0].terminal.size() <= 1 && tries_[1].terminal.size() <= 1; }

 private:
  struct Trie {
    std::unordered_map<uint64_t, int32_t> edges;  // (node << 8 | byte) -> child node
    std::vector<int32_t> terminal{-1};            // node -> index into tokens_, or -1
    bool first_byte[256] = {};
    void insert(std::string_view pattern, int32_t token_index);
  };
  std::vector<AddedToken> tokens_;
  Trie tries_[2];  // [0]: raw-text tokens, [1]: normalized tokens
};

}  // namespace radix::tok
