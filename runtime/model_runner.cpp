#include "runtime/model_runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <map>

#include "core/logging.h"
#ifdef RADIX_HAS_CUDA_KERNELS
#include "kernels/cuda/backend.h"
#include "kernels/cuda/cuda_ops.h"  // read_probe
#endif

namespace radix {

void StepInput::add_sample(int32_t row, float t, int k, float p, float mp, float u) {
  sample_rows.push_back(row);
  temperature.push_back(t);
  top_k.push_back(k);
  top_p.push_back(p);
  min_p.push_back(mp);
  uniform.push_back(u);
  repetition.push_back(1.0f);
  frequency.push_back(0.0f);
  presence.push_back(0.0f);
  penalty_indptr.push_back(static_cast<int32_t>(penalties.size()));
  logprob_top.push_back(-1);
  mask_index.push_back(-1);
}

void StepInput::add_penalties(const SamplerState& state, int32_t vocab) {
  RADIX_CHECK(!sample_rows.empty());
  const SamplingParams& p = state.params();
  repetition.back() = p.repetition_penalty;
  frequency.back() = p.frequency_penalty;
  presence.back() = p.presence_penalty;
  state.append_penalty_entries(vocab, &penalties);
  penalty_indptr.back() = static_cast<int32_t>(penalties.size());
}

void StepInput::add_grammar_mask(const SamplerState& state, int32_t vocab) {
  RADIX_CHECK(!sample_rows.empty());
  const size_t words = (static_cast<size_t>(vocab) + 63) / 64;
  mask_index.back() = static_cast<int32_t>(masks.size() / words);
  state.append_grammar_mask(vocab, &masks);
  RADIX_CHECK_EQ(masks.size() % words, 0u);
}

void StepInput::add_logprobs(int top_n) {
  RADIX_CHECK(!sample_rows.empty());
  logprob_top.back() = top_n;
}

void StepInput::clear_samples() {
  sample_rows.clear();
  temperature.clear();
  top_k.clear();
  top_p.clear();
  min_p.clear();
  uniform.clear();
  repetition.clear();
  frequency.clear();
  presence.clear();
  penalty_indptr.assign(1, 0);
  penalties.clear();
  logprob_top.clear();
  mask_index.clear();
  masks.clear();
}

void StepInput::clear() {
  input_ids.clear();
  prev_token_src.clear();
  positions.clear();
  out_cache_loc.clear();
  qo_indptr.assign(1, 0);
  kv_indptr.assign(1, 0);
  kv_indices.clear();
  logits_rows.clear();
  max_q_len = 0;
  max_kv_len = 0;
  seq_group.clear();
  prefix_indptr.assign(1, 0);
  prefix_indices.clear();
  max_prefix_len = 0;
  max_group_size = 0;
  clear_samples();
}

// The sampling tail's buffers (on the runner's device), reused across steps.
struct ModelRunner::SampleScratch {
  std::vector<int32_t> lp_rows;  // host: the sample indices that want logprobs [M]
  int top_cols = 0;              // K: the widest top list they ask for (<= V)
  OwnedTensor raw;               // f32 [M, V]: their logits before penalties
  OwnedTensor lp_tokens;         // i32 [M]: their sampled tokens
  OwnedTensor lp;                // f32 [M]
  OwnedTensor top_ids;           // i32 [M, K]
  OwnedTensor top_lp;            // f32 [M, K]
};

// One step's sampling tail: penalties -> ops::sample -> logprobs (tensors on the device).
struct ModelRunner::SampleRun {
  Tensor picked;  // f32 [ns, V]: the rows to sample; penalties change it in place
  Tensor tokens;  // i32 [ns]
  SamplingTensors params;
  bool penalize = false;
  ops::PenaltyTensors penalties;
  int64_t m = 0;               // rows with logprobs
  Tensor lp_rows;              // i32 [M]: their sample indices
  Tensor lp, top_ids, top_lp;  // outputs of ops::logprobs: [M], [M, K], [M, K]
  bool mask = false;           // structured output: ops::apply_token_mask after the penalties
  Tensor masks, mask_index;    // i32 [rows, W], i32 [ns]
};

// Everything the CUDA path keeps besides the model and the pool.
struct ModelRunner::CudaState {
#ifdef RADIX_HAS_CUDA_KERNELS
  std::unique_ptr<CudaBackend> backend;
  CudaStream stream;
  // Pinned host buffers come in two sets: a step launched while the previous one still
  // runs (overlap scheduling) fills the other set. `slot` is the set of the step being
  // enqueued; `in_flight` the sets of launched steps not yet waited for, oldest first.
  Buffer staging[2];      // pinned: the step's metadata, copied to the device in one transfer
  Buffer tokens_host[2];  // pinned: sampled tokens
  // Steps with penalties or logprobs: their metadata (one more transfer) and results.
  Buffer extras_staging[2];  // pinned
  OwnedTensor extras;        // i32 device copy, layout in stage_sampling
  Buffer logprobs_host[2];   // pinned: lp [M], top_ids [M, K], top_lp [M, K]
  CudaEvent done[2];         // recorded after each step's last copy back
  int slot = 0;
  std::deque<int> in_flight;
  // Overlap scheduling: rows whose input id is the previous step's sampled token.
  Buffer src_staging[2];  // pinned: prev_token_src
  OwnedTensor src;        // its device copy
  Tensor pending_src;     // set by launch for the step being enqueued (empty: none)
  Tensor last_tokens;     // device: the last enqueued step's sampled tokens
  OwnedTensor meta;    // eager steps: device copy of staging
  OwnedTensor logits;  // eager steps: f32 [rows, V]
  OwnedTensor sample_logits;  // eager steps: gathered rows to sample when not contiguous
  OwnedTensor tokens;         // eager steps: i32 sampled tokens
  // CUDA graphs (decode): one per bucket, all over the same fixed buffers.
  bool graphs_enabled = false;
  int max_bs = 0;
  int64_t kv_capacity = 0;  // kv_indices a graph step can hold
  std::vector<int> buckets;
  std::map<int, CudaGraph> graphs;
  OwnedTensor graph_meta;    // i32 (f32 params stored bitwise), layout below
  OwnedTensor graph_logits;  // f32 [max_bs, V]
  OwnedTensor graph_tokens;  // i32 [max_bs]
  int64_t workspace_tokens = 0;  // the model's activation buffers the graphs point into
  double capture_seconds = 0;
  int64_t capture_bytes = 0;
#endif
};

ModelRunner::ModelRunner() : scratch_(std::make_unique<SampleScratch>()) {}
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
  r->cuda_ = std::make_unique<CudaState>();
#ifdef RADIX_HAS_CUDA_KERNELS
  if (cuda) {
    CudaState& c = *r->cuda_;
    RADIX_ASSIGN_OR_RETURN(c.backend, CudaBackend::create(r->ctx_.device.index));
    RADIX_ASSIGN_OR_RETURN(c.stream, CudaStream::create());
    for (CudaEvent& e : c.done) {
      RADIX_ASSIGN_OR_RETURN(e, CudaEvent::create());
    }
    r->ctx_.cuda = c.backend.get();
    r->ctx_.stream = c.stream.get();
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
#ifdef RADIX_HAS_CUDA_KERNELS
  if (cuda) {
    // Activations for the largest step the scheduler builds (a prefill budget plus one
    // decode token per running request), allocated before the KV pool takes the rest.
    const int budget = std::min(options.max_prefill_tokens,
                                options.chunked_prefill_size > 0 ? options.chunked_prefill_size : INT32_MAX);
    const int running = options.max_running_requests > 0 ? options.max_running_requests : 1024;
    RADIX_RETURN_IF_ERROR(r->model_->reserve(static_cast<int64_t>(std::max(budget, 1)) + running));
    CudaState& c = *r->cuda_;
    c.graphs_enabled = !options.disable_cuda_graph && options.cuda_graph_max_bs > 0;
    if (c.graphs_enabled) {
      c.max_bs = std::min(options.cuda_graph_max_bs, 1024);
      for (int b : {1, 2, 4}) {
        if (b <= c.max_bs) c.buckets.push_back(b);
      }
      for (int b = 8; b <= c.max_bs; b += 8) c.buckets.push_back(b);
      if (c.buckets.back() != c.max_bs) c.buckets.push_back(c.max_bs);
      const int64_t vocab = config.vocab_size;
      RADIX_ASSIGN_OR_RETURN(c.graph_logits, OwnedTensor::empty({c.max_bs, vocab}, DType::kF32, r->ctx_.device));
      RADIX_ASSIGN_OR_RETURN(c.graph_tokens, OwnedTensor::empty({c.max_bs}, DType::kI32, r->ctx_.device));
    }
  }
#endif
  RADIX_RETURN_IF_ERROR(r->allocate_kv(options));
  RADIX_RETURN_IF_ERROR(r->capture_graphs());
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


size_t ModelRunner::weight_bytes() const { return model_->weight_bytes(); }
DType ModelRunner::dtype() const { return model_->kv_layout().dtype; }

size_t ModelRunner::kv_bytes_per_token() const {
  const KvLayout kv = model_->kv_layout();
  return static_cast<size_t>(kv.num_layers) * 2 * kv.num_kv_heads * kv.head_dim * dtype_size(kv_dtype_);
}

Result<double> ModelRunner::measure_read_bandwidth(size_t bytes) {
#ifdef RADIX_HAS_CUDA_KERNELS
  if (ctx_.device.is_cuda()) {
    CudaState& c = *cuda_;
    RADIX_RETURN_IF_ERROR(c.stream.synchronize());
    RADIX_ASSIGN_OR_RETURN(OwnedTensor big, OwnedTensor::empty({static_cast<int64_t>(bytes / 2)}, DType::kBF16, ctx_.device));
    RADIX_ASSIGN_OR_RETURN(OwnedTensor scratch, OwnedTensor::empty({4096}, DType::kI32, ctx_.device));
    RADIX_RETURN_IF_ERROR(cuda::read_probe(ctx_, big.view(), scratch.view()));  // first touch
    RADIX_RETURN_IF_ERROR(c.stream.synchronize());
    double best = 0;
    for (int pass = 0; pass < 3; ++pass) {  // passes of 4 reads, timed on the host around syncs
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < 4; ++i) RADIX_RETURN_IF_ERROR(cuda::read_probe(ctx_, big.view(), scratch.view()));
      RADIX_RETURN_IF_ERROR(c.stream.synchronize());
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::max(best, 4.0 * static_cast<double>(big.view().nbytes()) / s / 1e9);
    }
    return best;
  }
#else
  (void)bytes;
#endif
  return unimplemented("measure_read_bandwidth: CUDA devices only");
}

std::string ModelRunner::describe_graphs() const {
#ifdef RADIX_HAS_CUDA_KERNELS
  const CudaState& c = *cuda_;
  if (ctx_.device.is_cuda()) {
    if (!c.graphs_enabled) return "CUDA graphs off (--disable-cuda-graph)";
    char buf[256];
    std::snprintf(buf, sizeof(buf), "CUDA graphs: %zu batch sizes (1..%d) captured in %.2f s, %.1f MB",
                  c.graphs.size(), c.max_bs, c.capture_seconds, static_cast<double>(c.capture_bytes) / 1e6);
    return buf;
  }
#endif
  return "";
}

namespace {

// Rows of `out` as ids into host logits: every logits row not sampled on the device.
int64_t index_host_rows(const StepInput& s, StepOutput* out) {
  const auto rows = static_cast<int64_t>(s.logits_rows.size());
  out->logits_index.assign(static_cast<size_t>(rows), 0);
  for (int32_t r : s.sample_rows) out->logits_index[static_cast<size_t>(r)] = -1;
  int64_t n = 0;
  for (auto& v : out->logits_index) v = v < 0 ? -1 : static_cast<int32_t>(n++);
  return n;
}

Status check_sample_rows(const StepInput& s, int64_t vocab) {
  const size_t n = s.sample_rows.size();
  if (s.temperature.size() != n || s.top_k.size() != n || s.top_p.size() != n ||
      s.min_p.size() != n || s.uniform.size() != n || s.repetition.size() != n ||
      s.frequency.size() != n || s.presence.size() != n || s.logprob_top.size() != n ||
      s.mask_index.size() != n || s.penalty_indptr.size() != n + 1) {
    return invalid_argument("step: sampling parameters do not match sample_rows");
  }
  const PenaltyEntries& e = s.penalties;
  if (e.counts.size() != e.size() || e.flags.size() != e.size() || s.penalty_indptr[0] != 0 ||
      s.penalty_indptr[n] != static_cast<int32_t>(e.size()) ||
      !std::is_sorted(s.penalty_indptr.begin(), s.penalty_indptr.end())) {
    return invalid_argument("step: penalty entries do not match penalty_indptr");
  }
  const size_t words = (static_cast<size_t>(vocab) + 63) / 64;
  if (s.masks.size() % words != 0) return invalid_argument("step: grammar masks are not whole rows");
  for (int32_t i : s.mask_index) {
    if (i < -1 || static_cast<size_t>(i + 1) * words > s.masks.size()) {
      return invalid_argument("step: mask index out of range");
    }
  }
  for (int32_t k : s.logprob_top) {
    if (k < -1 || k > ops::kMaxTopLogprobs)
      return invalid_argument("step: logprob_top out of range");
  }
  std::vector<char> seen(s.logits_rows.size(), 0);
  for (int32_t r : s.sample_rows) {
    if (r < 0 || static_cast<size_t>(r) >= seen.size() || seen[static_cast<size_t>(r)]++) {
      return invalid_argument("step: sample row " + std::to_string(r) + " is out of range or repeated");
    }
  }
  return Status::ok();
}

void ensure_host(OwnedTensor* t, int64_t rows, int64_t cols) {
  if (t->view().numel() < rows * cols || t->view().ndim() != 2 || t->view().size(1) != cols) {
    *t = OwnedTensor::host({std::max<int64_t>(rows, 1), cols}, DType::kF32);
  }
}

}  // namespace

Status ModelRunner::launch(StepInput& s, StepOutput* out) {
  if (!s.prev_token_src.empty() && s.prev_token_src.size() != s.input_ids.size()) {
    return invalid_argument("launch: prev_token_src must have one entry per input row");
  }
#ifdef RADIX_HAS_CUDA_KERNELS
  if (ctx_.device.is_cuda()) {
    Status st = stage_pending(s);
    if (st.is_ok()) st = enqueue(s, out);
    cuda_->pending_src = Tensor();
    return st;
  }
#endif
  for (size_t i = 0; i < s.prev_token_src.size(); ++i) {
    const int32_t src = s.prev_token_src[i];
    if (src < 0) continue;
    if (static_cast<size_t>(src) >= last_tokens_.size()) {
      return invalid_argument("launch: prev_token_src names a sample row the previous step did not have");
    }
    // A row whose sampling failed (-1) is finished with an error; 0 keeps this step valid.
    s.input_ids[i] = std::max(last_tokens_[static_cast<size_t>(src)], 0);
  }
  s.prev_token_src.clear();
  Status st = forward(s, out);
  if (st.is_ok()) {
    last_tokens_ = out->tokens;
  } else {
    last_tokens_.clear();
  }
  return st;
}

Status ModelRunner::wait(const StepInput& s, StepOutput* out) {
#ifdef RADIX_HAS_CUDA_KERNELS
  if (ctx_.device.is_cuda()) {
    CudaState& c = *cuda_;
    if (c.in_flight.empty()) return internal_error("wait: no launched step");
    const int slot = c.in_flight.front();
    c.in_flight.pop_front();
    RADIX_RETURN_IF_ERROR(c.done[slot].synchronize());
    if (!out->tokens.empty()) {
      std::copy_n(static_cast<const int32_t*>(c.tokens_host[slot].data()), out->tokens.size(), out->tokens.begin());
    }
    collect_sampling(s, out, slot);
    return Status::ok();
  }
#endif
  (void)s;
  (void)out;
  return Status::ok();
}

Status ModelRunner::forward(const StepInput& s, StepOutput* out) {
  if (!s.prev_token_src.empty()) return invalid_argument("forward: a step with prev_token_src goes through launch");
  if (ctx_.device.is_cpu()) {
    RADIX_RETURN_IF_ERROR(check_sample_rows(s, model_->config().vocab_size));
    out->graph = false;
    out->logprobs.clear();
    return forward_host(s, out);
  }
#ifdef RADIX_HAS_CUDA_KERNELS
  RADIX_RETURN_IF_ERROR(enqueue(s, out));
  return wait(s, out);
#else
  return unimplemented("forward: built without CUDA kernels");
#endif
}


// The step's batch over metadata views (ids, positions, slots, qo, kv indptr, kv
// indices, logits rows, in that order); softmax scale 1/sqrt(head_dim).
// v: the step vectors in StepInput order (input_ids, positions, out_cache_loc, qo_indptr,
// kv_indptr, kv_indices, logits_rows, ...); cascade: views of seq_group, prefix_indptr
// and prefix_indices when the step has groups. logits_all_rows from the step's host
// logits_rows (a captured graph's rows are 0 .. bs - 1: s null, set by the caller).
static ModelBatch make_batch(const std::vector<Tensor>& v, int head_dim, int max_q_len, int max_kv_len,
                             const StepInput* s = nullptr, const Tensor* cascade = nullptr) {
  ModelBatch b;
  if (s != nullptr && s->logits_rows.size() == s->input_ids.size()) {
    b.logits_all_rows = true;
    for (size_t i = 0; i < s->logits_rows.size(); ++i) {
      if (s->logits_rows[i] != static_cast<int32_t>(i)) b.logits_all_rows = false;
    }
  }
  if (s != nullptr && cascade != nullptr) {
    b.prefix.group_of_seq = cascade[0];
    b.prefix.prefix_indptr = cascade[1];
    b.prefix.prefix_indices = cascade[2];
    b.prefix.num_groups = static_cast<int>(s->prefix_indptr.size()) - 1;
    b.prefix.max_prefix_len = s->max_prefix_len;
    b.prefix.max_group_size = s->max_group_size;
  }
  b.input_ids = v[0];
  b.positions = v[1];
  b.out_cache_loc = v[2];
  b.attn.qo_indptr = v[3];
  b.attn.kv_indptr = v[4];
  b.attn.kv_indices = v[5];
  b.logits_rows = v[6];
  b.attn.scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  b.attn.max_q_len = max_q_len;
  b.attn.max_kv_len = max_kv_len;
  return b;
}

// A host view of a step vector (ops take mutable views; the CPU ops only read these).
template <typename T>
static Tensor host_view(const std::vector<T>& v, DType dtype) {
  return Tensor(const_cast<T*>(v.data()), dtype, Shape{static_cast<int64_t>(v.size())});
}

// CPU: the model writes host logits; sampled rows go through the CPU op.
Status ModelRunner::forward_host(const StepInput& s, StepOutput* out) {
  const int64_t vocab = model_->config().vocab_size;
  const auto rows = static_cast<int64_t>(s.logits_rows.size());
  std::vector<Tensor> views;
  for (const auto* m : {&s.input_ids, &s.positions, &s.out_cache_loc, &s.qo_indptr, &s.kv_indptr, &s.kv_indices,
                        &s.logits_rows}) {
    views.push_back(host_view(*m, DType::kI32));
  }
  const Tensor cascade[3] = {host_view(s.seq_group, DType::kI32), host_view(s.prefix_indptr, DType::kI32),
                             host_view(s.prefix_indices, DType::kI32)};
  const ModelBatch b = make_batch(views, model_->kv_layout().head_dim, s.max_q_len, s.max_kv_len, &s,
                                  s.seq_group.empty() ? nullptr : cascade);
  const int64_t host_rows = index_host_rows(s, out);
  const bool all_host = s.sample_rows.empty();
  OwnedTensor* dst = all_host ? &out->logits : &host_logits_;
  ensure_host(dst, rows, vocab);
  RADIX_RETURN_IF_ERROR(model_->forward(ctx_, b, kv_, dst->view().slice_rows(0, rows)));
  out->tokens.clear();
  if (all_host) return Status::ok();
  const auto n = static_cast<int64_t>(s.sample_rows.size());
  OwnedTensor picked = OwnedTensor::host({n, vocab}, DType::kF32);
  for (int64_t j = 0; j < n; ++j) {
    std::copy_n(host_logits_.data_as<float>() + s.sample_rows[static_cast<size_t>(j)] * vocab, vocab,
                picked.data_as<float>() + j * vocab);
  }
  out->tokens.assign(static_cast<size_t>(n), -1);
  SampleRun run;
  run.picked = picked.view();
  run.tokens = Tensor(out->tokens.data(), DType::kI32, {n});
  run.params = SamplingTensors{host_view(s.temperature, DType::kF32),
                               host_view(s.top_k, DType::kI32), host_view(s.top_p, DType::kF32),
                               host_view(s.min_p, DType::kF32), host_view(s.uniform, DType::kF32)};
  RADIX_RETURN_IF_ERROR(stage_sampling(s, &run));
  RADIX_RETURN_IF_ERROR(run_sampling(run));
  collect_sampling(s, out);
  ensure_host(&out->logits, host_rows, vocab);
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t h = out->logits_index[static_cast<size_t>(r)];
    if (h >= 0) std::copy_n(host_logits_.data_as<float>() + r * vocab, vocab, out->logits.data_as<float>() + h * vocab);
  }
  return Status::ok();
}

