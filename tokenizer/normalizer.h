// Normalizers: the first pipeline stage, rewriting each piece of input text between
// added tokens (tokenizer.json "normalizer": NFC, NFD, NFKC, NFKD, Lowercase, Strip,
// Replace, Prepend, Sequence). Parsed once at load; normalize() is const and thread-safe.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "tokenizer/json_util.h"

namespace radix::tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(std::string* text) const = 0;
};

// Parses a "normalizer" value; null gives nullptr (no normalization). An unknown type is
// an Unimplemented error naming it.
Result<std::unique_ptr<Normalizer>> parse_normalizer(const Json& j);

}  // namespace radix::tok
