// OutputProcessor: engine token events -> text deltas on the caller's thread (see
// output_processor.h). Stop strings are matched on decoded text; any suffix of the text
// that could still grow into a stop string is held back until the next token decides.
#include "runtime/output_processor.h"

#include <algorithm>

namespace radix {
namespace {

constexpr size_t kNone = std::string::npos;

struct StopMatch {
  size_t pos = kNone;  // byte offset of the earliest stop string in the text
  size_t which = 0;    // index into the stop strings
};

StopMatch find_stop(const std::string& text, const std::vector<std::string>& stops) {
  StopMatch best;
  for (size_t i = 0; i < stops.size(); ++i) {
    const size_t p = text.find(stops[i]);
    if (p != kNone && p < best.pos) best = {p, i};
  }
  return best;
}

// Length of the longest suffix of `text` that is a proper prefix of some stop string:
// those bytes may become a stop string with the next token, so they are not emitted yet.
size_t stop_prefix_suffix(const std::string& text, const std::vector<std::string>& stops) {
  size_t best = 0;
  for (const std::string& s : stops) {
    for (size_t len = std::min(s.size() - 1, text.size()); len > best; --len) {
      if (text.compare(text.size() - len, len, s, 0, len) == 0) {
        best = len;
        break;
      }
    }
  }
  return best;
}

// Moves `cut` back to the start of the UTF-8 sequence it falls into, so the text before
// it never ends in half a character.
size_t utf8_boundary(const std::string& s, size_t cut) {
  while (cut > 0 && cut < s.size() && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return cut;
}

}  // namespace

OutputProcessor::OutputProcessor(std::shared_ptr<const Tokenizer> tokenizer,
                                 const SamplingParams& params, std::span<const int32_t> prompt_ids)
    : tokenizer_(std::move(tokenizer)),
      params_(params),
      detok_(std::make_unique<IncrementalDetokenizer>(tokenizer_, params.skip_special_tokens,
                                                      prompt_ids)) {}

TextDelta OutputProcessor::process(const RequestEvent& event) {
  TextDelta delta;
  if (done_) {
    delta.finished = true;
    delta.finish_reason = finish_reason_;
    return delta;
  }
  auto emit = [&](size_t len) {
    delta.text.append(pending_, 0, len);
    text_.append(pending_, 0, len);
    pending_.erase(0, len);
  };
  auto finish = [&](FinishReason reason) {
    done_ = true;
    finish_reason_ = reason;
    delta.finished = true;
    delta.finish_reason = reason;
  };
  // A stop string in pending_: emit the text before it, drop the rest, finish.
  auto try_stop = [&]() {
    if (params_.stop.empty()) return false;
    const StopMatch m = find_stop(pending_, params_.stop);
    if (m.pos == kNone) return false;
    emit(m.pos);
    pending_.clear();
    delta.matched_stop = params_.stop[m.which];
    finish(FinishReason::kStop);
    return true;
  };

  const size_t n = event.token_ids.size();
  const bool per_token_logprobs = event.logprobs.size() == n;
  if (!per_token_logprobs) delta.logprobs = event.logprobs;
  for (size_t i = 0; i < n; ++i) {
    const int32_t id = event.token_ids[i];
    delta.token_ids.push_back(id);
    if (per_token_logprobs) delta.logprobs.push_back(event.logprobs[i]);
    // The eos / stop token that ended the request is not part of the text (SGLang trims
    // it the same way).
    const bool ends_request = event.finished && i + 1 == n && event.matched_stop_token >= 0 &&
                              id == event.matched_stop_token;
    if (!ends_request) pending_ += detok_->step(id);
    if (try_stop()) return delta;  // tokens after the stop string are dropped
  }

  if (event.finished) {
    pending_ += detok_->flush();
    if (try_stop()) return delta;
    emit(pending_.size());
    delta.matched_stop_token = event.matched_stop_token;
    finish(event.finish_reason);
    return delta;
  }
  const size_t hold = stop_prefix_suffix(pending_, params_.stop);
  emit(utf8_boundary(pending_, pending_.size() - hold));
  return delta;
}

}  // namespace radix