// Grows *t (on dev) to hold `shape`, reusing it when it already does: rows grow x2, to at
// least min_rows.
static Status ensure_device(OwnedTensor* t, const Shape& shape, DType dtype, Device dev,
                            int64_t min_rows = 64) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  if (t->view().numel() >= n && t->view().dtype() == dtype && t->view().ndim() == static_cast<int>(shape.size()) &&
      (shape.size() < 2 || t->view().size(1) == shape[1])) {
    return Status::ok();
  }
  Shape grown = shape;
  grown[0] = std::max<int64_t>(shape[0] * 2, min_rows);
  RADIX_ASSIGN_OR_RETURN(*t, OwnedTensor::empty(grown, dtype, dev));
  return Status::ok();
}

#ifdef RADIX_HAS_CUDA_KERNELS
namespace {

Status ensure_pinned(Buffer* b, size_t bytes) {
  if (b->size() >= bytes) return Status::ok();
  RADIX_ASSIGN_OR_RETURN(*b, Buffer::allocate_pinned(std::max<size_t>(bytes * 2, 1 << 16)));
  return Status::ok();
}

// Layout of the graph metadata buffer for batches of up to m rows and `cap` kv indices.
struct GraphLayout {
  int64_t m, cap;
  int64_t ids() const { return 0; }
  int64_t pos() const { return m; }
  int64_t loc() const { return 2 * m; }
  int64_t qo() const { return 3 * m; }
  int64_t kvp() const { return 4 * m + 1; }
  int64_t rows() const { return 5 * m + 2; }
  int64_t temp() const { return 6 * m + 2; }
  int64_t topk() const { return 7 * m + 2; }
  int64_t topp() const { return 8 * m + 2; }
  int64_t minp() const { return 9 * m + 2; }
  int64_t u() const { return 10 * m + 2; }
  int64_t kv() const { return 11 * m + 2; }
  int64_t total() const { return kv() + cap; }
};

void put_f32(int32_t* dst, float v) { std::memcpy(dst, &v, sizeof(v)); }

}  // namespace

