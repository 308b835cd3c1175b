// Owning memory (RAII): Buffer on the host or a CUDA device, OwnedTensor = Buffer + view.
// Device allocation is available when radix is built with CUDA (RADIX_WITH_CUDA);
// otherwise asking for device memory is an error, not a crash.
#pragma once

#include <cstddef>
#include <utility>

#include "core/status.h"
#include "core/tensor.h"

namespace radix {

class Buffer {
 public:
  Buffer() = default;
  ~Buffer();
  Buffer(Buffer&& o) noexcept { *this = std::move(o); }
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  // Host memory is 64-byte aligned and zeroed; device memory is uninitialized.
  static Result<Buffer> allocate(Device device, size_t bytes);
  // Page-locked host memory for fast transfers (falls back to plain host memory
  // without CUDA).
  static Result<Buffer> allocate_pinned(size_t bytes);

  void* data() const { return data_; }
  size_t size() const { return size_; }
  Device device() const { return device_; }

 private:
  void release();
  void* data_ = nullptr;
  size_t size_ = 0;
  Device device_{};
  bool pinned_ = false;
};

class OwnedTensor {
 public:
  OwnedTensor() = default;
  static Result<OwnedTensor> empty(const Shape& shape, DType dtype, Device device = Device::cpu());
  // Host-only convenience for tests and the CPU backend; CHECK-fails on allocation failure.
  static OwnedTensor host(const Shape& shape, DType dtype);

  const Tensor& view() const { return view_; }
  Tensor& view() { return view_; }
  operator const Tensor&() const { return view_; }  // NOLINT: views are the currency
  template <typename T>
  T* data_as() const {
    return view_.data_as<T>();
  }

 private:
  Buffer buffer_;
  Tensor view_;
};

bool cuda_available();  // built with CUDA and a device is present
int cuda_device_count();
struct DeviceMemoryInfo {
  size_t free_bytes = 0;
  size_t total_bytes = 0;
};
Result<DeviceMemoryInfo> cuda_memory_info(int device);

// Copies between any two devices; both tensors contiguous, same dtype and numel.
// `stream` is a cudaStream_t (nullptr = default stream); the copy is synchronous
// when either side is host memory that is not pinned.
Status copy_tensor(const Tensor& dst, const Tensor& src, void* stream = nullptr);

}  // namespace radix
