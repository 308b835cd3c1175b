// Byte-pair-encoding model: the third pipeline stage, turning each pre-tokenized word
// into vocabulary ids by repeatedly merging the adjacent pair of lowest merge rank
// (tokenizer.json "model" of type BPE). Covers byte-level BPE (GPT-2, Llama-3, Qwen2,
// DeepSeek) and SentencePiece-style BPE with byte fallback and <unk> (Llama-2, Gemma).
// Const and thread-safe; a sharded cache remembers the ids of recent words.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "tokenizer/json_util.h"

namespace radix::tok {

// Heterogeneous string hashing so lookups by string_view do not allocate.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using Vocab = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  // Parses a "model" object of type BPE.
  static Result<std::unique_ptr<BpeModel>> from_json(const Json& j);

  // Appends the ids of `word` (one pre-token) to `out`.
  void tokenize(std::string_view word, std::vector<int32_t>* out) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  // Vocabulary entries by id ("" for ids without one).
  const std::vector<std::string>& id_to_token() const { return id_to_token_; }
  const Vocab& vocab() const { return vocab_; }

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  void merge_word(std::string_view word, std::vector<int32_t>* out) const;

  Vocab vocab_;
  std::vector<std::string> id_to_token_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::optional<int32_t> unk_id_;
  std::string continuing_subword_prefix_;
  std::string end_of_word_suffix_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  std::array<int32_t, 256> byte_ids_{};  // ids of <0xXX>, -1 when missing

  // Word -> ids cache, sharded to keep HTTP threads from contending on one lock.
  static constexpr size_t kCacheShards = 16;
  static constexpr size_t kCacheShardCapacity = 8192;
  static constexpr size_t kMaxCachedWordBytes = 128;
  struct CacheShard {
    std::mutex mu;
    std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> map;
  };
  mutable std::array<CacheShard, kCacheShards> cache_;
};

}  // namespace radix::tok