// Overlap scheduling: puts prev_token_src on the device for the step enqueue is about
// to run (its ids are taken there, ops::take_pending_tokens, once the step's metadata is
// copied: the previous step's tokens may not have reached the host yet).
Status ModelRunner::stage_pending(const StepInput& s) {
  CudaState& c = *cuda_;
  c.pending_src = Tensor();
  if (s.prev_token_src.empty()) return Status::ok();
  const auto n = static_cast<int64_t>(s.prev_token_src.size());
  Buffer& pinned = c.src_staging[next_slot()];  // the set enqueue picks
  RADIX_RETURN_IF_ERROR(ensure_pinned(&pinned, static_cast<size_t>(n) * 4));
  std::copy(s.prev_token_src.begin(), s.prev_token_src.end(), static_cast<int32_t*>(pinned.data()));
  RADIX_RETURN_IF_ERROR(ensure_device(&c.src, {n}, DType::kI32, ctx_.device));
  RADIX_RETURN_IF_ERROR(
      copy_tensor(c.src.view().slice_rows(0, n), Tensor(pinned.data(), DType::kI32, {n}), ctx_.stream));
  c.pending_src = c.src.view().slice_rows(0, n);
  return Status::ok();
}

// The pinned set for the next enqueued step: the one a step in flight does not use
// (after a failed enqueue, c.slot may be a set nothing holds).
int ModelRunner::next_slot() const {
  const CudaState& c = *cuda_;
  return c.in_flight.empty() ? c.slot ^ 1 : c.in_flight.back() ^ 1;
}

