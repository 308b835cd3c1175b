// Route helpers (see route_support.h).
#include "server/route_support.h"

#include <atomic>
#include <map>
#include <random>

#include "core/logging.h"
#include "server/http_transport.h"
#include "server/json_fields.h"

namespace radix::server {

void reply_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(dump_json(body), "application/json");
}

void reply_error(Call& call, const ApiError& error) {
  call.state.metrics.count_error(error.http_status);
  if (error.http_status >= 500) {
    RADIX_LOG_WARN("request {}: {} {}", call.rid, error.http_status, error.message);
  } else {
    RADIX_LOG_DEBUG("request {}: {} {}", call.rid, error.http_status, error.message);
  }
  reply_json(call.res, error.http_status, error.to_json());
  call.res.set_header("Connection", "close");
  HttpTransport::close_after_response();
}

std::optional<nlohmann::json> parse_json_body(Call& call) {
  if (call.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    reply_error(call, bad_request("The request body is empty: send a JSON object."));
    return std::nullopt;
  }
  if (json_nesting_depth(call.body) > kMaxJsonDepth) {
    reply_error(call, bad_request("The request body nests arrays/objects deeper than " +
                                  std::to_string(kMaxJsonDepth) + " levels."));
    return std::nullopt;
  }
  auto body = nlohmann::json::parse(call.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    reply_error(call, bad_request("The request body is not valid JSON (or not valid UTF-8)."));
    return std::nullopt;
  }
  return body;
}

bool check_serving(Call& call) {
  if (call.state.draining.load()) {
    reply_error(call, api_error_from(unavailable("The server is shutting down.")));
    return false;
  }
  if (!call.state.ready.load()) {
    reply_error(call, not_ready());
    return false;
  }
  return true;
}

bool check_model(Call& call, const std::string& model) {
  if (model.empty() || model == call.state.model_name ||
      (call.state.engine && model == call.state.engine->model_info().model_path)) {
    return true;
  }
  reply_error(call, model_not_found(model));
  return false;
}

std::optional<ApiError> fit_context(const ServingState& state, size_t prompt_len,
                                    bool max_tokens_set, SamplingParams* params) {
  const int64_t context = state.context_length();
  if (context <= 0) return std::nullopt;  // the engine decides
  if (static_cast<int64_t>(prompt_len) >= context) {
    return api_error_from(out_of_range("This model's maximum context length is " +
                                       std::to_string(context) + " tokens, but the prompt has " +
                                       std::to_string(prompt_len) + " tokens."));
  }
  const int64_t room = context - static_cast<int64_t>(prompt_len);
  if (params->max_new_tokens > room) {
    if (max_tokens_set) {
      return api_error_from(
          out_of_range("This model's maximum context length is " + std::to_string(context) +
                       " tokens. However, you requested " +
                       std::to_string(prompt_len + params->max_new_tokens) + " tokens (" +
                       std::to_string(prompt_len) + " in the prompt, " +
                       std::to_string(params->max_new_tokens) + " for the completion)."),
          "max_tokens");
    }
    params->max_new_tokens = static_cast<int>(room);
  }
  params->min_new_tokens = std::min(params->min_new_tokens, params->max_new_tokens);
  return std::nullopt;
}

namespace {

// SamplingParams::validate names the field first ("top_p must be ..."); where the request
// field has that name, the error's param names it.
std::string validated_param(const Status& st, const std::string& prefix) {
  static constexpr const char* kSameName[] = {"temperature",       "top_p",           "top_k",
                                              "min_p",             "frequency_penalty", "presence_penalty",
                                              "repetition_penalty", "n",              "stop_token_ids"};
  const std::string& m = st.message();
  const std::string head = m.substr(0, m.find(' '));
  for (const char* k : kSameName) {
    if (head == k) return prefix + head;
  }
  return {};
}

// The request parsers read nlohmann::json, whose objects keep their keys sorted; a JSON
// schema's property order is the order its output must follow (as outlines and SGLang
// do), so a schema sent as an object is found again in the body, parsed keeping order:
// the value of a "json_schema", "schema" or "guided_json" key equal to the parsed one.
void restore_schema_order(const std::string& body, constrained::Constraint* c) {
  const auto ordered = nlohmann::ordered_json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (ordered.is_discarded()) return;
  const auto want = nlohmann::json::parse(c->spec, nullptr, false);
  std::vector<const nlohmann::ordered_json*> stack = {&ordered};
  while (!stack.empty()) {
    const nlohmann::ordered_json* v = stack.back();
    stack.pop_back();
    if (v->is_array()) {
      for (const auto& e : *v) stack.push_back(&e);
    } else if (v->is_object()) {
      for (const auto& [k, e] : v->items()) {
        if ((k == "json_schema" || k == "schema" || k == "guided_json") && e.is_object() &&
            nlohmann::json::parse(e.dump()) == want) {
          c->spec = e.dump();
          return;
        }
        stack.push_back(&e);
      }
    }
  }
}

}  // namespace

