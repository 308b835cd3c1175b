// A fresh random source per test run for the CPU op tests: the seed comes from
// std::random_device and is printed with every failure (SCOPED_TRACE) so a failing draw
// can be replayed.
#pragma once

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace radix::testing {

class TestRng {
 public:
  TestRng()
      : seed_(std::random_device{}()),
        gen_(seed_),
        trace_(__FILE__, __LINE__, "seed " + std::to_string(seed_)) {}
  float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(gen_); }
  int pick(int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(gen_);
  }  // inclusive

 private:
  unsigned seed_;
  std::mt19937 gen_;
  ::testing::ScopedTrace trace_;
};

}  // namespace radix::testing
