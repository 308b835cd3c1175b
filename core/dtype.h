// Element types and host-side conversions between them. Conversions are exact
// (round-to-nearest-even) so the CPU backend can serve as the oracle for CUDA ops.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/status.h"

namespace radix {

enum class DType : uint8_t { kF32, kF16, kBF16, kF8E4M3, kF8E5M2, kI32, kI64, kU8 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "f32", "bf16", "f8_e4m3", ...
// Accepts our names and the safetensors names ("F32", "BF16", "F8_E4M3", "I64", ...).
Result<DType> parse_dtype(const std::string& name);
bool is_float(DType dtype);

// --- scalar conversions (host) ---
inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline float bf16_to_f32(uint16_t h) { return bits_f32(static_cast<uint32_t>(h) << 16); }
inline uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
  return static_cast<uint16_t>(u >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
// FP8 (OCP): e4m3fn has no infinities, max 448; e5m2 is IEEE-like, max 57344.
float f8e4m3_to_f32(uint8_t v);
uint8_t f32_to_f8e4m3(float f);  // saturating
float f8e5m2_to_f32(uint8_t v);
uint8_t f32_to_f8e5m2(float f);  // saturating

// Reads element i of a contiguous buffer of `dtype` as float (float types only).
float load_as_f32(const void* data, DType dtype, size_t i);
// Writes f to element i of a contiguous buffer of `dtype` (float types only).
void store_from_f32(void* data, DType dtype, size_t i, float f);

}  // namespace radix
