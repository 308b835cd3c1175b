#include "models/weights.h"

#include <cmath>
#include <cstring>

namespace radix {

WeightLoader::WeightLoader(const Checkpoint* checkpoint, const LoadOptions& options)
    : checkpoint_(checkpoint), options_(options), rng_(options.seed) {}

bool WeightLoader::has(const std::string& name) const {
  return options_.dummy_weights || (checkpoint_ && checkpoint_->has(name));
}

// Writes one part (numel of `shape`) in the model dtype into dst_host.
Status WeightLoader::fill_part(const std::string& name, const Shape& shape, DummyInit init,
                               void* dst_host) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  const DType dt = options_.dtype;
  if (options_.dummy_weights) {
    // Small uniform weights keep activations finite through many layers.
    const float fan_in = shape.size() > 1 ? static_cast<float>(shape.back()) : 1.0f;
    const float a = init == DummyInit::kEmbedding ? 0.02f : 1.0f / std::sqrt(fan_in);
    // A counter-based hash (splitmix64) per element: seeded, parallel, and fast enough
    // for 8B-parameter shapes (a sequential engine took minutes).
    const uint64_t stream = rng_();
#pragma omp parallel for
    for (int64_t i = 0; i < n; ++i) {
      uint64_t z = stream + static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      z ^= z >> 31;
      const float u = static_cast<float>(z >> 40) * (1.0f / 16777216.0f);  // [0, 1)
      store_from_f32(dst_host, dt, static_cast<size_t>(i), init == DummyInit::kOnes ? 1.0f : (2.0f * u - 1.0f) * a);
    }
    return Status::ok();
  }
  if (!checkpoint_) return internal_error("no checkpoint to load " + name + " from");
  RADIX_ASSIGN_OR_RETURN(Tensor src, checkpoint_->tensor(name, shape));
  if (src.dtype() == dt) {
    std::memcpy(dst_host, src.data(), src.nbytes());
  } else if (is_float(src.dtype())) {
    for (int64_t i = 0; i < n; ++i) {
      store_from_f32(dst_host, dt, static_cast<size_t>(i), load_as_f32(src.data(), src.dtype(), static_cast<size_t>(i)));
    }
  } else {
    return invalid_argument("tensor " + name + " has non-float dtype " + dtype_name(src.dtype()));
  }
  return Status::ok();
}

Result<OwnedTensor> WeightLoader::load(const std::string& name, const Shape& shape, DummyInit init) {
  return load_fused({name}, {shape}, init);
}

Result<OwnedTensor> WeightLoader::load_fused(const std::vector<std::string>& names,
                                             const std::vector<Shape>& shapes, DummyInit init) {
  RADIX_CHECK_EQ(names.size(), shapes.size());
  Shape total = shapes[0];
  for (size_t i = 1; i < shapes.size(); ++i) total[0] += shapes[i][0];
  RADIX_ASSIGN_OR_RETURN(OwnedTensor host, OwnedTensor::empty(total, options_.dtype, Device::cpu()));
  char* dst = static_cast<char*>(host.view().data());
  for (size_t i = 0; i < names.size(); ++i) {
    RADIX_RETURN_IF_ERROR(fill_part(names[i], shapes[i], init, dst));
    int64_t n = 1;
    for (int64_t s : shapes[i]) n *= s;
    dst += static_cast<size_t>(n) * dtype_size(options_.dtype);
  }
  bytes_loaded_ += host.view().nbytes();
  if (options_.device.is_cpu()) return host;
  RADIX_ASSIGN_OR_RETURN(OwnedTensor dev, OwnedTensor::empty(total, options_.dtype, options_.device));
  RADIX_RETURN_IF_ERROR(copy_tensor(dev.view(), host.view()));
  return dev;
}

}  // namespace radix
