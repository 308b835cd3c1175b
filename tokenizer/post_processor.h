// Post-processors: the last encoding stage, adding special tokens such as BOS around the
// model's ids when encode() is asked to (tokenizer.json "post_processor":
// TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "tokenizer/json_util.h"

namespace radix::tok {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual void process(std::vector<int32_t>* ids, bool add_special_tokens) const = 0;
};

// Parses a "post_processor" value; null gives nullptr (ids are left as they are).
Result<std::unique_ptr<PostProcessor>> parse_post_processor(const Json& j);

// A template "prefix $A suffix" made of literal ids, as transformers builds for
// Llama/Gemma tokenizers from add_bos_token / add_eos_token.
std::unique_ptr<PostProcessor> make_template_processor(std::vector<int32_t> prefix,
                                                       std::vector<int32_t> suffix);

}  // namespace radix::tok
