#include "core/tensor.h"

#include <sstream>

namespace radix {

std::string Device::to_string() const {
  return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index);
}

Tensor::Tensor(void* data, DType dtype, const Shape& shape, Device device)
    : data_(data), dtype_(dtype), device_(device), ndim_(static_cast<int>(shape.size())) {
  RADIX_CHECK_LE(ndim_, kMaxDims);
  int64_t stride = 1;
  for (int i = ndim_ - 1; i >= 0; --i) {
    RADIX_CHECK_GE(shape[i], 0);
    shape_[i] = shape[i];
    strides_[i] = stride;
    stride *= shape[i];
  }
}

int64_t Tensor::size(int dim) const {
  if (dim < 0) dim += ndim_;
  RADIX_CHECK(dim >= 0 && dim < ndim_);
  return shape_[dim];
}

int64_t Tensor::stride(int dim) const {
  if (dim < 0) dim += ndim_;
  RADIX_CHECK(dim >= 0 && dim < ndim_);
  return strides_[dim];
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim_; ++i) n *= shape_[i];
  return n;
}

bool Tensor::is_contiguous() const {
  int64_t stride = 1;
  for (int i = ndim_ - 1; i >= 0; --i) {
    if (shape_[i] != 1 && strides_[i] != stride) return false;
    stride *= shape_[i];
  }
  return true;
}

Tensor Tensor::slice_rows(int64_t begin, int64_t end) const {
  RADIX_CHECK_GE(ndim_, 1);
  RADIX_CHECK(0 <= begin && begin <= end && end <= shape_[0]);
  Tensor t = *this;
  t.data_ = static_cast<char*>(data_) + begin * strides_[0] * static_cast<int64_t>(dtype_size(dtype_));
  t.shape_[0] = end - begin;
  return t;
}

Tensor Tensor::reshape(const Shape& shape) const {
  RADIX_CHECK(is_contiguous());
  Shape s = shape;
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      RADIX_CHECK_EQ(infer, -1);
      infer = static_cast<int>(i);
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) {
    RADIX_CHECK(known > 0 && numel() % known == 0);
    s[infer] = numel() / known;
    known *= s[infer];
  }
  RADIX_CHECK_EQ(known, numel());
  return Tensor(data_, dtype_, s, device_);
}

Tensor Tensor::row(int64_t i) const {
  RADIX_CHECK(is_contiguous());
  Tensor r = slice_rows(i, i + 1);
  Shape s = shape();
  s.erase(s.begin());
  return Tensor(r.data_, dtype_, s, device_);
}

std::string Tensor::shape_string() const {
  std::ostringstream os;
  os << "[";
  for (int i = 0; i < ndim_; ++i) os << (i ? ", " : "") << shape_[i];
  os << "]";
  return os.str();
}

std::string Tensor::to_string() const {
  return std::string(dtype_name(dtype_)) + shape_string() + "@" + device_.to_string();
}

}  // namespace radix
