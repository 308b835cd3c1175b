// `radix bench one-batch`: the static-batch latency benchmark (bench/one_batch.h).
#include <cstdio>

#include "bench/one_batch.h"
#include "cli/commands.h"
#include "core/logging.h"

namespace radix::cli {

void register_bench(CLI::App& app, Runner* run) {
  auto* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);
  auto* one = bench->add_subcommand("one-batch", "Prefill + decode latency of one static batch (like SGLang bench_latency)");
  static OneBatchOptions o;
  static std::string log_level = "info";
  add_engine_flags(one, &o.engine);
  one->add_option("--batch-size", o.batch_size)->capture_default_str();
  one->add_option("--input-len", o.input_len)->capture_default_str();
  one->add_option("--output-len", o.output_len)->capture_default_str();
  one->add_option("--warmup-steps", o.warmup_steps)->capture_default_str();
  one->add_option("--temperature", o.temperature, "Sample every step at this temperature (CUDA; 0: greedy)")
      ->capture_default_str();
  one->add_option("--top-k", o.top_k, "With --temperature: keep the k most likely tokens (0: all)")->capture_default_str();
  one->add_option("--top-p", o.top_p, "With --temperature: nucleus mass kept")->capture_default_str();
  one->add_option("--result-filename", o.result_file, "Append results as JSON lines");
  one->add_option("--read-probe-bytes", o.read_probe_bytes,
                  "CUDA: bytes read to measure the read rate for the roofline line (0: skip)")
      ->capture_default_str();
  one->add_option("--log-level", log_level)->capture_default_str();
  one->callback([run] {
    *run = [] {
      if (Status s = set_log_level(log_level); !s.is_ok()) {
        std::fprintf(stderr, "error: %s\n", s.message().c_str());
        return 2;
      }
      auto r = run_one_batch(o);
      if (!r.is_ok()) {
        std::fprintf(stderr, "error: %s\n", r.status().to_string().c_str());
        return 1;
      }
      std::printf("device %s, batch %d, input %d, output %d, weights %s\n", r->device.c_str(), o.batch_size,
                  o.input_len, o.output_len, o.engine.load_format == "dummy" ? "dummy (random)" : "from checkpoint");
      if (o.temperature > 0.0f) {
        std::printf("sampling: temperature %g, top_k %d, top_p %g (on the device)\n", o.temperature, o.top_k, o.top_p);
      }
      std::printf("Prefill. latency: %.5f s, throughput: %.2f token/s\n", r->prefill_latency_s, r->prefill_throughput);
      std::printf("Decode.  median latency: %.5f s, median throughput: %.2f token/s\n", r->median_decode_latency_s,
                  r->median_decode_throughput);
      if (r->decode_graph_steps > 0) std::printf("Decode steps run as CUDA graphs: %d of %d\n", r->decode_graph_steps, r->decode_steps);
      if (r->decode_overlapped) {
        std::printf("Decode steps overlapped (--enable-overlap-schedule): each queued before the previous one's "
                    "result; a step is the interval between results\n");
      }
      std::printf("Total.   latency: %.3f s, throughput: %.2f token/s\n", r->total_latency_s, r->overall_throughput);
      if (r->read_bw_gbps > 0) {
        std::printf("Roofline. decode step reads %.3f GB (weights %.3f + KV %.3f); at %.0f GB/s (read rate measured "
                    "now): %.5f s; median step at %.1f%% of it\n",
                    (r->decode_weight_bytes + r->decode_kv_bytes) / 1e9, r->decode_weight_bytes / 1e9,
                    r->decode_kv_bytes / 1e9, r->read_bw_gbps, r->roofline_decode_latency_s,
                    100.0 * r->decode_roofline_ratio);
        std::printf("Roofline, every weight counted (%.3f GB, the whole embedding table too): median step at %.1f%%\n",
                    r->all_weight_bytes / 1e9, 100.0 * r->decode_roofline_ratio_all_weights);
      }
      return 0;
    };
  });
  register_bench_serving(bench, run);
  register_bench_tokenizer(bench, run);
  register_bench_grammar(bench, run);
}

}  // namespace radix::cli
