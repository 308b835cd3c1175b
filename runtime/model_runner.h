// ModelRunner: owns the model, the KV pool tensors and the device-side copy of each
// step's metadata. The scheduler hands it a StepInput (host arrays); it copies them to
// the device in one transfer, runs the forward, samples the rows the engine asked it
// to sample on the device (ops::apply_penalties -> ops::sample -> ops::logprobs of the
// raw rows) and returns the tokens, their logprobs and the other rows' logits (f32) on
// the host.
//
// On CUDA, decode steps whose rows are all sampled on the device run their forward as
// CUDA graphs: one graph per batch-size bucket (1, 2, 4, 8, 16, 24, ...,
// cuda_graph_max_bs), captured at startup over fixed metadata buffers; a step is padded
// to its bucket with dummy rows that read and write only the reserved KV slot 0. The
// sampling runs after the replay, over the real rows.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "models/model.h"
#include "runtime/engine.h"
#include "runtime/sampler.h"

namespace radix {

// One step's metadata, host side (see ModelBatch / AttentionParams for meanings).
struct StepInput {
  std::vector<int32_t> input_ids, positions, out_cache_loc;
  // Overlap scheduling: empty, or per input row the sample row of the previous launched
  // step whose token is this row's input id (input_ids holds 0 there), or -1.
  std::vector<int32_t> prev_token_src;
  std::vector<int32_t> qo_indptr = {0}, kv_indptr = {0}, kv_indices;
  std::vector<int32_t> logits_rows;
  int max_q_len = 0;
  int max_kv_len = 0;
  // Cascade attention (decode steps only; empty seq_group = none): sequence b of group
  // seq_group[b] >= 0 attends to its group's shared prefix, prefix_indices[
  // prefix_indptr[g] .. prefix_indptr[g + 1]), then to its own positions, and its
  // kv_indices hold only those (after the prefix). max_kv_len is then over the suffixes.
  std::vector<int32_t> seq_group;
  std::vector<int32_t> prefix_indptr = {0};
  std::vector<int32_t> prefix_indices;
  int max_prefix_len = 0;
  int max_group_size = 0;
  // Rows of the step's logits that the runner samples on the model's device, with
  // their parameters (SamplingTensors semantics). Every other row comes back as logits.
  std::vector<int32_t> sample_rows;
  std::vector<float> temperature, top_p, min_p, uniform;
  std::vector<int32_t> top_k;
  // Per sample row j, done on the same device around ops::sample (runtime/sampler.h's
  // order): penalties first (ops::apply_penalties; row j's entries are
  // [penalty_indptr[j], penalty_indptr[j+1]) of `penalties`), and after the sample the
  // raw logprob of the token with logprob_top[j] alternatives (ops::logprobs over the
  // logits before penalties; -1: no logprobs).
  std::vector<float> repetition, frequency, presence;
  std::vector<int32_t> penalty_indptr = {0};
  PenaltyEntries penalties;
  std::vector<int32_t> logprob_top;
  // Structured output, applied after the penalties (ops::apply_token_mask): per sample
  // row its bitmask row in `masks` (ceil(V / 64) words each: bit v set = token v
  // allowed), or -1.
  std::vector<int32_t> mask_index;
  std::vector<uint64_t> masks;

  void add_sample(int32_t row, float temperature, int top_k, float top_p, float min_p, float uniform);
  // For the sample row added last: `state`'s penalties and min_new_tokens mask.
  void add_penalties(const SamplerState& state, int32_t vocab);
  // For the sample row added last: return its token's logprob and top_n alternatives.
  void add_logprobs(int top_n);
  // For the sample row added last: `state`'s grammar mask (SamplerState::append_grammar_mask).
  void add_grammar_mask(const SamplerState& state, int32_t vocab);
  void clear_samples();  // drops every sample row
  void clear();
};

struct StepOutput {
  std::vector<int32_t> tokens;         // one per sample_rows entry; -1: no finite logit
  // Empty when no sample row asked for logprobs; else one per sample_rows entry: for a
  // row with logprob_top >= 0, id = its token, the raw logprob and min(logprob_top, V)
  // alternatives (token_logprob semantics); default for the others.
  std::vector<TokenLogprob> logprobs;
  OwnedTensor logits;                  // host f32 [rows not sampled, V]
  std::vector<int32_t> logits_index;   // per logits row: its row in `logits`, or -1
  bool graph = false;                  // the step ran as a captured CUDA graph
};

class ModelRunner {
 public:
  ~ModelRunner();
  static Result<std::unique_ptr<ModelRunner>> create(const EngineOptions& options);

  Status forward(const StepInput& step, StepOutput* out);
  // Overlap scheduling (the engine's enable_overlap_schedule): launch starts a step whose
  // prev_token_src rows take their input ids from the previous launched step's sampled
  // tokens, and wait gives its results; steps are waited for in launch order, one at a
  // time. On CUDA launch returns once the step is queued (the pending ids are taken on
  // the device); on the CPU it runs the whole step (docs/runtime.md).
  Status launch(StepInput& step, StepOutput* out);
  Status wait(const StepInput& step, StepOutput* out);

  const ModelConfig& config() const { return model_->config(); }
  int num_slots() const { return num_slots_; }   // KV slots incl. dummy slot 0
  int context_len() const { return context_len_; }
  Device device() const { return ctx_.device; }
  bool samples_on_device() const { return ctx_.device.is_cuda(); }
  std::string describe() const;  // one line for the startup log
  size_t weight_bytes() const;        // all of the model's weights
  DType dtype() const;                // of the weights and activations
  size_t kv_bytes_per_token() const;  // K and V of one position over all layers
  // The streaming-read rate of the device in GB/s (cuda::read_probe over `bytes`, best
  // of a few passes after a warm-up), for roofline ratios measured in the same run.
  // CUDA only: Unimplemented on the CPU.
  Result<double> measure_read_bandwidth(size_t bytes);
  std::string describe_graphs() const;  // CUDA graphs: buckets, capture time, memory

 private:
  struct CudaState;  // stream, pinned staging, device buffers, graphs (model_runner.cpp)
  struct SampleScratch;  // buffers of the sampling tail, on the runner's device
  struct SampleRun;      // one step's sampling tail: its tensors (model_runner.cpp)
  ModelRunner();
  Status allocate_kv(const EngineOptions& options);
  Status forward_host(const StepInput& step, StepOutput* out);
  // CUDA: queues a step (graph or eager) on the stream in the next pinned set; wait
  // collects it.
  Status enqueue(const StepInput& step, StepOutput* out);
  Status stage_pending(const StepInput& step);
  int next_slot() const;
  Status take_pending(const Tensor& ids);
  Status forward_eager(const StepInput& step, StepOutput* out);
  Result<bool> forward_graph(const StepInput& step, StepOutput* out);
  Status capture_graphs();
  Status capture_bucket(int bs);
  Status run_sampling(const SampleRun& run);
  Status stage_sampling(const StepInput& s, SampleRun* run);
  void collect_sampling(const StepInput& s, StepOutput* out, int slot = 0);

  std::unique_ptr<CausalLM> model_;
  OpContext ctx_;
  std::unique_ptr<CudaState> cuda_;
  std::vector<OwnedTensor> k_, v_;
  KvCache kv_;
  DType kv_dtype_ = DType::kF32;
  int num_slots_ = 0;
  int context_len_ = 0;
  OwnedTensor host_logits_;  // CPU backend: every row's logits
  std::unique_ptr<SampleScratch> scratch_;
  double load_seconds_ = 0;
  std::vector<int32_t> last_tokens_;  // the last launched step's sampled tokens
};

}  // namespace radix