Status ModelRunner::enqueue(const StepInput& s, StepOutput* out) {
  RADIX_RETURN_IF_ERROR(check_sample_rows(s, model_->config().vocab_size));
  CudaState& c = *cuda_;
  if (c.in_flight.size() >= 2) return internal_error("launch: two steps in flight; wait for one first");
  out->graph = false;
  out->logprobs.clear();
  c.slot = next_slot();
  RADIX_ASSIGN_OR_RETURN(bool done, forward_graph(s, out));
  if (!done) RADIX_RETURN_IF_ERROR(forward_eager(s, out));
  RADIX_RETURN_IF_ERROR(c.done[c.slot].record(c.stream.get()));
  c.in_flight.push_back(c.slot);
  return Status::ok();
}

// Overlap scheduling: after the step's metadata copy, its pending rows' input ids
// (`ids`, on the device) take the previous step's tokens.
Status ModelRunner::take_pending(const Tensor& ids) {
  CudaState& c = *cuda_;
  if (c.pending_src.data() == nullptr) return Status::ok();
  if (c.last_tokens.data() == nullptr) return internal_error("launch: pending inputs but no previous sampled tokens");
  return ops::take_pending_tokens(ctx_, ids, c.pending_src, c.last_tokens);
}

Status ModelRunner::forward_eager(const StepInput& s, StepOutput* out) {
  CudaState& c = *cuda_;
  const int64_t vocab = model_->config().vocab_size;
  const auto rows = static_cast<int64_t>(s.logits_rows.size());
  const auto ns = static_cast<int64_t>(s.sample_rows.size());
  // All metadata in one i32 buffer (sampling floats stored bitwise).
  // Views: 0-8 the ints, 9-12 the floats, then (cascade steps) seq_group, prefix_indptr,
  // prefix_indices.
  const std::vector<const std::vector<int32_t>*> ints = {&s.input_ids, &s.positions, &s.out_cache_loc,
                                                         &s.qo_indptr, &s.kv_indptr, &s.kv_indices,
                                                         &s.logits_rows, &s.sample_rows, &s.top_k};
  const std::vector<const std::vector<float>*> floats = {&s.temperature, &s.top_p, &s.min_p, &s.uniform};
  const bool cascade = !s.seq_group.empty();
  std::vector<const std::vector<int32_t>*> cascade_ints;
  if (cascade) cascade_ints = {&s.seq_group, &s.prefix_indptr, &s.prefix_indices};
  int64_t total = 4 * ns;
  for (const auto* p : ints) total += static_cast<int64_t>(p->size());
  for (const auto* p : cascade_ints) total += static_cast<int64_t>(p->size());
  RADIX_RETURN_IF_ERROR(ensure_pinned(&c.staging[c.slot], static_cast<size_t>(total) * 4));
  RADIX_RETURN_IF_ERROR(ensure_device(&c.meta, {total}, DType::kI32, ctx_.device));
  auto* host = static_cast<int32_t*>(c.staging[c.slot].data());
  std::vector<Tensor> views;
  int64_t off = 0;
  auto put_ints = [&](const std::vector<int32_t>& v) {
    std::copy(v.begin(), v.end(), host + off);
    views.push_back(c.meta.view().slice_rows(off, off + static_cast<int64_t>(v.size())));
    off += static_cast<int64_t>(v.size());
  };
  for (const auto* p : ints) put_ints(*p);
  for (const auto* p : floats) {
    std::memcpy(host + off, p->data(), p->size() * sizeof(float));
    views.emplace_back(static_cast<int32_t*>(c.meta.view().data()) + off, DType::kF32, Shape{ns}, ctx_.device);
    off += ns;
  }
  for (const auto* p : cascade_ints) put_ints(*p);
  RADIX_RETURN_IF_ERROR(
      copy_tensor(c.meta.view().slice_rows(0, total), Tensor(host, DType::kI32, {total}), ctx_.stream));
  RADIX_RETURN_IF_ERROR(take_pending(views[0]));
  const ModelBatch b = make_batch(views, model_->kv_layout().head_dim, s.max_q_len, s.max_kv_len, &s,
                                  cascade ? views.data() + 13 : nullptr);
  SampleRun run;
  if (ns > 0) RADIX_RETURN_IF_ERROR(stage_sampling(s, &run));
  RADIX_RETURN_IF_ERROR(ensure_device(&c.logits, {std::max<int64_t>(rows, 1), vocab}, DType::kF32, ctx_.device));
  const Tensor logits = c.logits.view().slice_rows(0, rows);
  RADIX_RETURN_IF_ERROR(model_->forward(ctx_, b, kv_, logits));

  out->tokens.assign(static_cast<size_t>(ns), -1);
  if (ns > 0) {
    bool contiguous = true;
    for (int64_t j = 1; j < ns; ++j) contiguous = contiguous && s.sample_rows[j] == s.sample_rows[0] + j;
    Tensor picked;
    if (contiguous) {
      picked = logits.slice_rows(s.sample_rows[0], s.sample_rows[0] + ns);
    } else {
      RADIX_RETURN_IF_ERROR(ensure_device(&c.sample_logits, {ns, vocab}, DType::kF32, ctx_.device));
      picked = c.sample_logits.view().slice_rows(0, ns);
      RADIX_RETURN_IF_ERROR(ops::gather_rows(ctx_, picked, logits, views[7]));
    }
    RADIX_RETURN_IF_ERROR(ensure_device(&c.tokens, {ns}, DType::kI32, ctx_.device));
    const Tensor tokens = c.tokens.view().slice_rows(0, ns);
    run.picked = picked;
    run.tokens = tokens;
    run.params = SamplingTensors{views[9], views[8], views[10], views[11], views[12]};
    RADIX_RETURN_IF_ERROR(run_sampling(run));
    RADIX_RETURN_IF_ERROR(ensure_pinned(&c.tokens_host[c.slot], static_cast<size_t>(ns) * 4));
    RADIX_RETURN_IF_ERROR(
        copy_tensor(Tensor(c.tokens_host[c.slot].data(), DType::kI32, {ns}), tokens, ctx_.stream));
  }
  c.last_tokens = ns > 0 ? c.tokens.view().slice_rows(0, ns) : Tensor();
  // Rows that stay logits come back in runs of consecutive rows.
  const int64_t host_rows = index_host_rows(s, out);
  ensure_host(&out->logits, host_rows, vocab);
  for (int64_t r = 0; r < rows;) {
    const int32_t h = out->logits_index[static_cast<size_t>(r)];
    if (h < 0) {
      ++r;
      continue;
    }
    int64_t e = r + 1;
    while (e < rows && out->logits_index[static_cast<size_t>(e)] == h + (e - r)) ++e;
    RADIX_RETURN_IF_ERROR(copy_tensor(out->logits.view().slice_rows(h, h + (e - r)), logits.slice_rows(r, e), ctx_.stream));
    r = e;
  }
  return Status::ok();  // wait() reads the tokens and logprobs back
}

