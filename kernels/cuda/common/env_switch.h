// EnvSwitch: a process-wide on/off switch for a kernel variant, read from the
// environment once (on when NAME equals on_value at first use, or, DefaultOn, unless it
// equals off_value); the setter overrides it (benchmarks and tests compare both).
// RADIX_PDL, RADIX_CARVEOUT, RADIX_GEMV; RADIX_DECODE_PDL and RADIX_DECODE_CHAIN_EVICT_FIRST
// (default on).
// env_int: a numeric kernel setting from the environment (RADIX_GEMV_MMA_MIN_ROWS, ...).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace radix::cuda {

// NAME's value as an integer in [lo, hi]; `fallback` when unset, not a whole integer, or
// out of range.
inline int64_t env_int(const char* name, int64_t lo, int64_t hi, int64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long long x = std::strtoll(v, &end, 10);
  return *end == '\0' && x >= lo && x <= hi ? static_cast<int64_t>(x) : fallback;
}

class EnvSwitch {
 public:
  EnvSwitch(const char* name, const char* on_value) {
    const char* v = std::getenv(name);
    on_.store(v != nullptr && std::string(v) == on_value, std::memory_order_relaxed);
  }
  // A switch that is on unless NAME equals off_value (a default-on kernel variant).
  struct DefaultOn {};
  EnvSwitch(const char* name, const char* off_value, DefaultOn) {
    const char* v = std::getenv(name);
    on_.store(v == nullptr || std::string(v) != off_value, std::memory_order_relaxed);
  }
  bool get() const { return on_.load(std::memory_order_relaxed); }
  void set(bool on) { on_.store(on, std::memory_order_relaxed); }

 private:
  std::atomic<bool> on_{false};
};

}  // namespace radix::cuda
