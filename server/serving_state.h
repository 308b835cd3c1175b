// ServingState: what every route handler shares — options, the engine, tokenizer and chat
// template once loaded, metrics, and the lifecycle flags (/health is 503 until ready;
// generation is refused while draining). Owned by HttpServer.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "runtime/constrained/grammar.h"
#include "runtime/engine.h"
#include "server/metrics.h"
#include "server/server_options.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace radix::server {

struct ServingState {
  ServerOptions options;
  // Set once by HttpServer::attach before `ready` turns true; read-only afterwards.
  std::shared_ptr<Engine> engine;
  std::shared_ptr<const Tokenizer> tokenizer;
  std::shared_ptr<const ChatTemplate> chat_template;  // null: the model has none
  std::string model_name;
  ServerMetrics metrics;
  std::atomic<bool> attached{false};
  std::atomic<bool> ready{false};
  std::atomic<bool> draining{false};
  std::atomic<int> in_flight{0};         // generation requests being served
  std::atomic<uint64_t> submissions{0};  // numbers the engine ids of submitted prompts
  std::chrono::system_clock::time_point started = std::chrono::system_clock::now();

  int context_length() const { return engine ? engine->model_info().context_length : 0; }
  int vocab_size() const { return engine ? engine->model_info().vocab_size : 0; }

  // Structured output's compiled grammars over the tokenizer's vocabulary, built on the
  // first constrained request (sorting a 128K vocabulary by bytes takes a moment).
  constrained::GrammarCache& grammars() {
    std::call_once(grammars_once_, [this] {
      grammars_ = std::make_unique<constrained::GrammarCache>(
          constrained::TokenVocab::from_tokenizer(*tokenizer, vocab_size()));
    });
    return *grammars_;
  }

 private:
  std::once_flag grammars_once_;
  std::unique_ptr<constrained::GrammarCache> grammars_;
};

// Counts a generation request as in flight for its lifetime (drain on shutdown waits).
class InFlightGuard {
 public:
  explicit InFlightGuard(ServingState& s) : s_(s) { s_.in_flight.fetch_add(1); }
  ~InFlightGuard() { s_.in_flight.fetch_sub(1); }
  InFlightGuard(const InFlightGuard&) = delete;
  InFlightGuard& operator=(const InFlightGuard&) = delete;

 private:
  ServingState& s_;
};

}  // namespace radix::server
