#include "bench/stream_parser.h"

#include <nlohmann/json.hpp>

namespace radix::bench {

using nlohmann::json;

void SseParser::feed(std::string_view bytes, std::vector<std::string>* events) {
  for (char c : bytes) {
    if (skip_lf_) {
      skip_lf_ = false;
      if (c == '\n') continue;  // the \n of a \r\n split across pieces
    }
    if (c == '\r' || c == '\n') {
      take_line(line_, events);
      line_.clear();
      skip_lf_ = c == '\r';
    } else {
      line_.push_back(c);
    }
  }
}

void SseParser::finish(std::vector<std::string>* events) {
  if (!line_.empty()) take_line(line_, events);
  line_.clear();
  take_line("", events);
}

void SseParser::take_line(std::string_view line, std::vector<std::string>* events) {
  if (line.empty()) {  // end of an event
    if (has_data_) events->push_back(std::move(data_));
    data_.clear();
    has_data_ = false;
    return;
  }
  if (line.front() == ':') return;  // comment
  const size_t colon = line.find(':');
  const std::string_view field = line.substr(0, colon);
  if (field != "data") return;
  std::string_view value =
      colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (has_data_) data_.push_back('\n');
  data_.append(value);
  has_data_ = true;
}

namespace {

// choices[0] of an OpenAI chunk, or null when the chunk has none (the usage chunk).
const json* first_choice(const json& chunk) {
  auto it = chunk.find("choices");
  if (it == chunk.end() || !it->is_array() || it->empty() || !(*it)[0].is_object()) return nullptr;
  return &(*it)[0];
}

bool has_finish_reason(const json& object) {
  auto it = object.find("finish_reason");
  return it != object.end() && !it->is_null();
}

std::string error_message(const json& error) {
  if (error.is_object() && error.contains("message") && error["message"].is_string()) {
    return error["message"].get<std::string>();
  }
  return error.dump();
}

}  // namespace

void StreamRecorder::on_output(double t, int new_tokens) {
  if (!got_output_) {
    got_output_ = true;
    ttft_ = t;
  } else {
    // SGLang spreads a chunk that carries several tokens evenly over them.
    const double gap = (t - last_token_t_) / new_tokens;
    for (int i = 0; i < new_tokens; ++i) itl_.push_back(gap);
  }
  last_token_t_ = t;
}

void StreamRecorder::on_event(std::string_view data, double t) {
  last_event_t_ = t;
  if (!error_.empty()) return;
  if (data == "[DONE]") {
    done_ = true;
    return;
  }
  json chunk = json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (chunk.is_discarded() || !chunk.is_object()) {
    error_ = "malformed stream chunk: " + std::string(data.substr(0, 200));
    return;
  }
  if (auto it = chunk.find("error"); it != chunk.end() && !it->is_null()) {
    error_ = "error event: " + error_message(*it);
    return;
  }
  if (format_ == StreamFormat::kGenerate) {
    const json* meta = chunk.contains("meta_info") && chunk["meta_info"].is_object()
                           ? &chunk["meta_info"]
                           : nullptr;
    std::string text = chunk.contains("text") && chunk["text"].is_string()
                           ? chunk["text"].get<std::string>()
                           : text_;
    int new_tokens = 0;
    if (meta && meta->contains("prompt_tokens") && (*meta)["prompt_tokens"].is_number_integer()) {
      prompt_tokens_ = (*meta)["prompt_tokens"].get<int>();
    }
    if (meta && meta->contains("completion_tokens") &&
        (*meta)["completion_tokens"].is_number_integer()) {
      const int count = (*meta)["completion_tokens"].get<int>();
      new_tokens = count - completion_tokens_;
      completion_tokens_ = count;
      server_count_ = true;
    } else if (text.size() > text_.size()) {
      new_tokens = 1;
    }
    text_ = std::move(text);
    if (new_tokens > 0) on_output(t, new_tokens);
    if (meta && has_finish_reason(*meta)) done_ = true;
    return;
  }
  if (auto it = chunk.find("usage"); it != chunk.end() && it->is_object()) {
    if (auto pt = it->find("prompt_tokens"); pt != it->end() && pt->is_number_integer()) {
      prompt_tokens_ = pt->get<int>();
    }
    auto ct = it->find("completion_tokens");
    if (ct != it->end() && ct->is_number_integer()) {
      completion_tokens_ = ct->get<int>();
      server_count_ = true;
    }
  }
  const json* choice = first_choice(chunk);
  if (!choice) return;
  const json* piece = nullptr;
  if (format_ == StreamFormat::kCompletions) {
    if (choice->contains("text")) piece = &(*choice)["text"];
  } else if (auto d = choice->find("delta");
             d != choice->end() && d->is_object() && d->contains("content")) {
    piece = &(*d)["content"];
  }
  if (piece && piece->is_string() && !piece->get_ref<const std::string&>().empty()) {
    text_ += piece->get_ref<const std::string&>();
    on_output(t, 1);
  }
  if (has_finish_reason(*choice)) done_ = true;
}

void StreamRecorder::finish(double t, RequestOutput* out) {
  if (error_.empty() && !done_) error_ = "the stream ended before [DONE] or a finish_reason";
  out->success = error_.empty();
  out->error = error_;
  out->generated_text = text_;
  out->latency = last_event_t_ > 0 ? last_event_t_ : t;
  // No output chunk at all (e.g. an immediate EOS): the first token is the last event.
  out->ttft = got_output_ ? ttft_ : out->latency;
  out->itl = itl_;
  out->output_len = server_count_ ? completion_tokens_ : 0;
  out->output_len_from_server = server_count_;
  out->server_prompt_tokens = prompt_tokens_;
}

}  // namespace radix::bench
