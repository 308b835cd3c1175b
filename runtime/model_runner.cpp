#include "runtime/model_runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "core/logging.h"
#ifdef RADIX_HAS_CUDA_KERNELS
#include "kernels/cuda/backend.h"
#endif

namespace radix {

void StepInput::clear() {
  input_ids.clear();
  positions.clear();
  out_cache_loc.clear();
  qo_indptr.assign(1, 0);
  kv_indptr.assign(1, 0);
  kv_indices.clear();
  logits_rows.clear();
  max_q_len = 0;
  max_kv_len = 0;
}

ModelRunner::~ModelRunner() = default;

namespace {

Result<Device> pick_device(const std::string& name) {
  if (name == "cpu") return Device::cpu();
  if (name == "cuda" || name == "auto") {
#ifdef RADIX_HAS_CUDA_KERNELS
    if (cuda_available()) return Device::cuda(0);
#endif
    if (name == "cuda") return invalid_argument("--device cuda: no CUDA device or no CUDA kernels in this build");
    return Device::cpu();
  }
  return invalid_argument("unknown device '" + name + "' (expected cpu, cuda or auto)");
}

}  // namespace

Result<std::unique_ptr<ModelRunner>> ModelRunner::create(const EngineOptions& options) {
  std::unique_ptr<ModelRunner> r(new ModelRunner());
  RADIX_ASSIGN_OR_RETURN(r->ctx_.device, pick_device(options.device));
  const bool cuda = r->ctx_.device.is_cuda();
#ifdef RADIX_HAS_CUDA_KERNELS
  if (cuda) {
    RADIX_ASSIGN_OR_RETURN(auto backend, CudaBackend::create(r->ctx_.device.index));
    r->ctx_.cuda = backend.get();
    r->cuda_backend_ = std::shared_ptr<void>(backend.release(), [](void* p) { delete static_cast<CudaBackend*>(p); });
  }
#endif
  LoadOptions load;
  load.device = r->ctx_.device;
  if (options.dtype == "auto") {
    load.dtype = cuda ? DType::kBF16 : DType::kF32;
  } else {
    RADIX_ASSIGN_OR_RETURN(load.dtype, parse_dtype(options.dtype));
    if (!cuda && load.dtype != DType::kF32) return invalid_argument("the CPU backend runs in float32 only (--dtype float32)");
  }
  if (options.load_format != "auto" && options.load_format != "safetensors" && options.load_format != "dummy") {
    return invalid_argument("unknown --load-format '" + options.load_format + "' (expected auto, safetensors, dummy)");
  }
  load.dummy_weights = options.load_format == "dummy";
  load.seed = options.random_seed;
  RADIX_ASSIGN_OR_RETURN(ModelConfig config, load_model_config(options.model_path));
  r->context_len_ = options.context_length > 0 ? options.context_length : config.max_position_embeddings;
  load.max_position = std::max(r->context_len_, config.max_position_embeddings);
  const auto t0 = std::chrono::steady_clock::now();
  if (load.dummy_weights) {
    RADIX_ASSIGN_OR_RETURN(r->model_, load_causal_lm(config, nullptr, load));
  } else {
    RADIX_ASSIGN_OR_RETURN(Checkpoint ckpt, Checkpoint::open_dir(options.model_path));
    RADIX_ASSIGN_OR_RETURN(r->model_, load_causal_lm(config, &ckpt, load));
  }
  r->load_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r->kv_dtype_ = load.dtype;
  if (options.kv_cache_dtype != "auto") {
    RADIX_ASSIGN_OR_RETURN(r->kv_dtype_, parse_dtype(options.kv_cache_dtype));
    if (!cuda && r->kv_dtype_ != DType::kF32) {
      return invalid_argument("the CPU backend keeps the KV cache in float32 (--kv-cache-dtype auto)");
    }
  }
  RADIX_RETURN_IF_ERROR(r->allocate_kv(options));
  return r;
}

Status ModelRunner::allocate_kv(const EngineOptions& options) {
  const KvLayout kv = model_->kv_layout();
  const size_t bytes_per_slot = static_cast<size_t>(kv.num_layers) * 2 * kv.num_kv_heads * kv.head_dim * dtype_size(kv_dtype_);
  int64_t slots = options.max_total_tokens;
  if (slots <= 0) {
    if (ctx_.device.is_cuda()) {
      RADIX_ASSIGN_OR_RETURN(DeviceMemoryInfo mem, cuda_memory_info(ctx_.device.index));
      // SGLang's rule: the static pool (weights + KV) may take mem_fraction_static of
      // the card; what is already in use (weights, context) counts against it.
      const double budget = static_cast<double>(mem.total_bytes) * options.mem_fraction_static -
                            static_cast<double>(mem.total_bytes - mem.free_bytes);
      if (budget <= 0) return resource_exhausted("no GPU memory left for the KV cache; raise --mem-fraction-static");
      slots = static_cast<int64_t>(budget / static_cast<double>(bytes_per_slot));
    } else {
      slots = std::max<int64_t>(context_len_, 16384);  // CPU: a fixed, generous pool
    }
  }
  if (slots < 2) return resource_exhausted("KV pool would hold fewer than 2 tokens");
  num_slots_ = static_cast<int>(std::min<int64_t>(slots + 1, INT32_MAX));
  for (int l = 0; l < kv.num_layers; ++l) {
    RADIX_ASSIGN_OR_RETURN(OwnedTensor k, OwnedTensor::empty({num_slots_, kv.num_kv_heads, kv.head_dim}, kv_dtype_, ctx_.device));
    RADIX_ASSIGN_OR_RETURN(OwnedTensor v, OwnedTensor::empty({num_slots_, kv.num_kv_heads, kv.head_dim}, kv_dtype_, ctx_.device));
    kv_.k.push_back(k.view());
    kv_.v.push_back(v.view());
    k_.push_back(std::move(k));
    v_.push_back(std::move(v));
  }
  return Status::ok();
}

std::string ModelRunner::describe() const {
  const KvLayout kv = model_->kv_layout();
  const double weight_gb = static_cast<double>(model_->weight_bytes()) / 1e9;
  const double kv_gb = static_cast<double>(num_slots_) * kv.num_layers * 2 * kv.num_kv_heads * kv.head_dim *
                       dtype_size(kv_dtype_) / 1e9;
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "%s on %s: %d layers, weights %.3f GB loaded in %.2f s (%.2f GB/s), KV pool %d tokens "
                "(%s, %.3f GB), context %d",
                model_->config().architecture.c_str(), ctx_.device.to_string().c_str(), kv.num_layers,
                weight_gb, load_seconds_, load_seconds_ > 0 ? weight_gb / load_seconds_ : 0.0,
                num_slots_ - 1, dtype_name(kv_dtype_), kv_gb, context_len_);
  return buf;
}

