#include "core/buffer.h"

#include <cstdlib>
#include <cstring>
#include <string>

#ifdef RADIX_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace radix {

Buffer::~Buffer() { release(); }

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    release();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    device_ = o.device_;
    pinned_ = o.pinned_;
  }
  return *this;
}

void Buffer::release() {
  if (!data_) return;
#ifdef RADIX_WITH_CUDA
  if (device_.is_cuda()) {
    cudaFree(data_);
  } else if (pinned_) {
    cudaFreeHost(data_);
  } else {
    std::free(data_);
  }
#else
  std::free(data_);
#endif
  data_ = nullptr;
  size_ = 0;
}

Result<Buffer> Buffer::allocate(Device device, size_t bytes) {
  Buffer b;
  b.device_ = device;
  b.size_ = bytes;
  const size_t alloc = bytes == 0 ? 64 : (bytes + 63) / 64 * 64;
  if (device.is_cpu()) {
    b.data_ = std::aligned_alloc(64, alloc);
    if (!b.data_) return resource_exhausted("host allocation of " + std::to_string(bytes) + " bytes failed");
    std::memset(b.data_, 0, alloc);
    return b;
  }
#ifdef RADIX_WITH_CUDA
  if (cudaSetDevice(device.index) != cudaSuccess) {
    return invalid_argument("no CUDA device " + std::to_string(device.index));
  }
  cudaError_t err = cudaMalloc(&b.data_, alloc);
  if (err != cudaSuccess) {
    b.data_ = nullptr;
    return resource_exhausted("cudaMalloc of " + std::to_string(bytes) +
                              " bytes failed: " + cudaGetErrorString(err));
  }
  return b;
#else
  return unimplemented("this radix build has no CUDA support");
#endif
}

Result<Buffer> Buffer::allocate_pinned(size_t bytes) {
#ifdef RADIX_WITH_CUDA
  if (cuda_available()) {
    Buffer b;
    b.size_ = bytes;
    b.pinned_ = true;
    cudaError_t err = cudaMallocHost(&b.data_, bytes == 0 ? 64 : bytes);
    if (err != cudaSuccess) {
      b.data_ = nullptr;
      return resource_exhausted(std::string("cudaMallocHost failed: ") + cudaGetErrorString(err));
    }
    return b;
  }
#endif
  return allocate(Device::cpu(), bytes);
}

Result<OwnedTensor> OwnedTensor::empty(const Shape& shape, DType dtype, Device device) {
  int64_t n = 1;
  for (int64_t s : shape) {
    if (s < 0) return invalid_argument("negative tensor dimension");
    n *= s;
  }
  OwnedTensor t;
  RADIX_ASSIGN_OR_RETURN(t.buffer_, Buffer::allocate(device, static_cast<size_t>(n) * dtype_size(dtype)));
  t.view_ = Tensor(t.buffer_.data(), dtype, shape, device);
  return t;
}

OwnedTensor OwnedTensor::host(const Shape& shape, DType dtype) {
  auto r = empty(shape, dtype, Device::cpu());
  RADIX_CHECK(r.is_ok());
  return std::move(r).value();
}

int cuda_device_count() {
#ifdef RADIX_WITH_CUDA
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
#else
  return 0;
#endif
}

Result<DeviceMemoryInfo> cuda_memory_info(int device) {
#ifdef RADIX_WITH_CUDA
  if (cudaSetDevice(device) != cudaSuccess) return invalid_argument("no CUDA device " + std::to_string(device));
  DeviceMemoryInfo info;
  cudaError_t err = cudaMemGetInfo(&info.free_bytes, &info.total_bytes);
  if (err != cudaSuccess) return internal_error(std::string("cudaMemGetInfo: ") + cudaGetErrorString(err));
  return info;
#else
  (void)device;
  return unimplemented("this radix build has no CUDA support");
#endif
}

bool cuda_available() { return cuda_device_count() > 0; }

Status copy_tensor(const Tensor& dst, const Tensor& src, void* stream) {
  if (dst.dtype() != src.dtype() || dst.numel() != src.numel()) {
    return invalid_argument("copy_tensor: " + dst.to_string() + " <- " + src.to_string());
  }
  if (!dst.is_contiguous() || !src.is_contiguous()) {
    return invalid_argument("copy_tensor needs contiguous tensors");
  }
  if (dst.device().is_cpu() && src.device().is_cpu()) {
    if (dst.nbytes()) std::memmove(dst.data(), src.data(), dst.nbytes());
    return Status::ok();
  }
#ifdef RADIX_WITH_CUDA
  cudaError_t err = cudaMemcpyAsync(dst.data(), src.data(), dst.nbytes(), cudaMemcpyDefault,
                                    static_cast<cudaStream_t>(stream));
  if (err != cudaSuccess) return internal_error(std::string("cudaMemcpyAsync: ") + cudaGetErrorString(err));
  return Status::ok();
#else
  (void)stream;
  return unimplemented("this radix build has no CUDA support");
#endif
}

}  // namespace radix
