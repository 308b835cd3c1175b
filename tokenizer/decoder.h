// Decoders: turn the vocabulary strings of a sequence of ids back into text
// (tokenizer.json "decoder": ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace,
// Sequence). Like Hugging Face's decode_chain, each step maps a list of token strings to
// a new list; the final text is their concatenation. Const and thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "tokenizer/json_util.h"

namespace radix::tok {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>* tokens) const = 0;
  // True when the chain holds a ByteFallback step: its output for a run of <0xXX> tokens
  // depends on the whole run, which the incremental detokenizer must respect.
  virtual bool has_byte_fallback() const { return false; }
  // One token's raw bytes where it stands inside a sequence (not at its start): the
  // ByteLevel table undone, a Metaspace/Replace replacement made, <0xXX> as its byte,
  // nothing stripped and no lossy UTF-8 repair (a token may hold part of a character).
  // Constrained decoding matches these bytes against its automaton.
  virtual void token_bytes(std::string* token) const {}
};

// Parses a "decoder" value; null gives nullptr (tokens are joined with spaces).
Result<std::unique_ptr<Decoder>> parse_decoder(const Json& j);

// "<0xAB>" -> 0xAB; -1 for anything else.
int byte_fallback_value(std::string_view token);

}  // namespace radix::tok
