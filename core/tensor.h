// Tensor: a non-owning view (data, dtype, shape, strides in elements, device).
// Owning memory lives in Buffer (core/buffer.h); OwnedTensor pairs the two.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/dtype.h"

namespace radix {

enum class DeviceType : uint8_t { kCPU, kCUDA };

struct Device {
  DeviceType type = DeviceType::kCPU;
  int index = 0;

  static Device cpu() { return {DeviceType::kCPU, 0}; }
  static Device cuda(int i = 0) { return {DeviceType::kCUDA, i}; }
  bool is_cpu() const { return type == DeviceType::kCPU; }
  bool is_cuda() const { return type == DeviceType::kCUDA; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  std::string to_string() const;
};

constexpr int kMaxDims = 6;
using Shape = std::vector<int64_t>;

class Tensor {
 public:
  Tensor() = default;
  Tensor(void* data, DType dtype, const Shape& shape, Device device = Device::cpu());

  void* data() const { return data_; }
  template <typename T>
  T* data_as() const {
    return static_cast<T*>(data_);
  }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  int ndim() const { return ndim_; }
  int64_t size(int dim) const;  // negative dims count from the end
  int64_t stride(int dim) const;
  Shape shape() const { return Shape(shape_.begin(), shape_.begin() + ndim_); }
  int64_t numel() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool is_contiguous() const;
  bool defined() const { return data_ != nullptr || numel() == 0; }
  bool empty() const { return numel() == 0; }

  // Rows [begin, end) of dim 0 (a view, no copy).
  Tensor slice_rows(int64_t begin, int64_t end) const;
  // Same data, new shape; requires contiguity. One dim may be -1.
  Tensor reshape(const Shape& shape) const;
  // Element offset view along dim 0 of a single row, dim 0 dropped.
  Tensor row(int64_t i) const;

  std::string shape_string() const;  // "[2, 3, 4]"
  std::string to_string() const;     // "bf16[2, 3, 4]@cpu"

 private:
  void* data_ = nullptr;
  DType dtype_ = DType::kF32;
  Device device_{};
  int ndim_ = 0;
  std::array<int64_t, kMaxDims> shape_{};
  std::array<int64_t, kMaxDims> strides_{};
};

}  // namespace radix
