// Streaming detokenizer (see tokenizer.h). Each step decodes a short window of ids twice
// -- up to the text already emitted, and up to the new id -- and emits the difference
// once the new text no longer ends in U+FFFD (an unfinished character). Window starts
// only ever sit where the emitted text ended on a whole character, so the pieces add up
// to the full decode. With a ByteFallback decoder a run of <0xXX> tokens decodes as a
// whole (an invalid run becomes one U+FFFD per byte), so text is held while the newest
// id is a byte token.
#include <algorithm>

#include "tokenizer/tokenizer.h"

namespace radix {
namespace {

constexpr size_t kPromptContextTokens = 5;  // as SGLang's incremental detokenization
constexpr size_t kCompactAfter = 256;       // drop consumed ids past this many

bool ends_with_replacement(const std::string& s) {
  return s.size() >= 3 && s.compare(s.size() - 3, 3, "\xEF\xBF\xBD") == 0;
}

}  // namespace

IncrementalDetokenizer::IncrementalDetokenizer(std::shared_ptr<const Tokenizer> tok,
                                               bool skip_special_tokens,
                                               std::span<const int32_t> prompt_ids)
    : tok_(std::move(tok)), skip_special_(skip_special_tokens) {
  // Skipped special ids decode to nothing, so they are dropped from the context too.
  for (auto it = prompt_ids.rbegin(); it != prompt_ids.rend(); ++it) {
    if (ids_.size() == kPromptContextTokens) break;
    if (skip_special_ && tok_->is_special(*it)) continue;
    ids_.push_back(*it);
  }
  std::reverse(ids_.begin(), ids_.end());
  read_ = ids_.size();
}

std::string IncrementalDetokenizer::decode_range(size_t begin, size_t end) const {
  return tok_->decode(std::span<const int32_t>(ids_.data() + begin, end - begin), skip_special_);
}

std::string IncrementalDetokenizer::step(int32_t id) {
  if (skip_special_ && tok_->is_special(id)) return "";
  ids_.push_back(id);
  if (tok_->is_byte_fallback_token(id)) return "";
  const std::string before = decode_range(prefix_, read_);
  const std::string after = decode_range(prefix_, ids_.size());
  if (after.size() <= before.size() || ends_with_replacement(after)) return "";
  std::string piece = after.substr(before.size());
  prefix_ = read_;
  read_ = ids_.size();
  if (prefix_ >= kCompactAfter) {
    ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(prefix_));
    read_ -= prefix_;
    prefix_ = 0;
  }
  return piece;
}

std::string IncrementalDetokenizer::flush() {
  const std::string before = decode_range(prefix_, read_);
  const std::string after = decode_range(prefix_, ids_.size());
  prefix_ = read_;
  read_ = ids_.size();
  return after.size() > before.size() ? after.substr(before.size()) : std::string();
}

}  // namespace radix
