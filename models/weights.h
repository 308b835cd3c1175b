// WeightLoader: the name walk's helper. Reads a checkpoint tensor by its Hugging Face
// name, checks its shape, converts it to the model dtype and places it on the model's
// device; fuses several tensors along dim 0 (q/k/v, gate/up). With dummy weights it
// makes seeded random tensors of the same shapes instead.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "core/safetensors.h"
#include "models/model.h"

namespace radix {

enum class DummyInit { kLinear, kOnes, kEmbedding };

class WeightLoader {
 public:
  WeightLoader(const Checkpoint* checkpoint, const LoadOptions& options);

  // One tensor, [shape], in the model dtype on the model device.
  Result<OwnedTensor> load(const std::string& name, const Shape& shape,
                           DummyInit init = DummyInit::kLinear);
  // Tensors concatenated along dim 0; each part has its own shape (same trailing dims).
  Result<OwnedTensor> load_fused(const std::vector<std::string>& names,
                                 const std::vector<Shape>& shapes,
                                 DummyInit init = DummyInit::kLinear);
  bool has(const std::string& name) const;
  size_t bytes_loaded() const { return bytes_loaded_; }

 private:
  Status fill_part(const std::string& name, const Shape& shape, DummyInit init, void* dst_host);

  const Checkpoint* checkpoint_;
  LoadOptions options_;
  std::mt19937_64 rng_;
  size_t bytes_loaded_ = 0;
};

}  // namespace radix