// Writes a decode step of `n` real rows (n may be 0), padded to `bs` rows, into the
// pinned staging in GraphLayout; returns the i32 count to copy.
static int64_t stage_graph_step(const StepInput* s, int n, int bs, const GraphLayout& g, int32_t* h) {
  int32_t kv_used = 0;
  h[g.qo()] = 0;
  h[g.kvp()] = 0;
  for (int i = 0; i < bs; ++i) {
    const bool real = i < n;
    h[g.ids() + i] = real ? s->input_ids[i] : 0;
    h[g.pos() + i] = real ? s->positions[i] : 0;
    h[g.loc() + i] = real ? s->out_cache_loc[i] : 0;  // slot 0: the pool's dummy slot
    h[g.qo() + i + 1] = i + 1;
    h[g.rows() + i] = i;
    if (real) {
      const int32_t b = s->kv_indptr[i], e = s->kv_indptr[i + 1];
      std::copy(s->kv_indices.begin() + b, s->kv_indices.begin() + e, h + g.kv() + kv_used);
      kv_used += e - b;
    } else {
      h[g.kv() + kv_used++] = 0;
    }
    h[g.kvp() + i + 1] = kv_used;
    put_f32(h + g.temp() + i, real ? s->temperature[i] : 0.0f);
    h[g.topk() + i] = real ? s->top_k[i] : 0;
    put_f32(h + g.topp() + i, real ? s->top_p[i] : 1.0f);
    put_f32(h + g.minp() + i, real ? s->min_p[i] : 0.0f);
    put_f32(h + g.u() + i, real ? s->uniform[i] : 0.0f);
  }
  return g.kv() + kv_used;
}

