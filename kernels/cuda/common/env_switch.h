// EnvSwitch: a process-wide on/off switch for a kernel variant, read from the
// environment once (on when NAME equals on_value at first use); the setter overrides
// it (benchmarks and tests compare both). RADIX_PDL, RADIX_CARVEOUT, RADIX_GEMV.
#pragma once

#include <atomic>
#include <cstdlib>
#include <string>

namespace radix::cuda {

class EnvSwitch {
 public:
  EnvSwitch(const char* name, const char* on_value) {
    const char* v = std::getenv(name);
    on_.store(v != nullptr && std::string(v) == on_value, std::memory_order_relaxed);
  }
  bool get() const { return on_.load(std::memory_order_relaxed); }
  void set(bool on) { on_.store(on, std::memory_order_relaxed); }

 private:
  std::atomic<bool> on_{false};
};

}  // namespace radix::cuda
