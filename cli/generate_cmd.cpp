// `radix generate`: offline generation through the engine, no server. Prompts as text
// (--prompt, --prompts-file: one per line) or token ids (--prompt-ids 1,2,3); prints
// each completion (text, or ids with --print-ids) in prompt order.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/logging.h"
#include "runtime/engine.h"
#include "runtime/output_processor.h"
#include "tokenizer/tokenizer.h"

namespace radix::cli {
namespace {

struct GenerateArgs {
  EngineOptions engine;
  std::string prompt;
  std::string prompt_ids;
  std::string prompts_file;
  SamplingParams params;
  bool print_ids = false;
  std::string log_level = "warning";
};

Result<std::vector<int32_t>> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      const long v = std::stol(item, &used);
      if (used != item.size() || v < INT32_MIN || v > INT32_MAX) throw std::invalid_argument(item);
      ids.push_back(static_cast<int32_t>(v));
    } catch (const std::exception&) {
      return invalid_argument("--prompt-ids: '" + item + "' is not an integer");
    }
  }
  return ids;
}

int run_generate(GenerateArgs& a) {
  if (Status s = set_log_level(a.log_level); !s.is_ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 2;
  }
  std::vector<std::vector<int32_t>> prompts;
  std::shared_ptr<Tokenizer> tok;
  const std::string tok_dir = a.engine.tokenizer_path.empty() ? a.engine.model_path : a.engine.tokenizer_path;
  if (!a.prompt.empty() || !a.prompts_file.empty() || !a.print_ids) {
    auto t = Tokenizer::from_dir(tok_dir);
    if (!t.is_ok()) {
      std::fprintf(stderr, "error: %s\n", t.status().to_string().c_str());
      return 1;
    }
    tok = *t;
  }
  if (!a.prompt_ids.empty()) {
    auto ids = parse_ids(a.prompt_ids);
    if (!ids.is_ok()) {
      std::fprintf(stderr, "error: %s\n", ids.status().message().c_str());
      return 2;
    }
    prompts.push_back(*ids);
  }
  if (!a.prompt.empty()) prompts.push_back(tok->encode(a.prompt, true));
  if (!a.prompts_file.empty()) {
    std::ifstream in(a.prompts_file);
    if (!in) {
      std::fprintf(stderr, "error: cannot read %s\n", a.prompts_file.c_str());
      return 1;
    }
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) prompts.push_back(tok->encode(line, true));
    }
  }
  if (prompts.empty()) {
    std::fprintf(stderr, "error: give --prompt, --prompt-ids or --prompts-file\n");
    return 2;
  }
  auto engine = Engine::create(a.engine);
  if (!engine.is_ok()) {
    std::fprintf(stderr, "error: %s\n", engine.status().to_string().c_str());
    return 1;
  }
  std::vector<std::shared_ptr<RequestHandle>> handles;
  for (auto& p : prompts) {
    GenerateInput in;
    in.input_ids = p;
    in.params = a.params;
    auto h = (*engine)->submit(std::move(in));
    if (!h.is_ok()) {
      std::fprintf(stderr, "error: %s\n", h.status().message().c_str());
      return 1;
    }
    handles.push_back(*h);
  }
  int rc = 0;
  for (size_t i = 0; i < handles.size(); ++i) {
    std::vector<int32_t> ids;
    std::unique_ptr<OutputProcessor> proc;
    if (tok) proc = std::make_unique<OutputProcessor>(tok, a.params);
    RequestEvent ev;
    FinishReason reason = FinishReason::kNone;
    while (handles[i]->next(&ev, std::chrono::seconds(600))) {
      if (!ev.error.is_ok()) {
        std::fprintf(stderr, "error: %s\n", ev.error.to_string().c_str());
        rc = 1;
      }
      ids.insert(ids.end(), ev.token_ids.begin(), ev.token_ids.end());
      if (proc) {
        TextDelta d = proc->process(ev);
        if (d.finished && d.matched_stop) handles[i]->abort();
        if (d.finished) reason = d.finish_reason;
      }
      if (ev.finished) {
        if (reason == FinishReason::kNone) reason = ev.finish_reason;
        break;
      }
    }
    if (a.print_ids || !proc) {
      std::printf("[");
      for (size_t k = 0; k < ids.size(); ++k) std::printf("%s%d", k ? ", " : "", ids[k]);
      std::printf("]\n");
    } else {
      std::printf("%s\n", proc->text().c_str());
    }
    std::fprintf(stderr, "[%zu] %zu tokens, finish_reason=%s\n", i, ids.size(), finish_reason_name(reason));
  }
  (*engine)->shutdown(std::chrono::milliseconds(0));
  return rc;
}

}  // namespace