Status ModelRunner::forward(const StepInput& s, OwnedTensor* logits) {
  const int64_t vocab = model_->config().vocab_size;
  const int64_t rows = static_cast<int64_t>(s.logits_rows.size());
  // All metadata in one i32 buffer: ids, positions, slots, qo, kv, indices, rows.
  const std::vector<const std::vector<int32_t>*> parts = {&s.input_ids, &s.positions, &s.out_cache_loc,
                                                          &s.qo_indptr, &s.kv_indptr, &s.kv_indices,
                                                          &s.logits_rows};
  size_t total = 0;
  for (const auto* p : parts) total += p->size();
  std::vector<int32_t> host(total);
  std::vector<Tensor> views;
  Tensor base;
  if (ctx_.device.is_cpu()) {
    base = Tensor(host.data(), DType::kI32, {static_cast<int64_t>(total)});
  } else {
    if (meta_device_.view().numel() < static_cast<int64_t>(total)) {
      RADIX_ASSIGN_OR_RETURN(meta_device_, OwnedTensor::empty({static_cast<int64_t>(total) * 2}, DType::kI32, ctx_.device));
    }
    base = meta_device_.view().slice_rows(0, static_cast<int64_t>(total));
  }
  size_t off = 0;
  for (const auto* p : parts) {
    std::copy(p->begin(), p->end(), host.begin() + static_cast<int64_t>(off));
    views.push_back(base.slice_rows(static_cast<int64_t>(off), static_cast<int64_t>(off + p->size())));
    off += p->size();
  }
  if (ctx_.device.is_cuda()) {
    RADIX_RETURN_IF_ERROR(copy_tensor(base, Tensor(host.data(), DType::kI32, {static_cast<int64_t>(total)}), ctx_.stream));
  }
  ModelBatch b;
  b.input_ids = views[0];
  b.positions = views[1];
  b.out_cache_loc = views[2];
  b.attn.qo_indptr = views[3];
  b.attn.kv_indptr = views[4];
  b.attn.kv_indices = views[5];
  b.logits_rows = views[6];
  b.attn.scale = 1.0f / std::sqrt(static_cast<float>(model_->kv_layout().head_dim));
  b.attn.max_q_len = s.max_q_len;
  b.attn.max_kv_len = s.max_kv_len;
  if (logits->view().numel() < rows * vocab || logits->view().ndim() != 2) {
    *logits = OwnedTensor::host({std::max<int64_t>(rows, 1), vocab}, DType::kF32);
  }
  const Tensor host_logits = logits->view().slice_rows(0, rows);
  if (ctx_.device.is_cpu()) return model_->forward(ctx_, b, kv_, host_logits);
  if (logits_device_.view().numel() < rows * vocab) {
    RADIX_ASSIGN_OR_RETURN(logits_device_, OwnedTensor::empty({std::max<int64_t>(rows, 64), vocab}, DType::kF32, ctx_.device));
  }
  const Tensor dev_logits = logits_device_.view().slice_rows(0, rows);
  RADIX_RETURN_IF_ERROR(model_->forward(ctx_, b, kv_, dev_logits));
  return copy_tensor(host_logits, dev_logits, ctx_.stream);
}

}  // namespace radix