Result<bool> ModelRunner::forward_graph(const StepInput& s, StepOutput* out) {
  CudaState& c = *cuda_;
  const auto n = static_cast<int64_t>(s.input_ids.size());
  if (!c.graphs_enabled || n == 0 || n > c.max_bs || s.max_q_len != 1 || !s.seq_group.empty()) return false;
  if (static_cast<int64_t>(s.qo_indptr.size()) != n + 1 || static_cast<int64_t>(s.logits_rows.size()) != n ||
      static_cast<int64_t>(s.sample_rows.size()) != n) {
    return false;  // graphs cover decode steps whose every row is sampled on the device
  }
  for (int64_t i = 0; i < n; ++i) {
    if (s.logits_rows[i] != i || s.sample_rows[i] != i) return false;
  }
  const int bs = *std::lower_bound(c.buckets.begin(), c.buckets.end(), static_cast<int>(n));
  if (static_cast<int64_t>(s.kv_indices.size()) + (bs - n) > c.kv_capacity) return false;
  if (model_->workspace_tokens() != c.workspace_tokens) {
    // A step outgrew the activation buffers the graphs point into: capture again.
    RADIX_LOG_INFO("activation buffers moved ({} -> {} tokens): recapturing CUDA graphs", c.workspace_tokens,
                   model_->workspace_tokens());
    RADIX_RETURN_IF_ERROR(capture_graphs());
  }
  auto it = c.graphs.find(bs);
  if (it == c.graphs.end()) return false;
  const GraphLayout g{c.max_bs, c.kv_capacity};
  auto* host = static_cast<int32_t*>(c.staging[c.slot].data());
  const int64_t used = stage_graph_step(&s, static_cast<int>(n), bs, g, host);
  RADIX_RETURN_IF_ERROR(
      copy_tensor(c.graph_meta.view().slice_rows(0, used), Tensor(host, DType::kI32, {used}), ctx_.stream));
  RADIX_RETURN_IF_ERROR(take_pending(c.graph_meta.view().slice_rows(g.ids(), g.ids() + n)));
  SampleRun run;
  RADIX_RETURN_IF_ERROR(stage_sampling(s, &run));
  RADIX_RETURN_IF_ERROR(it->second.launch(ctx_.stream));
  // The graph holds the forward; the sampling tail (its shape depends on the step's
  // penalties and logprobs) runs eagerly over the graph's logits, real rows only.
  const Tensor meta = c.graph_meta.view();
  auto f32 = [&](int64_t off) {
    return Tensor(static_cast<int32_t*>(meta.data()) + off, DType::kF32, Shape{n}, ctx_.device);
  };
  run.picked = c.graph_logits.view().slice_rows(0, n);
  run.tokens = c.graph_tokens.view().slice_rows(0, n);
  run.params = SamplingTensors{f32(g.temp()), meta.slice_rows(g.topk(), g.topk() + n),
                               f32(g.topp()), f32(g.minp()), f32(g.u())};
  RADIX_RETURN_IF_ERROR(run_sampling(run));
  RADIX_RETURN_IF_ERROR(ensure_pinned(&c.tokens_host[c.slot], static_cast<size_t>(n) * 4));
  RADIX_RETURN_IF_ERROR(
      copy_tensor(Tensor(c.tokens_host[c.slot].data(), DType::kI32, {n}), run.tokens, ctx_.stream));
  c.last_tokens = run.tokens;
  out->tokens.assign(static_cast<size_t>(n), -1);  // wait() reads them back
  out->logits_index.assign(static_cast<size_t>(n), -1);
  out->graph = true;
  return true;
}

Status ModelRunner::capture_graphs() {
  CudaState& c = *cuda_;
  if (!ctx_.device.is_cuda() || !c.graphs_enabled) return Status::ok();
  RADIX_RETURN_IF_ERROR(c.stream.synchronize());  // no step in flight uses what is replaced
  c.graphs.clear();
  // Room for every slot once plus padding; steps that share prefixes beyond that run eagerly.
  c.kv_capacity = static_cast<int64_t>(num_slots_) + c.max_bs;
  const GraphLayout g{c.max_bs, c.kv_capacity};
  if (c.graph_meta.view().numel() < g.total()) {
    RADIX_ASSIGN_OR_RETURN(c.graph_meta, OwnedTensor::empty({g.total()}, DType::kI32, ctx_.device));
  }
  for (Buffer& b : c.staging) RADIX_RETURN_IF_ERROR(ensure_pinned(&b, static_cast<size_t>(g.total()) * 4));
  RADIX_ASSIGN_OR_RETURN(DeviceMemoryInfo before, cuda_memory_info(ctx_.device.index));
  const auto t0 = std::chrono::steady_clock::now();
  // Largest first: every later capture reuses what the first one sized.
  for (auto it = c.buckets.rbegin(); it != c.buckets.rend(); ++it) RADIX_RETURN_IF_ERROR(capture_bucket(*it));
  c.workspace_tokens = model_->workspace_tokens();
  RADIX_ASSIGN_OR_RETURN(DeviceMemoryInfo after, cuda_memory_info(ctx_.device.index));
  c.capture_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  c.capture_bytes = static_cast<int64_t>(before.free_bytes) - static_cast<int64_t>(after.free_bytes);
  return Status::ok();
}

