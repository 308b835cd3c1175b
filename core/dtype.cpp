#include "core/dtype.h"

#include <cmath>

#include "core/check.h"

namespace radix {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kF32: return 4;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
    case DType::kF8E4M3: return 1;
    case DType::kF8E5M2: return 1;
    case DType::kI32: return 4;
    case DType::kI64: return 8;
    case DType::kU8: return 1;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "f32";
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
    case DType::kF8E4M3: return "f8_e4m3";
    case DType::kF8E5M2: return "f8_e5m2";
    case DType::kI32: return "i32";
    case DType::kI64: return "i64";
    case DType::kU8: return "u8";
  }
  return "?";
}

Result<DType> parse_dtype(const std::string& name) {
  std::string n;
  for (char c : name) n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (n == "f32" || n == "float32" || n == "float") return DType::kF32;
  if (n == "f16" || n == "float16" || n == "half") return DType::kF16;
  if (n == "bf16" || n == "bfloat16") return DType::kBF16;
  if (n == "f8_e4m3" || n == "fp8_e4m3" || n == "float8_e4m3fn") return DType::kF8E4M3;
  if (n == "f8_e5m2" || n == "fp8_e5m2" || n == "float8_e5m2") return DType::kF8E5M2;
  if (n == "i32" || n == "int32") return DType::kI32;
  if (n == "i64" || n == "int64") return DType::kI64;
  if (n == "u8" || n == "uint8") return DType::kU8;
  return invalid_argument("unknown dtype '" + name + "'");
}

bool is_float(DType dtype) {
  switch (dtype) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
    case DType::kF8E4M3:
    case DType::kF8E5M2: return true;
    default: return false;
  }
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    // zero or subnormal: mant * 2^-24
    float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return bits_f32(sign | 0x7f800000u | (mant << 13));
  return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t f32_to_f16(float f) {
  const uint32_t u = f32_bits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;      // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00u;     // overflow (>= 65520) -> inf
  if (abs < 0x38800000u) {                           // subnormal or zero in f16
    // value = abs_f / 2^-24, rounded to nearest even
    const float a = bits_f32(abs);
    const float scaled = a * 16777216.0f;  // 2^24, exact
    const uint32_t m = static_cast<uint32_t>(std::nearbyint(scaled));
    return sign | static_cast<uint16_t>(m);
  }
  uint32_t r = abs + 0xfffu + ((abs >> 13) & 1u);  // round mantissa to 10 bits
  return sign | static_cast<uint16_t>(((r >> 13) - (112u << 10)));
}

namespace {
// Generic small-float decode: 1 sign, E exponent bits, M mantissa bits, bias B.
float decode_small(uint8_t v, int ebits, int mbits, int bias) {
  const int sign = v >> 7;
  const int e = (v >> mbits) & ((1 << ebits) - 1);
  const int m = v & ((1 << mbits) - 1);
  float r;
  if (e == 0) {
    r = std::ldexp(static_cast<float>(m), 1 - bias - mbits);
  } else {
    r = std::ldexp(1.0f + static_cast<float>(m) / static_cast<float>(1 << mbits), e - bias);
  }
  return sign ? -r : r;
}

// Encodes by searching the nearest representable magnitude (round half to even);
// fp8 has only 127 magnitudes so a table walk is simple and exact.
uint8_t encode_small(float f, int ebits, int mbits, int bias, int max_code) {
  if (std::isnan(f)) return ebits == 4 ? 0x7f : 0x7f;  // e4m3fn NaN 0x7f; e5m2 NaN 0x7f
  const uint8_t sign = std::signbit(f) ? 0x80 : 0;
  const float a = std::fabs(f);
  int lo = 0, hi = max_code;
  if (a >= decode_small(static_cast<uint8_t>(max_code), ebits, mbits, bias)) {
    return sign | static_cast<uint8_t>(max_code);  // saturate
  }
  while (hi - lo > 1) {  // largest code with value <= a
    int mid = (lo + hi) / 2;
    if (decode_small(static_cast<uint8_t>(mid), ebits, mbits, bias) <= a) lo = mid; else hi = mid;
  }
  const float vlo = decode_small(static_cast<uint8_t>(lo), ebits, mbits, bias);
  const float vhi = decode_small(static_cast<uint8_t>(hi), ebits, mbits, bias);
  int code;
  if (a - vlo < vhi - a) code = lo;
  else if (a - vlo > vhi - a) code = hi;
  else code = (lo % 2 == 0) ? lo : hi;
  return sign | static_cast<uint8_t>(code);
}
}  // namespace

float f8e4m3_to_f32(uint8_t v) {
  if ((v & 0x7f) == 0x7f) return std::nanf("");
  return decode_small(v, 4, 3, 7);
}
uint8_t f32_to_f8e4m3(float f) { return encode_small(f, 4, 3, 7, 0x7e); }

float f8e5m2_to_f32(uint8_t v) {
  const int e = (v >> 2) & 0x1f;
  if (e == 31) {
    if (v & 3) return std::nanf("");
    return (v & 0x80) ? -INFINITY : INFINITY;
  }
  return decode_small(v, 5, 2, 15);
}
uint8_t f32_to_f8e5m2(float f) { return encode_small(f, 5, 2, 15, 0x7b); }

float load_as_f32(const void* data, DType dtype, size_t i) {
  switch (dtype) {
    case DType::kF32: return static_cast<const float*>(data)[i];
    case DType::kF16: return f16_to_f32(static_cast<const uint16_t*>(data)[i]);
    case DType::kBF16: return bf16_to_f32(static_cast<const uint16_t*>(data)[i]);
    case DType::kF8E4M3: return f8e4m3_to_f32(static_cast<const uint8_t*>(data)[i]);
    case DType::kF8E5M2: return f8e5m2_to_f32(static_cast<const uint8_t*>(data)[i]);
    default: RADIX_CHECK(is_float(dtype));
  }
  return 0.0f;
}

void store_from_f32(void* data, DType dtype, size_t i, float f) {
  switch (dtype) {
    case DType::kF32: static_cast<float*>(data)[i] = f; return;
    case DType::kF16: static_cast<uint16_t*>(data)[i] = f32_to_f16(f); return;
    case DType::kBF16: static_cast<uint16_t*>(data)[i] = f32_to_bf16(f); return;
    case DType::kF8E4M3: static_cast<uint8_t*>(data)[i] = f32_to_f8e4m3(f); return;
    case DType::kF8E5M2: static_cast<uint8_t*>(data)[i] = f32_to_f8e5m2(f); return;
    default: RADIX_CHECK(is_float(dtype));
  }
}

}  // namespace radix
