// Parsing of prompt values (see prompt_input.h).
#include "server/prompt_input.h"

#include "server/json_fields.h"

namespace radix::server {
namespace {

std::optional<ApiError> parse_ids(const nlohmann::json& v, const std::string& param,
                                  std::vector<int32_t>* out) {
  if (v.size() > kMaxPromptTokenIds) {
    return bad_request(
        "'" + param + "' holds more than " + std::to_string(kMaxPromptTokenIds) + " token ids.",
        param);
  }
  out->reserve(v.size());
  for (const auto& e : v) {
    auto id = json_to_int(e, 0, INT32_MAX);
    if (!id) {
      return bad_request(
          "'" + param + "' token ids must be non-negative integers, got " + json_preview(e) + ".",
          param);
    }
    out->push_back(static_cast<int32_t>(*id));
  }
  return std::nullopt;
}

}  // namespace

std::optional<ApiError> parse_prompt_value(const nlohmann::json& v, const std::string& param,
                                           std::vector<PromptInput>* out, bool* batch) {
  out->clear();
  *batch = false;
  if (v.is_string()) {
    out->push_back(PromptInput{true, v.get<std::string>(), {}});
    return std::nullopt;
  }
  const std::string kShape =
      "'" + param +
      "' must be a string, a list of strings, a list of token ids or a list of "
      "lists of token ids.";
  if (!v.is_array()) return bad_request(kShape, param);
  if (v.empty()) return bad_request("'" + param + "' must not be an empty list.", param);
  const auto& first = v.front();
  if (first.is_number()) {  // one prompt of ids
    PromptInput p;
    p.is_text = false;
    if (auto err = parse_ids(v, param, &p.ids)) return err;
    out->push_back(std::move(p));
    return std::nullopt;
  }
  if (v.size() > kMaxBatchPrompts) {
    return bad_request(
        "'" + param + "' holds more than " + std::to_string(kMaxBatchPrompts) + " prompts.", param);
  }
  *batch = true;
  for (const auto& e : v) {
    if (e.is_string()) {
      out->push_back(PromptInput{true, e.get<std::string>(), {}});
    } else if (e.is_array()) {
      PromptInput p;
      p.is_text = false;
      if (e.empty()) return bad_request("'" + param + "' contains an empty token list.", param);
      if (auto err = parse_ids(e, param, &p.ids)) return err;
      out->push_back(std::move(p));
    } else {
      return bad_request(kShape, param);
    }
  }
  return std::nullopt;
}

}  // namespace radix::server