Status ModelRunner::capture_bucket(int bs) {
  CudaState& c = *cuda_;
  const GraphLayout g{c.max_bs, c.kv_capacity};
  RADIX_RETURN_IF_ERROR(c.stream.synchronize());  // (a recapture may follow a step in flight)
  auto* host = static_cast<int32_t*>(c.staging[c.slot].data());
  const int64_t used = stage_graph_step(nullptr, 0, bs, g, host);
  RADIX_RETURN_IF_ERROR(
      copy_tensor(c.graph_meta.view().slice_rows(0, used), Tensor(host, DType::kI32, {used}), ctx_.stream));
  const Tensor meta = c.graph_meta.view();
  auto i32 = [&](int64_t off, int64_t len) { return meta.slice_rows(off, off + len); };
  const std::vector<Tensor> views = {i32(g.ids(), bs), i32(g.pos(), bs), i32(g.loc(), bs), i32(g.qo(), bs + 1),
                                     i32(g.kvp(), bs + 1), i32(g.kv(), c.kv_capacity), i32(g.rows(), bs)};
  // max_kv_len = the context length: the split-KV plan baked into the graph must cover
  // any context a replay brings (short contexts leave some splits empty).
  ModelBatch b = make_batch(views, model_->kv_layout().head_dim, 1, context_len_);
  b.logits_all_rows = true;  // stage_graph_step's rows: 0 .. bs - 1
  const Tensor logits = c.graph_logits.view().slice_rows(0, bs);
  // The forward only: sampling runs after the replay (forward_graph).
  auto body = [&]() -> Status { return model_->forward(ctx_, b, kv_, logits); };
  RADIX_RETURN_IF_ERROR(body());  // warm-up outside the capture: plans, kernel attributes
  RADIX_RETURN_IF_ERROR(c.stream.synchronize());
  RADIX_ASSIGN_OR_RETURN(CudaGraph graph, CudaGraph::capture(ctx_.stream, body));
  c.graphs[bs] = std::move(graph);
  return Status::ok();
}
#else
Status ModelRunner::forward_eager(const StepInput&, StepOutput*) {
  return unimplemented("this radix build has no CUDA kernels");
}
Status ModelRunner::capture_graphs() { return Status::ok(); }
#endif

// Finds the rows that want logprobs, puts the step's penalty and logprob metadata on the
// device (CUDA: one transfer, queued on the stream; CPU: views of the step's vectors) and
// sizes the logprobs outputs. Fills run's penalties/logprob fields only.
Status ModelRunner::stage_sampling(const StepInput& s, SampleRun* run) {
  SampleScratch& sc = *scratch_;
  const auto ns = static_cast<int64_t>(s.sample_rows.size());
  const int64_t vocab = model_->config().vocab_size;
  sc.lp_rows.clear();
  int top = 0;
  for (int64_t j = 0; j < ns; ++j) {
    if (s.logprob_top[static_cast<size_t>(j)] < 0) continue;
    sc.lp_rows.push_back(static_cast<int32_t>(j));
    top = std::max(top, s.logprob_top[static_cast<size_t>(j)]);
  }
  sc.top_cols = static_cast<int>(std::min<int64_t>(top, vocab));
  run->m = static_cast<int64_t>(sc.lp_rows.size());
  run->penalize = s.penalties.size() > 0;
  run->mask = !s.masks.empty();
  if (!run->penalize && run->m == 0 && !run->mask) return Status::ok();
  const int64_t words = (vocab + 63) / 64;
  const int64_t mask_rows = static_cast<int64_t>(s.masks.size()) / words;
  [[maybe_unused]] const auto e = static_cast<int64_t>(s.penalties.size());  // (CUDA only)
  const int64_t m = run->m;
  if (ctx_.device.is_cpu()) {
    run->penalties = ops::PenaltyTensors{
        host_view(s.penalty_indptr, DType::kI32),   host_view(s.penalties.ids, DType::kI32),
        host_view(s.penalties.counts, DType::kI32), host_view(s.penalties.flags, DType::kI32),
        host_view(s.repetition, DType::kF32),       host_view(s.frequency, DType::kF32),
        host_view(s.presence, DType::kF32)};
    run->lp_rows = host_view(sc.lp_rows, DType::kI32);
    if (run->mask) {
      run->masks = Tensor(const_cast<uint64_t*>(s.masks.data()), DType::kI32, {mask_rows, 2 * words});
      run->mask_index = host_view(s.mask_index, DType::kI32);
    }
  } else {
#ifdef RADIX_HAS_CUDA_KERNELS
    // One i32 buffer: penalty_indptr [ns+1], ids, counts, flags [E each], repetition,
    // frequency, presence [ns each, f32 stored bitwise], lp_rows [M], and with grammar
    // masks mask_index [ns] and the masks [rows x 2 words] (u64 words as i32 pairs).
    CudaState& c = *cuda_;
    const int64_t mask_len = run->mask ? ns + 2 * words * mask_rows : 0;
    const int64_t total = (ns + 1) + 3 * e + 3 * ns + m + mask_len;
    RADIX_RETURN_IF_ERROR(ensure_pinned(&c.extras_staging[c.slot], static_cast<size_t>(total) * 4));
    RADIX_RETURN_IF_ERROR(ensure_device(&c.extras, {total}, DType::kI32, ctx_.device, 1 << 12));
    auto* host = static_cast<int32_t*>(c.extras_staging[c.slot].data());
    const Tensor dev = c.extras.view();
    int64_t off = 0;
    auto put = [&](const void* src, int64_t len, DType dtype) {
      if (len > 0) std::memcpy(host + off, src, static_cast<size_t>(len) * 4);
      Tensor view(static_cast<int32_t*>(dev.data()) + off, dtype, Shape{len}, ctx_.device);
      off += len;
      return view;
    };
    run->penalties.row_indptr = put(s.penalty_indptr.data(), ns + 1, DType::kI32);
    run->penalties.token_ids = put(s.penalties.ids.data(), e, DType::kI32);
    run->penalties.counts = put(s.penalties.counts.data(), e, DType::kI32);
    run->penalties.flags = put(s.penalties.flags.data(), e, DType::kI32);
    run->penalties.repetition = put(s.repetition.data(), ns, DType::kF32);
    run->penalties.frequency = put(s.frequency.data(), ns, DType::kF32);
    run->penalties.presence = put(s.presence.data(), ns, DType::kF32);
    run->lp_rows = put(sc.lp_rows.data(), m, DType::kI32);
    if (run->mask) {
      run->mask_index = put(s.mask_index.data(), ns, DType::kI32);
      run->masks = put(s.masks.data(), 2 * words * mask_rows, DType::kI32).reshape({mask_rows, 2 * words});
    }
    RADIX_RETURN_IF_ERROR(
        copy_tensor(dev.slice_rows(0, total), Tensor(host, DType::kI32, {total}), ctx_.stream));
#endif
  }
  if (m == 0) return Status::ok();
  const int k = sc.top_cols;
  RADIX_RETURN_IF_ERROR(ensure_device(&sc.lp, {m}, DType::kF32, ctx_.device));
  run->lp = sc.lp.view().slice_rows(0, m);
  if (k > 0) {
    RADIX_RETURN_IF_ERROR(ensure_device(&sc.top_ids, {m, k}, DType::kI32, ctx_.device));
    RADIX_RETURN_IF_ERROR(ensure_device(&sc.top_lp, {m, k}, DType::kF32, ctx_.device));
    run->top_ids = sc.top_ids.view().slice_rows(0, m);
    run->top_lp = sc.top_lp.view().slice_rows(0, m);
  } else {  // no columns: any valid pointer will do
    run->top_ids = Tensor(sc.lp.view().data(), DType::kI32, {m, 0}, ctx_.device);
    run->top_lp = Tensor(sc.lp.view().data(), DType::kF32, {m, 0}, ctx_.device);
  }
  return Status::ok();
}

