// Client side of a streamed completion: SseParser turns the bytes of an HTTP body, in
// whatever pieces the socket delivers them, into server-sent events; StreamRecorder
// turns those events into one request's timings (TTFT, ITL, latency) and text, for
// the three wire formats `radix bench serving` speaks: SGLang's native /generate
// (cumulative text + meta_info.completion_tokens), /v1/completions (choices[0].text
// deltas) and /v1/chat/completions (choices[0].delta.content).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "bench/serving_metrics.h"

namespace radix::bench {

// Server-sent events framing (the WHATWG EventSource rules a client needs): lines end
// with \n, \r\n or \r; an empty line ends an event; its `data:` fields (one optional
// space after the colon dropped) are joined with \n; other fields and `:` comments are
// ignored.
class SseParser {
 public:
  // Appends to *events the data of every event completed by `bytes`.
  void feed(std::string_view bytes, std::vector<std::string>* events);
  // End of body: an event not closed by an empty line still counts.
  void finish(std::vector<std::string>* events);

 private:
  void take_line(std::string_view line, std::vector<std::string>* events);

  std::string line_;  // the unfinished line
  std::string data_;  // data of the event being read
  bool has_data_ = false;
  bool skip_lf_ = false;  // the previous piece ended with \r
};

enum class StreamFormat { kGenerate, kCompletions, kChatCompletions };

class StreamRecorder {
 public:
  explicit StreamRecorder(StreamFormat format) : format_(format) {}

  // One event's data received `t` seconds after the request was sent.
  void on_event(std::string_view data, double t);
  // The body ended at `t`: fills *out (success unless an error event, malformed JSON
  // or no [DONE]/finish was seen; prompt_len is left to the caller).
  void finish(double t, RequestOutput* out);

  bool failed() const { return !error_.empty(); }

 private:
  void on_output(double t, int new_tokens);

  StreamFormat format_;
  std::string text_;
  std::string error_;
  double ttft_ = 0;
  double last_token_t_ = 0;
  double last_event_t_ = 0;
  bool got_output_ = false;
  bool done_ = false;  // [DONE] or a finish_reason seen
  std::vector<double> itl_;
  int completion_tokens_ = 0;  // as reported by the server (usage / meta_info)
  bool server_count_ = false;
  int prompt_tokens_ = -1;
};

}  // namespace radix::bench
