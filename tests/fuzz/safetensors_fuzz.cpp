// libFuzzer target for the safetensors header parser (core/safetensors.cpp).
// Built only with clang (tests/fuzz/CMakeLists.txt), never part of `make test`:
//   CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DRADIX_CUDA=OFF
//   cmake --build build-fuzz --target safetensors_fuzz && ./build-fuzz/tests/fuzz/safetensors_fuzz
// Input layout: 4 bytes little-endian data-section size, then the header JSON.
// Besides crashes and sanitizer reports, it traps when an accepted header is
// inconsistent: a tensor out of bounds, a byte count that is not numel * dtype size,
// or two tensors that overlap.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const size_t data_size = static_cast<size_t>(data[0]) | (static_cast<size_t>(data[1]) << 8) |
                           (static_cast<size_t>(data[2]) << 16) |
                           (static_cast<size_t>(data[3]) << 24);
  const std::string header(reinterpret_cast<const char*>(data + 4), size - 4);
  auto r = radix::SafetensorsFile::parse_header(header, data_size, "fuzz");
  if (!r.is_ok()) return 0;
  std::vector<std::pair<size_t, size_t>> ranges;
  for (const radix::TensorInfo& t : r.value()) {
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0) __builtin_trap();
      numel *= static_cast<uint64_t>(d);
    }
    if (t.nbytes != numel * radix::dtype_size(t.dtype)) __builtin_trap();
    if (t.offset > data_size || t.nbytes > data_size - t.offset) __builtin_trap();
    if (t.nbytes > 0) ranges.emplace_back(t.offset, t.offset + t.nbytes);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i - 1].second > ranges[i].first) __builtin_trap();
  }
  return 0;
}
