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
  // (left id, right id) -> merge, open addressing over one flat array: the merge loop's
  // lookups dominate BPE on long words (SentencePiece models have no pre-tokenizer, so a
  // whole prompt is one word), and a node-based map costs a cache miss per probe.
  class MergeTable {
   public:
    void insert(uint64_t key, Merge merge);  // a repeated pair keeps the last (as HF)
    const Merge* find(uint64_t key) const {
      if (slots_.empty()) return nullptr;
      for (size_t i = slot_of(key);; i = (i + 1) & (slots_.size() - 1)) {
        if (slots_[i].key == key) return &slots_[i].merge;
        if (slots_[i].key == kEmpty) return nullptr;
      }
    }

   private:
    static constexpr uint64_t kEmpty = ~uint64_t{0};  // ids are >= 0: never a real key
    struct Slot {
      uint64_t key = kEmpty;
      Merge merge{};
    };
    size_t slot_of(uint64_t key) const {
      return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
    }
    void grow();
    std::vector<Slot> slots_;  // size: a power of two, at most half full
    int shift_ = 64;
    size_t size_ = 0;
  };
  // The id of one whole UTF-8 character `c` (1-4 bytes), or -1: a table for ASCII and a
  // map for the rest, built from the vocab so the per-character lookups of merge_word
  // hash an integer instead of a string.
  int32_t char_id(std::string_view c) const;
  void merge_word(std::string_view word, std::vector<int32_t>* out) const;

  Vocab vocab_;
  std::vector<std::string> id_to_token_;
  MergeTable merges_;
  std::array<int32_t, 128> ascii_ids_{};
  std::unordered_map<uint32_t, int32_t> char_ids_;  // other characters, bytes packed
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
