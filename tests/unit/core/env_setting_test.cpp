// Kernel settings read from the environment (kernels/cuda/common/env_switch.h: header-only,
// no CUDA): env_int takes only whole integers in range, else the fallback; EnvSwitch is on
// only for its exact value.
#include <gtest/gtest.h>

#include <cstdlib>

#include "kernels/cuda/common/env_switch.h"

namespace radix::cuda {
namespace {

int64_t with_env(const char* value, int64_t lo, int64_t hi, int64_t fallback) {
  const char* name = "RADIX_TEST_ENV_INT";
  if (value == nullptr) {
    unsetenv(name);
  } else {
    setenv(name, value, 1);
  }
  const int64_t v = env_int(name, lo, hi, fallback);
  unsetenv(name);
  return v;
}

TEST(EnvInt, ParsesWholeIntegersInRange) {
  EXPECT_EQ(with_env("4", 1, 16, 3), 4);
  EXPECT_EQ(with_env("1", 1, 16, 3), 1);
  EXPECT_EQ(with_env("16", 1, 16, 3), 16);
  EXPECT_EQ(with_env("-2", -5, 5, 0), -2);
}

TEST(EnvInt, FallsBackOnUnsetEmptyGarbageOrOutOfRange) {
  EXPECT_EQ(with_env(nullptr, 1, 16, 3), 3);
  EXPECT_EQ(with_env("", 1, 16, 3), 3);
  EXPECT_EQ(with_env("abc", 1, 16, 3), 3);
  EXPECT_EQ(with_env("4x", 1, 16, 3), 3);
  EXPECT_EQ(with_env("0", 1, 16, 3), 3);
  EXPECT_EQ(with_env("17", 1, 16, 3), 3);
  EXPECT_EQ(with_env("99999999999999999999999", 0, int64_t{1} << 20, 0), 0);  // overflows strtoll
}

TEST(EnvSwitchTest, OnOnlyForItsExactValueAndTheSetterOverrides) {
  setenv("RADIX_TEST_SWITCH", "1", 1);
  EnvSwitch on("RADIX_TEST_SWITCH", "1");
  EnvSwitch other("RADIX_TEST_SWITCH", "bulk");
  unsetenv("RADIX_TEST_SWITCH");
  EnvSwitch unset("RADIX_TEST_SWITCH", "1");
  EXPECT_TRUE(on.get());
  EXPECT_FALSE(other.get());
  EXPECT_FALSE(unset.get());
  unset.set(true);
  EXPECT_TRUE(unset.get());
}

TEST(EnvSwitchTest, DefaultOnIsOffOnlyForItsOffValue) {
  setenv("RADIX_TEST_SWITCH", "0", 1);
  EnvSwitch off("RADIX_TEST_SWITCH", "0", EnvSwitch::DefaultOn{});
  setenv("RADIX_TEST_SWITCH", "1", 1);
  EnvSwitch other("RADIX_TEST_SWITCH", "0", EnvSwitch::DefaultOn{});
  unsetenv("RADIX_TEST_SWITCH");
  EnvSwitch unset("RADIX_TEST_SWITCH", "0", EnvSwitch::DefaultOn{});
  EXPECT_FALSE(off.get());
  EXPECT_TRUE(other.get());
  EXPECT_TRUE(unset.get());
  unset.set(false);
  EXPECT_FALSE(unset.get());
}

}  // namespace
}  // namespace radix::cuda
