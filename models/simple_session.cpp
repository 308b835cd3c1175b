#include "models/simple_session.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace radix {

Result<SimpleSession> SimpleSession::create(CausalLM* model, const OpContext& ctx, int max_tokens) {
  SimpleSession s;
  s.model_ = model;
  s.ctx_ = ctx;
  s.max_tokens_ = max_tokens;
  const KvLayout kv = model->kv_layout();
  // The KV dtype follows the activations (f32 on CPU; bf16 on CUDA, or f32 in f32 mode).
  const DType dt = kv.dtype;
  for (int l = 0; l < kv.num_layers; ++l) {
    RADIX_ASSIGN_OR_RETURN(OwnedTensor k, OwnedTensor::empty({max_tokens + 1, kv.num_kv_heads, kv.head_dim}, dt, ctx.device));
    RADIX_ASSIGN_OR_RETURN(OwnedTensor v, OwnedTensor::empty({max_tokens + 1, kv.num_kv_heads, kv.head_dim}, dt, ctx.device));
    s.k_.push_back(std::move(k));
    s.v_.push_back(std::move(v));
  }
  return s;
}

namespace {
// Host i32 vector -> tensor on `device` (kept alive in `keep`).
Result<Tensor> to_device(const std::vector<int32_t>& v, Device device, std::vector<OwnedTensor>* keep) {
  RADIX_ASSIGN_OR_RETURN(OwnedTensor t, OwnedTensor::empty({static_cast<int64_t>(v.size())}, DType::kI32, device));
  RADIX_RETURN_IF_ERROR(copy_tensor(t.view(), Tensor(const_cast<int32_t*>(v.data()), DType::kI32,
                                                     {static_cast<int64_t>(v.size())})));
  keep->push_back(std::move(t));
  return keep->back().view();
}
}  // namespace

Result<OwnedTensor> SimpleSession::extend(std::span<const int32_t> tokens, bool all_logits) {
  const int n = static_cast<int>(tokens.size());
  if (n == 0) return invalid_argument("extend: no tokens");
  if (length_ + n > max_tokens_) return out_of_range("extend: session is full");
  const int total = length_ + n;
  std::vector<int32_t> ids(tokens.begin(), tokens.end()), positions(n), slots(n), kv_indices(total);
  std::iota(positions.begin(), positions.end(), length_);
  std::iota(slots.begin(), slots.end(), length_ + 1);
  std::iota(kv_indices.begin(), kv_indices.end(), 1);
  std::vector<int32_t> qo = {0, n}, kvp = {0, total}, rows;
  if (all_logits) {
    rows.resize(n);
    std::iota(rows.begin(), rows.end(), 0);
  } else {
    rows = {n - 1};
  }
  std::vector<OwnedTensor> keep;
  ModelBatch b;
  const Device dev = ctx_.device;
  RADIX_ASSIGN_OR_RETURN(b.input_ids, to_device(ids, dev, &keep));
  RADIX_ASSIGN_OR_RETURN(b.positions, to_device(positions, dev, &keep));
  RADIX_ASSIGN_OR_RETURN(b.out_cache_loc, to_device(slots, dev, &keep));
  RADIX_ASSIGN_OR_RETURN(b.attn.qo_indptr, to_device(qo, dev, &keep));
  RADIX_ASSIGN_OR_RETURN(b.attn.kv_indptr, to_device(kvp, dev, &keep));
  RADIX_ASSIGN_OR_RETURN(b.attn.kv_indices, to_device(kv_indices, dev, &keep));
  RADIX_ASSIGN_OR_RETURN(b.logits_rows, to_device(rows, dev, &keep));
  b.logits_all_rows = static_cast<int>(rows.size()) == n;  // rows 0 .. n - 1
  b.attn.scale = 1.0f / std::sqrt(static_cast<float>(model_->kv_layout().head_dim));
  b.attn.max_q_len = n;
  b.attn.max_kv_len = total;
  KvCache kv;
  for (size_t l = 0; l < k_.size(); ++l) {
    kv.k.push_back(k_[l].view());
    kv.v.push_back(v_[l].view());
  }
  const int64_t vocab = model_->config().vocab_size;
  const int64_t nrows = static_cast<int64_t>(rows.size());
  RADIX_ASSIGN_OR_RETURN(OwnedTensor logits, OwnedTensor::empty({nrows, vocab}, DType::kF32, dev));
  RADIX_RETURN_IF_ERROR(model_->forward(ctx_, b, kv, logits.view()));
  length_ = total;
  if (dev.is_cpu()) return logits;
  OwnedTensor host = OwnedTensor::host({nrows, vocab}, DType::kF32);
  RADIX_RETURN_IF_ERROR(copy_tensor(host.view(), logits.view(), ctx_.stream));
  return host;
}

Result<std::vector<int32_t>> SimpleSession::greedy(std::span<const int32_t> prompt, int max_new_tokens,
                                                   std::span<const int> eos_ids) {
  std::vector<int32_t> out;
  RADIX_ASSIGN_OR_RETURN(OwnedTensor logits, extend(prompt));
  const int64_t vocab = model_->config().vocab_size;
  for (int step = 0; step < max_new_tokens; ++step) {
    const float* row = logits.data_as<float>();
    const int32_t next = static_cast<int32_t>(std::max_element(row, row + vocab) - row);
    out.push_back(next);
    if (std::find(eos_ids.begin(), eos_ids.end(), next) != eos_ids.end()) break;
    if (step + 1 == max_new_tokens) break;
    const int32_t tok[1] = {next};
    RADIX_ASSIGN_OR_RETURN(logits, extend(tok));
  }
  return out;
}

}  // namespace radix