// penalties -> ops::sample -> ops::logprobs on the runner's device. The logprob rows are
// gathered before the penalties change `picked` (logprobs are of the raw logits); on
// CUDA their results are queued for copying into pinned memory (collect_sampling reads
// them after the step's sync).
Status ModelRunner::run_sampling(const SampleRun& run) {
  SampleScratch& sc = *scratch_;
  const int64_t ns = run.picked.size(0), vocab = run.picked.size(1), m = run.m;
  Tensor raw = run.picked;
  if (m > 0 && (run.penalize || run.mask || m < ns)) {
    RADIX_RETURN_IF_ERROR(ensure_device(&sc.raw, {m, vocab}, DType::kF32, ctx_.device, 1));
    raw = sc.raw.view().slice_rows(0, m);
    RADIX_RETURN_IF_ERROR(ops::gather_rows(ctx_, raw, run.picked, run.lp_rows));
  }
  if (run.penalize) RADIX_RETURN_IF_ERROR(ops::apply_penalties(ctx_, run.picked, run.penalties));
  if (run.mask) RADIX_RETURN_IF_ERROR(ops::apply_token_mask(ctx_, run.picked, run.masks, run.mask_index));
  RADIX_RETURN_IF_ERROR(ops::sample(ctx_, run.tokens, run.picked, run.params));
  if (m == 0) return Status::ok();
  Tensor tokens = run.tokens;
  if (m < ns) {
    RADIX_RETURN_IF_ERROR(ensure_device(&sc.lp_tokens, {m}, DType::kI32, ctx_.device));
    tokens = sc.lp_tokens.view().slice_rows(0, m);
    RADIX_RETURN_IF_ERROR(ops::gather_rows(ctx_, tokens, run.tokens, run.lp_rows));
  }
  RADIX_RETURN_IF_ERROR(ops::logprobs(ctx_, run.lp, run.top_ids, run.top_lp, raw, tokens));
#ifdef RADIX_HAS_CUDA_KERNELS
  if (ctx_.device.is_cuda()) {
    CudaState& c = *cuda_;
    const int64_t k = sc.top_cols;
    RADIX_RETURN_IF_ERROR(ensure_pinned(&c.logprobs_host[c.slot], static_cast<size_t>(m + 2 * m * k) * 4));
    auto* host = static_cast<int32_t*>(c.logprobs_host[c.slot].data());
    RADIX_RETURN_IF_ERROR(copy_tensor(Tensor(host, DType::kF32, {m}), run.lp, ctx_.stream));
    if (k > 0) {
      RADIX_RETURN_IF_ERROR(
          copy_tensor(Tensor(host + m, DType::kI32, {m, k}), run.top_ids, ctx_.stream));
      RADIX_RETURN_IF_ERROR(
          copy_tensor(Tensor(host + m + m * k, DType::kF32, {m, k}), run.top_lp, ctx_.stream));
    }
  }
#endif
  return Status::ok();
}

// After the step's results reached the host: each logprob row's TokenLogprob (out->tokens
// must already hold the sampled tokens).
void ModelRunner::collect_sampling(const StepInput& s, StepOutput* out, int slot) {
  const SampleScratch& sc = *scratch_;
  // The step's logprob rows and columns, from its own metadata (a later launch may have
  // restaged the scratch), as stage_sampling chose them.
  std::vector<int32_t> lp_rows;
  int top = 0;
  for (size_t j = 0; j < s.logprob_top.size(); ++j) {
    if (s.logprob_top[j] < 0) continue;
    lp_rows.push_back(static_cast<int32_t>(j));
    top = std::max(top, s.logprob_top[j]);
  }
  const auto m = static_cast<int64_t>(lp_rows.size());
  out->logprobs.clear();
  if (m == 0) return;
  const int64_t k = std::min<int64_t>(top, model_->config().vocab_size);
  const float* lp = nullptr;
  const int32_t* top_ids = nullptr;
  const float* top_lp = nullptr;
  if (ctx_.device.is_cpu()) {
    lp = sc.lp.data_as<const float>();
    top_ids = k > 0 ? sc.top_ids.data_as<const int32_t>() : nullptr;
    top_lp = k > 0 ? sc.top_lp.data_as<const float>() : nullptr;
  } else {
#ifdef RADIX_HAS_CUDA_KERNELS
    const auto* host = static_cast<const int32_t*>(cuda_->logprobs_host[slot].data());
    lp = reinterpret_cast<const float*>(host);
    top_ids = host + m;
    top_lp = reinterpret_cast<const float*>(host + m + m * k);
#endif
  }
  out->logprobs.resize(s.sample_rows.size());
  for (int64_t i = 0; i < m; ++i) {
    const auto j = static_cast<size_t>(lp_rows[static_cast<size_t>(i)]);
    TokenLogprob& t = out->logprobs[j];
    t.id = out->tokens[j];
    t.logprob = lp[i];
    const int64_t n = std::min<int64_t>(s.logprob_top[j], k);
    for (int64_t q = 0; q < n; ++q) t.top.emplace_back(top_ids[i * k + q], top_lp[i * k + q]);
  }
}

}  // namespace radix
