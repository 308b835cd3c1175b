#include "core/dtype.h"

#include <gtest/gtest.h>

#include <cmath>

namespace radix {
namespace {

TEST(DType, Bf16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  // 1 + 2^-8 is exactly halfway between bf16 1.0 and 1.0078125: ties to even (1.0).
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  // 1 + 3*2^-8 is halfway between 1.0078125 (odd mantissa) and 1.015625: rounds up.
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_FLOAT_EQ(bf16_to_f32(0xc040), -3.0f);
}

TEST(DType, F16RoundTripsEveryFiniteValue) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint16_t v = static_cast<uint16_t>(h);
    if ((v & 0x7c00) == 0x7c00) continue;  // inf/nan
    EXPECT_EQ(f32_to_f16(f16_to_f32(v)), v) << std::hex << h;
  }
  EXPECT_FLOAT_EQ(f16_to_f32(f32_to_f16(65504.0f)), 65504.0f);
  EXPECT_TRUE(std::isinf(f16_to_f32(f32_to_f16(1e6f))));
  EXPECT_FLOAT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
}

TEST(DType, Fp8RoundTripsAndSaturates) {
  for (int c = 0; c < 256; ++c) {
    const uint8_t v = static_cast<uint8_t>(c);
    if ((v & 0x7f) != 0x7f) {
      EXPECT_EQ(f32_to_f8e4m3(f8e4m3_to_f32(v)) & 0x7f, v & 0x7f) << c;
    }
    if (((v >> 2) & 0x1f) != 0x1f) {
      EXPECT_EQ(f32_to_f8e5m2(f8e5m2_to_f32(v)) & 0x7f, v & 0x7f) << c;
    }
  }
  EXPECT_FLOAT_EQ(f8e4m3_to_f32(f32_to_f8e4m3(1000.0f)), 448.0f);
  EXPECT_FLOAT_EQ(f8e4m3_to_f32(f32_to_f8e4m3(-1000.0f)), -448.0f);
  EXPECT_FLOAT_EQ(f8e5m2_to_f32(f32_to_f8e5m2(1e9f)), 57344.0f);
  EXPECT_FLOAT_EQ(f8e4m3_to_f32(f32_to_f8e4m3(0.3f)), 0.3125f);
}

TEST(DType, ParsesSafetensorsNames) {
  EXPECT_EQ(parse_dtype("BF16").value(), DType::kBF16);
  EXPECT_EQ(parse_dtype("F8_E4M3").value(), DType::kF8E4M3);
  EXPECT_EQ(parse_dtype("I64").value(), DType::kI64);
  EXPECT_FALSE(parse_dtype("Q4_K").is_ok());
}

}  // namespace
}  // namespace radix
