// Helpers every route handler uses: the per-call context, JSON replies and errors, the
// readiness / model / context-length checks, and the two ways a generation is answered
// (wait for the whole result, or stream it as SSE) — both abort the engine request when
// the client goes away.
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/api_error.h"
#include "server/generation.h"
#include "server/serving_state.h"
#include "server/sse.h"

namespace radix::server {

// One HTTP request being handled.
struct Call {
  ServingState& state;
  const httplib::Request& req;
  httplib::Response& res;
  std::string rid;   // X-Request-Id when sent, else generated; echoed in the response
  std::string body;  // the request body (POST)
  Generation::Clock::time_point arrival;
};

void reply_json(httplib::Response& res, int status, const nlohmann::json& body);
void reply_error(Call& call, const ApiError& error);

// The body parsed as JSON; replies 400 and returns nullopt when it is not.
std::optional<nlohmann::json> parse_json_body(Call& call);

// Replies 503 and returns false while loading or draining.
bool check_serving(Call& call);
// Replies 404 and returns false when `model` is set and is not the served model.
bool check_model(Call& call, const std::string& model);

// Fits max_new_tokens into the context window: an explicit value that does not fit is a
// 400 (as OpenAI answers), a default one is clamped to the room left.
std::optional<ApiError> fit_context(const ServingState& state, size_t prompt_len,
                                    bool max_tokens_set, SamplingParams* params);

// Submits, replying with the mapped error on failure (nullptr then).
// `param_prefix`: where the sampling fields sit in the request ("sampling_params." on
// /generate), for the param of an error the engine's own check finds.
std::unique_ptr<Generation> start_generation(Call& call, std::vector<PreparedPrompt> prompts,
                                             const std::string& param_prefix = "");

// Waits until every choice finished; false (after aborting) when the client left.
bool wait_for_completion(Call& call, Generation& gen);

// Callbacks of a streamed answer; each writes events through the writer.
struct StreamHooks {
  // New output of some choices.
  std::function<void(const std::vector<ChoiceUpdate>&, const Generation&, SseWriter&)> on_updates;
  // After every choice finished without error, before [DONE] (usage chunk).
  std::function<void(const Generation&, SseWriter&)> on_finish;
};

// Answers as text/event-stream: polls the generation on the connection's thread and
// writes events until [DONE]; an engine error becomes an error event before [DONE].
void stream_generation(Call& call, std::unique_ptr<Generation> gen, StreamHooks hooks);

// A fresh request id (32 hex digits).
std::string new_request_id();
int64_t unix_time_now();

}  // namespace radix::server
