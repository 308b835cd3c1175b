// ModelRunner: owns the model, the KV pool tensors and the device-side copy of each
// step's metadata. The scheduler hands it a StepInput (host arrays); it copies them to
// the device in one transfer, runs the forward and returns f32 logits on the host.
#pragma once

#include <memory>
#include <vector>

#include "core/buffer.h"
#include "models/model.h"
#include "runtime/engine.h"

namespace radix {

// One step's metadata, host side (see ModelBatch / AttentionParams for meanings).
struct StepInput {
  std::vector<int32_t> input_ids, positions, out_cache_loc;
  std::vector<int32_t> qo_indptr = {0}, kv_indptr = {0}, kv_indices;
  std::vector<int32_t> logits_rows;
  int max_q_len = 0;
  int max_kv_len = 0;
  void clear();
};

class ModelRunner {
 public:
  ~ModelRunner();
  static Result<std::unique_ptr<ModelRunner>> create(const EngineOptions& options);

  // Runs one step; logits [rows, V] f32 on the host.
  Status forward(const StepInput& step, OwnedTensor* logits);

  const ModelConfig& config() const { return model_->config(); }
  int num_slots() const { return num_slots_; }   // KV slots incl. dummy slot 0
  int context_len() const { return context_len_; }
  Device device() const { return ctx_.device; }
  std::string describe() const;  // one line for the startup log

 private:
  ModelRunner() = default;
  Status allocate_kv(const EngineOptions& options);

  std::unique_ptr<CausalLM> model_;
  OpContext ctx_;
  std::shared_ptr<void> cuda_backend_;  // CudaBackend when on CUDA
  std::vector<OwnedTensor> k_, v_;
  KvCache kv_;
  DType kv_dtype_ = DType::kF32;
  int num_slots_ = 0;
  int context_len_ = 0;
  OwnedTensor meta_device_;  // i32 staging for the step's metadata on the device
  OwnedTensor logits_device_;
  double load_seconds_ = 0;
};

}  // namespace radix