void add_engine_flags(CLI::App* cmd, EngineOptions* e) {
  cmd->add_option("--model-path", e->model_path, "Model directory (config.json, *.safetensors, tokenizer.json)")->required();
  cmd->add_option("--tokenizer-path", e->tokenizer_path, "Tokenizer directory (default: the model path)");
  cmd->add_option("--device", e->device, "cpu, cuda or auto")->capture_default_str();
  cmd->add_option("--dtype", e->dtype, "auto, float32, bfloat16, float16")->capture_default_str();
  cmd->add_option("--load-format", e->load_format, "auto, safetensors or dummy")->capture_default_str();
  cmd->add_option("--kv-cache-dtype", e->kv_cache_dtype, "auto, bf16, fp8_e5m2, fp8_e4m3")->capture_default_str();
  cmd->add_option("--context-length", e->context_length, "Context length (default: from config.json)");
  cmd->add_option("--max-running-requests", e->max_running_requests, "Most requests decoding at once");
  cmd->add_option("--max-total-tokens", e->max_total_tokens, "KV pool size in tokens");
  cmd->add_option("--mem-fraction-static", e->mem_fraction_static, "GPU memory fraction for weights + KV")->capture_default_str();
  cmd->add_option("--chunked-prefill-size", e->chunked_prefill_size, "Prefill chunk (-1: no chunking)")->capture_default_str();
  cmd->add_option("--max-prefill-tokens", e->max_prefill_tokens, "Prefill tokens per step")->capture_default_str();
  cmd->add_option("--schedule-policy", e->schedule_policy, "lpm or fcfs")->capture_default_str();
  cmd->add_flag("--disable-radix-cache", e->disable_radix_cache, "Turn off prefix caching");
  cmd->add_option("--cascade-min-prefix-len", e->cascade_min_prefix_len,
                  "Cascade attention for decode: shared cached prefixes of at least this many tokens are read once "
                  "per group (0: off)")
      ->capture_default_str();
  cmd->add_flag("--disable-cuda-graph", e->disable_cuda_graph, "Turn off CUDA graphs");
  cmd->add_option("--cuda-graph-max-bs", e->cuda_graph_max_bs, "Largest CUDA-graph batch")->capture_default_str();
  cmd->add_option("--random-seed", e->random_seed, "Seed for unseeded requests and dummy weights");
  cmd->add_flag("--enable-overlap-schedule", e->enable_overlap_schedule,
                "Schedule the next step while the current one runs (experimental; docs/runtime.md)");
  cmd->add_option("--overlap-schedule-min-batch", e->overlap_min_batch,
                  "With --enable-overlap-schedule: steps of fewer requests run synchronously (0: overlap all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--step-trace", e->step_trace_path,
                  "Write one JSON line per engine step to this file (timing, batch; "
                  "tools/bench/step_trace_summary.py)");
}

void register_generate(CLI::App& app, Runner* run) {
  auto* cmd = app.add_subcommand("generate", "Generate offline through the engine (no server)");
  static GenerateArgs a;
  add_engine_flags(cmd, &a.engine);
  cmd->add_option("--prompt", a.prompt, "Prompt text");
  cmd->add_option("--prompt-ids", a.prompt_ids, "Prompt token ids, comma separated");
  cmd->add_option("--prompts-file", a.prompts_file, "File with one prompt per line");
  cmd->add_option("--max-new-tokens", a.params.max_new_tokens, "Tokens to generate")->capture_default_str();
  a.params.temperature = 0.0f;
  cmd->add_option("--temperature", a.params.temperature, "0 = greedy")->capture_default_str();
  cmd->add_option("--top-p", a.params.top_p)->capture_default_str();
  cmd->add_option("--top-k", a.params.top_k)->capture_default_str();
  cmd->add_option("--seed", a.params.seed);
  cmd->add_flag("--ignore-eos", a.params.ignore_eos);
  cmd->add_flag("--print-ids", a.print_ids, "Print token ids instead of text");
  cmd->add_option("--log-level", a.log_level, "debug, info, warning, error")->capture_default_str();
  cmd->callback([run] { *run = [] { return run_generate(a); }; });
}

}  // namespace radix::cli
