// FakeEngine: an Engine that emits scripted events, so the HTTP layer can be tested
// without a model. Each choice outputs `script` tokens one event at a time (cycling
// through them) until max_new_tokens, an eos id in `eos`, or abort. Knobs make it slow,
// make submit fail, or make the engine report an error mid-stream; it records what it
// was asked and how often it was aborted. As the real engine does, an abort reaches every
// live request with the handle's rid.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/engine.h"

namespace radix::server::testing {

class FakeHandle;

struct FakeScript {
  std::vector<int32_t> tokens = {10, 11, 12, 13};
  int32_t eos = -1;  // emit this id and stop after `eos_after`
  int eos_after = -1;
  std::chrono::milliseconds token_delay{0};  // between tokens
  Status submit_error;                       // returned by submit when set
  int error_after = -1;                      // tokens before an engine error event
  bool hang = false;                         // never emits (until aborted)
  int cached_tokens = 0;
};

class FakeEngine : public Engine {
 public:
  FakeEngine() {
    info_.model_path = "models/fake";
    info_.architecture = "FakeForCausalLM";
    info_.context_length = 256;
    info_.vocab_size = 4096;
  }

  FakeScript script;  // set before requests arrive

  Result<std::shared_ptr<RequestHandle>> submit(GenerateInput input) override;
  EngineStats stats() const override {
    EngineStats s;
    s.num_running = running_.load();
    s.kv_total_slots = 1000;
    s.prompt_tokens_total = prompt_tokens_.load();
    return s;
  }
  const ModelInfo& model_info() const override { return info_; }
  bool flush_cache() override { return running_.load() == 0; }
  Status check_kv_invariants() override { return Status::ok(); }
  void shutdown(std::chrono::milliseconds) override {}

  ModelInfo& info() { return info_; }
  std::vector<GenerateInput> submitted() {
    std::lock_guard<std::mutex> l(mu_);
    return submitted_;
  }
  int aborts() const { return aborts_.load(); }
  int choice_aborts() const { return choice_aborts_.load(); }  // abort_choice calls
  // Requests whose scripted output has not ended yet.
  int running() const { return running_.load(); }
  // Blocks until `n` requests have been aborted (false after ~10 s: the test fails).
  bool wait_for_aborts(int n);

 private:
  friend class FakeHandle;
  void abort_rid(const std::string& rid);  // aborts every live handle with this rid

  ModelInfo info_;
  std::vector<FakeHandle*> live_;  // guarded by mu_
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<GenerateInput> submitted_;
  std::atomic<int> aborts_{0};
  std::atomic<int> choice_aborts_{0};
  std::atomic<int> running_{0};
  std::atomic<int64_t> prompt_tokens_{0};
};

}  // namespace radix::server::testing
