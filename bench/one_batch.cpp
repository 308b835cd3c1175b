#include "bench/one_batch.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <vector>

#include "core/logging.h"
#include "runtime/model_runner.h"

namespace radix {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Next tokens: sampled by the runner on a device that samples, else (greedy) the argmax
// of the host logits [B, V].
std::vector<int32_t> next_tokens(const StepOutput& out, int rows, int64_t vocab) {
  if (!out.tokens.empty()) return out.tokens;
  std::vector<int32_t> next(static_cast<size_t>(rows));
  for (int r = 0; r < rows; ++r) {
    const float* row = out.logits.data_as<float>() + r * vocab;
    next[static_cast<size_t>(r)] = static_cast<int32_t>(std::max_element(row, row + vocab) - row);
  }
  return next;
}

}  // namespace

Result<OneBatchResult> run_one_batch(const OneBatchOptions& o) {
  if (o.batch_size < 1 || o.input_len < 1 || o.output_len < 1) {
    return invalid_argument("--batch-size, --input-len and --output-len must be >= 1");
  }
  if (o.read_probe_bytes != 0 && o.read_probe_bytes < (size_t{1} << 20)) {
    return invalid_argument("--read-probe-bytes must be 0 (no probe) or at least 1 MiB");
  }
  if (!(o.temperature >= 0.0f) || o.top_k < 0 || !(o.top_p > 0.0f && o.top_p <= 1.0f)) {
    return invalid_argument("--temperature must be >= 0, --top-k >= 0 and --top-p in (0, 1]");
  }
  const bool sampled = o.temperature > 0.0f;
  EngineOptions eo = o.engine;
  const int per_seq = o.input_len + o.output_len + o.warmup_steps + 1;
  if (eo.max_total_tokens <= 0) eo.max_total_tokens = o.batch_size * per_seq;
  if (eo.context_length <= 0) eo.context_length = std::max(per_seq, 2048);
  RADIX_ASSIGN_OR_RETURN(auto runner, ModelRunner::create(eo));
  RADIX_LOG_INFO("{}", runner->describe());
  if (const std::string g = runner->describe_graphs(); !g.empty()) RADIX_LOG_INFO("{}", g);
  if (runner->num_slots() - 1 < o.batch_size * per_seq) {
    return resource_exhausted("the KV pool cannot hold the batch; lower the sizes");
  }
  const int64_t vocab = runner->config().vocab_size;
  std::mt19937 rng(static_cast<uint32_t>(eo.random_seed));
  std::uniform_int_distribution<int32_t> tok(10, static_cast<int32_t>(vocab) - 1);
  // Sequence b owns slots [1 + b * per_seq, 1 + (b + 1) * per_seq).
  auto slot = [&](int b, int pos) { return 1 + b * per_seq + pos; };
  StepInput step;
  StepOutput out;
  const bool device_sampling = runner->samples_on_device();
  if (sampled && !device_sampling) {
    return invalid_argument("--temperature > 0 needs a device that samples (cuda); the " + runner->device().to_string() +
                            " steps of this benchmark are greedy");
  }
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  // ids: the batch's n input ids per sequence, or empty: each sequence's one input id is
  // the token the previous launched step sampled for it (overlap, prev_token_src).
  auto build = [&](StepInput& in, int start, int n, const std::vector<int32_t>& ids) {
    in.clear();
    for (int b = 0; b < o.batch_size; ++b) {
      for (int p = start; p < start + n; ++p) {
        in.input_ids.push_back(ids.empty() ? 0 : ids[static_cast<size_t>(b * n + (p - start))]);
        if (ids.empty()) in.prev_token_src.push_back(b);
        in.positions.push_back(p);
        in.out_cache_loc.push_back(slot(b, p));
      }
      in.qo_indptr.push_back(in.qo_indptr.back() + n);
      for (int p = 0; p < start + n; ++p) in.kv_indices.push_back(slot(b, p));
      in.kv_indptr.push_back(static_cast<int32_t>(in.kv_indices.size()));
      in.logits_rows.push_back(in.qo_indptr.back() - 1);
      if (device_sampling) {
        in.add_sample(b, o.temperature, sampled ? o.top_k : 0, sampled ? o.top_p : 1.0f, 0.0f,
                      sampled ? uniform(rng) : 0.0f);
      }
    }
    in.max_q_len = n;
    in.max_kv_len = start + n;
  };

  std::vector<int32_t> prompt(static_cast<size_t>(o.batch_size * o.input_len));
  for (auto& t : prompt) t = tok(rng);
  // Untimed warm-up prefill of the same shape (plans, allocations, caches).
  build(step, 0, o.input_len, prompt);
  RADIX_RETURN_IF_ERROR(runner->forward(step, &out));

  OneBatchResult r;
  r.device = runner->device().to_string();
  const double t0 = now_s();
  RADIX_RETURN_IF_ERROR(runner->forward(step, &out));  // forward() returns with the tokens on the host
  r.prefill_latency_s = now_s() - t0;
  r.prefill_throughput = o.batch_size * o.input_len / r.prefill_latency_s;
  std::vector<int32_t> next = next_tokens(out, o.batch_size, vocab);
  std::vector<double> steps;
  const int decode_n = o.warmup_steps + o.output_len - 1;
  r.decode_overlapped = o.engine.enable_overlap_schedule && device_sampling;
  if (r.decode_overlapped) {
    // As the engine's overlap schedule runs a batch: step s + 1 is queued before step s is
    // waited for, its input ids taken on the device from step s's sampled tokens. A step's
    // time is then the interval between two steps' results (the host's work for the next
    // step overlaps the GPU's current one).
    StepInput cur, nxt;
    StepOutput out_cur, out_nxt;
    build(cur, o.input_len, 1, next);
    RADIX_RETURN_IF_ERROR(runner->launch(cur, &out_cur));
    double last = now_s();
    for (int s = 0; s < decode_n; ++s) {
      if (s + 1 < decode_n) {
        build(nxt, o.input_len + s + 1, 1, {});
        RADIX_RETURN_IF_ERROR(runner->launch(nxt, &out_nxt));
      }
      RADIX_RETURN_IF_ERROR(runner->wait(cur, &out_cur));
      const double t = now_s();
      if (s >= o.warmup_steps) {
        steps.push_back(t - last);
        r.decode_graph_steps += out_cur.graph ? 1 : 0;
      }
      last = t;
      std::swap(cur, nxt);
      std::swap(out_cur, out_nxt);
    }
  } else {
    for (int s = 0; s < decode_n; ++s) {
      const double ts = now_s();
      build(step, o.input_len + s, 1, next);
      RADIX_RETURN_IF_ERROR(runner->forward(step, &out));
      next = next_tokens(out, o.batch_size, vocab);
      if (s >= o.warmup_steps) {
        steps.push_back(now_s() - ts);
        r.decode_graph_steps += out.graph ? 1 : 0;
      }
    }
  }
  r.decode_steps = static_cast<int>(steps.size());
  double decode_total = 0;
  for (double d : steps) decode_total += d;
  if (!steps.empty()) {
    std::vector<double> sorted = steps;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<int64_t>(sorted.size() / 2), sorted.end());
    r.median_decode_latency_s = sorted[sorted.size() / 2];
    r.median_decode_throughput = o.batch_size / r.median_decode_latency_s;
  }
  r.total_latency_s = r.prefill_latency_s + decode_total;
  r.overall_throughput = o.batch_size * (o.input_len + o.output_len) / r.total_latency_s;

  // Roofline: a decode step reads every weight once except the embedding table, of which
  // only the batch's rows (unless tied: then it is the lm_head, read whole); measured
  // step s (0-based, from warmup_steps on) reads input_len + s + 1 positions of each
  // sequence.
  double ctx_sum = 0;
  for (int s = o.warmup_steps; s < o.warmup_steps + o.output_len - 1; ++s) ctx_sum += o.input_len + s + 1;
  const double ctx_mean = r.decode_steps > 0 ? ctx_sum / r.decode_steps : 0;
  const ModelConfig& cfg = runner->config();
  const double row_bytes = static_cast<double>(cfg.hidden_size) * static_cast<double>(dtype_size(runner->dtype()));
  r.decode_weight_bytes = static_cast<double>(runner->weight_bytes()) -
                          (cfg.tie_word_embeddings ? 0.0 : static_cast<double>(cfg.vocab_size) * row_bytes) +
                          o.batch_size * row_bytes;
  r.decode_kv_bytes = o.batch_size * ctx_mean * static_cast<double>(runner->kv_bytes_per_token());
  r.all_weight_bytes = static_cast<double>(runner->weight_bytes());
  if (o.read_probe_bytes > 0 && runner->device().is_cuda()) {
    auto bw = runner->measure_read_bandwidth(o.read_probe_bytes);
    if (bw.is_ok()) {
      r.read_bw_gbps = *bw;
      r.roofline_decode_latency_s = (r.decode_weight_bytes + r.decode_kv_bytes) / (r.read_bw_gbps * 1e9);
      if (r.median_decode_latency_s > 0) {
        r.decode_roofline_ratio = r.roofline_decode_latency_s / r.median_decode_latency_s;
        r.decode_roofline_ratio_all_weights =
            (r.all_weight_bytes + r.decode_kv_bytes) / (r.read_bw_gbps * 1e9) / r.median_decode_latency_s;
      }
    } else {
      RADIX_LOG_WARN("read-rate probe: {} (no roofline ratio)", bw.status().to_string());
    }
  }
  if (!o.result_file.empty()) {
    std::ofstream out(o.result_file, std::ios::app);
    out << "{\"model_path\":\"" << eo.model_path << "\",\"device\":\"" << r.device << "\",\"load_format\":\""
        << eo.load_format << "\",\"batch_size\":" << o.batch_size << ",\"input_len\":" << o.input_len
        << ",\"output_len\":" << o.output_len << ",\"temperature\":" << o.temperature
        << ",\"top_k\":" << o.top_k << ",\"top_p\":" << o.top_p << ",\"prefill_latency\":" << r.prefill_latency_s
        << ",\"prefill_throughput\":" << r.prefill_throughput
        << ",\"median_decode_latency\":" << r.median_decode_latency_s
        << ",\"median_decode_throughput\":" << r.median_decode_throughput
        << ",\"decode_graph_steps\":" << r.decode_graph_steps
        << ",\"decode_overlapped\":" << (r.decode_overlapped ? "true" : "false") << ",\"total_latency\":" << r.total_latency_s
        << ",\"overall_throughput\":" << r.overall_throughput << ",\"decode_weight_bytes\":" << r.decode_weight_bytes
        << ",\"decode_kv_bytes\":" << r.decode_kv_bytes << ",\"read_bw_gbps\":" << r.read_bw_gbps
        << ",\"roofline_decode_latency\":" << r.roofline_decode_latency_s
        << ",\"decode_roofline_ratio\":" << r.decode_roofline_ratio << ",\"all_weight_bytes\":" << r.all_weight_bytes
        << ",\"decode_roofline_ratio_all_weights\":" << r.decode_roofline_ratio_all_weights << "}\n";
  }
  return r;
}

}  // namespace radix
