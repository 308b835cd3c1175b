// Tokenizer: text <-> token ids from a Hugging Face tokenizer.json (plus
// tokenizer_config.json), identical to the `tokenizers` library. HTTP threads share one
// instance to encode prompts and detokenize outputs (DESIGN.md §3); every const method is
// thread-safe. The encode pipeline is: added tokens -> normalizer -> added tokens on
// normalized text -> pre-tokenizer -> BPE model -> post-processor (tokenizer/*.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace radix {

namespace tok {
class BpeModel;
class Normalizer;
class PreTokenizer;
class PostProcessor;
class Decoder;
class AddedVocabulary;
}  // namespace tok

class Tokenizer {
 public:
  // Loads a tokenizer.json. Unsupported components are an Unimplemented error naming
  // them; a missing or malformed file is NotFound / InvalidArgument.
  static Result<std::shared_ptr<Tokenizer>> from_file(const std::string& tokenizer_json_path);
  // Loads DIR/tokenizer.json, plus DIR/tokenizer_config.json when present (bos/eos/pad
  // token strings; for Llama and Gemma tokenizer classes, add_bos_token/add_eos_token
  // rebuild the BOS/EOS template as transformers does).
  static Result<std::shared_ptr<Tokenizer>> from_dir(const std::string& dir);
  // Parses tokenizer.json text (from_file without the file).
  static Result<std::shared_ptr<Tokenizer>> from_json_string(std::string_view json);
  ~Tokenizer();

  // Never fails: invalid UTF-8 is first repaired (each maximal invalid subsequence
  // becomes U+FFFD).
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  // Ids without a token are skipped, as in Hugging Face.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  int32_t vocab_size() const;  // one past the largest id, added tokens included
  std::optional<int32_t> token_to_id(std::string_view token) const;
  std::string id_to_token(int32_t id) const;  // raw vocab string, "" if out of range
  bool is_special(int32_t id) const;
  // The raw bytes token `id` adds to a text where it follows other tokens (the
  // decoder's per-token mapping: byte-level table undone, "▁" as a space, <0xXX> as its
  // byte; no UTF-8 repair, so a token may hold part of a character); nullopt for special
  // tokens and ids without a token. Constrained decoding matches these bytes.
  std::optional<std::string> token_bytes(int32_t id) const;

  std::optional<int32_t> bos_token_id() const { return bos_id_; }
  std::optional<int32_t> eos_token_id() const { return eos_id_; }
  std::optional<int32_t> pad_token_id() const { return pad_id_; }
  const std::string& bos_token() const { return bos_token_; }  // "" if none
  const std::string& eos_token() const { return eos_token_; }
  const std::string& pad_token() const { return pad_token_; }

 private:
  friend class IncrementalDetokenizer;
  Tokenizer();
  Status load_config(const std::string& config_path);
  // Appends the ids of one stretch of text between raw-text added tokens.
  void encode_piece(std::string piece, bool at_start, std::vector<int32_t>* ids) const;
  // True for <0xXX> tokens when the decoder has a ByteFallback step.
  bool is_byte_fallback_token(int32_t id) const;

  std::unique_ptr<tok::BpeModel> model_;
  std::unique_ptr<tok::Normalizer> normalizer_;
  std::unique_ptr<tok::PreTokenizer> pre_tokenizer_;
  std::unique_ptr<tok::PostProcessor> post_processor_;
  std::unique_ptr<tok::Decoder> decoder_;
  std::unique_ptr<tok::AddedVocabulary> added_;
  std::vector<std::string> id_to_token_;  // model vocab overlaid with added tokens
  std::vector<uint8_t> special_;          // by id: 1 for special added tokens
  std::vector<uint8_t> byte_fallback_;    // by id: see is_byte_fallback_token
  std::vector<std::pair<std::string, int32_t>> added_by_content_;  // sorted, for token_to_id
  std::string bos_token_, eos_token_, pad_token_;
  std::optional<int32_t> bos_id_, eos_id_, pad_id_;
};

// Streaming detokenizer for one request: feed ids one at a time; step() returns the
// newly finished text. It never emits a broken UTF-8 sequence, and the concatenation of
// all pieces plus flush() equals tokenizer.decode(all ids). With prompt_ids, the text is
// decoded in the context of the prompt's last tokens (so a leading "▁" after a prompt
// becomes a space), i.e. it equals decode(prompt + ids) minus decode(prompt).
class IncrementalDetokenizer {
 public:
  IncrementalDetokenizer(std::shared_ptr<const Tokenizer> tok, bool skip_special_tokens,
                         std::span<const int32_t> prompt_ids = {});
  std::string step(int32_t id);
  // The text held back (an unfinished character at the end); call once at the end.
  std::string flush();

 private:
  std::string decode_range(size_t begin, size_t end) const;

  std::shared_ptr<const Tokenizer> tok_;
  bool skip_special_;
  std::vector<int32_t> ids_;  // prompt context + generated ids not yet fully emitted
  size_t prefix_ = 0;         // start of the window decoded for context
  size_t read_ = 0;           // end of the text already emitted
};

}  // namespace radix