std::unique_ptr<Generation> start_generation(Call& call, std::vector<PreparedPrompt> prompts,
                                             const std::string& param_prefix) {
  // Structured output: compile (or find) the grammar; a bad regex or schema is a 400
  // naming the field.
  std::map<std::string, std::string> restored;  // a batch's prompts share their schemas: one search each
  for (auto& p : prompts) {
    if (!p.params.constraint.active() || p.params.grammar) continue;
    if (p.params.constraint.from_object) {
      auto [it, fresh] = restored.try_emplace(p.params.constraint.spec);
      if (fresh) {
        restore_schema_order(call.body, &p.params.constraint);
        it->second = p.params.constraint.spec;
      } else {
        p.params.constraint.spec = it->second;
      }
      p.params.constraint.from_object = false;
    }
    if (p.params.constraint.spec.size() > (size_t{1} << 20)) {
      reply_error(call, bad_request("'" + p.params.constraint.param + "' is longer than 1048576 bytes.",
                                    p.params.constraint.param));
      return nullptr;
    }
    auto g = call.state.grammars().get(p.params.constraint);
    if (!g.is_ok()) {
      reply_error(call, g.status().code() == StatusCode::kInvalidArgument
                            ? bad_request(g.status().message(), p.params.constraint.param)
                            : api_error_from(g.status()));
      return nullptr;
    }
    p.params.grammar = std::move(g).value();
    // The compiled grammar is what the engine uses; the text (up to 1 MB) need not be
    // copied into every choice's params.
    p.params.constraint.spec = std::string();
  }
  for (const auto& p : prompts) {
    Status st = p.params.validate(call.state.vocab_size());
    if (!st.is_ok()) {
      const std::string param =
          st.code() == StatusCode::kInvalidArgument ? validated_param(st, param_prefix) : std::string();
      reply_error(call, param.empty() ? api_error_from(st) : bad_request(st.message(), param));
      return nullptr;
    }
  }
  // The engine keys requests and aborts by id, but clients may send the same X-Request-Id
  // (or SGLang rid) on concurrent requests: each submission gets its own engine id, the
  // client's id plus "#<n>" with n counting submissions (so no two are equal), and one
  // client leaving cannot abort another's generation.
  for (auto& p : prompts) {
    p.engine_rid = p.rid + "#" + std::to_string(call.state.submissions.fetch_add(1));
  }
  call.state.metrics.count_request();
  auto gen = Generation::start(*call.state.engine, call.state.tokenizer, std::move(prompts),
                               &call.state.metrics, call.arrival);
  if (!gen.is_ok()) {
    reply_error(call, api_error_from(gen.status()));
    return nullptr;
  }
  return std::move(gen).value();
}

bool wait_for_completion(Call& call, Generation& gen) {
  // The transport wakes the poll when the client leaves; the timed check is the fallback
  // for a connection it cannot watch, and covers a client that leaves mid-flow.
  auto watch = HttpTransport::watch_client([wake = gen.wake()] { wake->notify(); });
  std::vector<ChoiceUpdate> updates;
  auto last_check = Generation::Clock::now();
  const auto interval = call.state.options.poll_interval;
  while (!gen.finished()) {
    updates.clear();
    gen.poll(interval, &updates);
    auto now = Generation::Clock::now();
    if (gen.finished()) break;
    if (updates.empty() || now - last_check >= interval) {
      last_check = now;
      if (!HttpTransport::client_connected()) {
        RADIX_LOG_INFO("request {}: client disconnected; aborting", call.rid);
        gen.abort();
        return false;
      }
    }
  }
  return true;
}

namespace {

struct StreamState {
  ServingState* state = nullptr;
  std::string rid;
  std::unique_ptr<Generation> gen;
  StreamHooks hooks;
  std::chrono::milliseconds interval;
  bool done = false;
  std::unique_ptr<InFlightGuard> in_flight;
  HttpTransport::ClientWatch watch;  // wakes gen's poll when the client leaves
};

}  // namespace

void stream_generation(Call& call, std::unique_ptr<Generation> gen, StreamHooks hooks) {
  auto st = std::make_shared<StreamState>();
  st->state = &call.state;
  st->rid = call.rid;
  st->gen = std::move(gen);
  st->hooks = std::move(hooks);
  st->interval = call.state.options.poll_interval;
  st->in_flight = std::make_unique<InFlightGuard>(call.state);
  st->watch = HttpTransport::watch_client([wake = st->gen->wake()] { wake->notify(); });
  call.res.status = 200;
  call.res.set_header("Cache-Control", "no-cache");
  call.res.set_header("X-Accel-Buffering", "no");
  call.res.set_chunked_content_provider(
      "text/event-stream",
      [st](size_t /*offset*/, httplib::DataSink& sink) {
        if (st->done) return false;
        SseWriter writer([&sink](const std::string& s) { return sink.write(s.data(), s.size()); });
        std::vector<ChoiceUpdate> updates;
        st->gen->poll(st->interval, &updates);
        bool client_gone = false;
        if (!updates.empty()) {
          st->hooks.on_updates(updates, *st->gen, writer);
        } else if (!st->gen->finished()) {
          client_gone = !sink.is_writable();  // nothing to write: probe the connection
        }
        if (client_gone || !writer.ok()) {
          RADIX_LOG_INFO("request {}: client disconnected; aborting", st->rid);
          st->gen->abort();
          st->done = true;
          return false;
        }
        if (st->gen->finished()) {
          if (!st->gen->error().is_ok()) {
            writer.error(api_error_from(st->gen->error()));
            st->state->metrics.count_error(500);
          } else if (st->hooks.on_finish) {
            st->hooks.on_finish(*st->gen, writer);
          }
          writer.done();
          st->done = true;
          sink.done();
        }
        return true;
      },
      [st](bool /*success*/) {
        st->gen->abort();  // no-op when finished
        st->in_flight.reset();
        st->watch.reset();
      });
}

std::string new_request_id() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng(std::random_device{}() ^
                                   (counter.fetch_add(1) * 0x9E3779B97F4A7C15ull));
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

int64_t unix_time_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace radix::server
