// `radix bench serving`: the online serving benchmark client (bench/serving.h), with
// sglang.bench_serving's flag names (docs/bench-serving.md).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

#include "bench/serving.h"
#include "cli/commands.h"
#include "core/logging.h"

namespace radix::cli {
namespace {

// "inf" or a positive number of requests per second.
bool parse_rate(const std::string& text, double* rate) {
  if (text == "inf" || text == "Inf" || text == "INF") {
    *rate = std::numeric_limits<double>::infinity();
    return true;
  }
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !(v > 0)) return false;
  *rate = v;
  return true;
}

}  // namespace

void register_bench_serving(CLI::App* bench, Runner* run) {
  auto* cmd = bench->add_subcommand(
      "serving", "Online serving benchmark against a running server (like sglang.bench_serving)");
  static bench::ServingOptions o;
  static std::string rate = "inf";
  static std::string log_level = "warning";
  auto& d = o.dataset;
  cmd->add_option("--backend", o.backend,
                  "radix/sglang-native: /generate; sglang, sglang-oai, vllm, lmdeploy, openai: "
                  "/v1/completions; "
                  "openai-chat, sglang-oai-chat, vllm-chat, lmdeploy-chat: /v1/chat/completions")
      ->capture_default_str();
  cmd->add_option("--base-url", o.base_url,
                  "Server URL (overrides --host/--port), e.g. http://127.0.0.1:30000");
  cmd->add_option("--host", o.host)->capture_default_str();
  cmd->add_option("--port", o.port)->capture_default_str();
  cmd->add_option("--model", o.model,
                  "Model name sent to OpenAI routes (default: the first id of /v1/models)");
  cmd->add_option(
      "--tokenizer", o.tokenizer,
      "Tokenizer dir or tokenizer.json (default: the server's model path when it is local)");
  cmd->add_option("--api-key", o.api_key, "Bearer token (default: $OPENAI_API_KEY)");
  cmd->add_option("--dataset-name", d.name,
                  "random, random-ids, sharegpt or generated-shared-prefix")
      ->capture_default_str();
  cmd->add_option(
      "--dataset-path", d.path,
      "ShareGPT-format JSON (sharegpt: filtered as SGLang does; random: the token source)");
  cmd->add_option("--num-prompts", d.num_prompts)->capture_default_str();
  cmd->add_option("--sharegpt-output-len", d.sharegpt_output_len,
                  "Override every ShareGPT output length");
  cmd->add_option("--sharegpt-context-len", d.sharegpt_context_len,
                  "Drop ShareGPT pairs whose prompt + output exceed this");
  cmd->add_option("--random-input-len", d.random_input_len)->capture_default_str();
  cmd->add_option("--random-output-len", d.random_output_len)->capture_default_str();
  cmd->add_option("--random-range-ratio", d.random_range_ratio,
                  "Lengths are uniform in [max(int(len * ratio), 1), len]")
      ->capture_default_str();
  cmd->add_option("--request-rate", rate,
                  "Requests per second (Poisson arrivals); inf sends all at once")
      ->capture_default_str();
  cmd->add_option("--max-concurrency", o.max_concurrency,
                  "Most requests in flight at once (default: not set)");
  cmd->add_option("--seed", d.seed)->capture_default_str();
  cmd->add_option("--warmup-requests", o.warmup_requests)->capture_default_str();
  cmd->add_flag("--disable-ignore-eos", o.disable_ignore_eos, "Let requests stop at EOS");
  cmd->add_flag("--tokenize-prompt", o.tokenize_prompt,
                "radix/sglang-native: send input_ids (exact prompt lengths) instead of text");
  cmd->add_option("--extra-request-body", o.extra_request_body,
                  "JSON object merged into every request (RFC 7396: null removes a field)");
  cmd->add_flag("--flush-cache", o.flush_cache, "POST /flush_cache before the run");
  cmd->add_option("--output-file", o.output_file, "Append the results as one JSON line");
  cmd->add_flag("--output-details", o.output_details,
                "Per-request lengths, TTFTs, ITLs, texts, errors in the JSON");
  cmd->add_flag("--disable-tqdm,--disable-progress", o.disable_progress,
                "No progress line on stderr");
  cmd->add_option("--gsp-num-groups", d.gsp_num_groups)->capture_default_str();
  cmd->add_option("--gsp-prompts-per-group", d.gsp_prompts_per_group)->capture_default_str();
  cmd->add_option("--gsp-system-prompt-len", d.gsp_system_prompt_len)->capture_default_str();
  cmd->add_option("--gsp-question-len", d.gsp_question_len)->capture_default_str();
  cmd->add_option("--gsp-output-len", d.gsp_output_len)->capture_default_str();
  cmd->add_option("--log-level", log_level)->capture_default_str();
  cmd->callback([run] {
    *run = [] {
      if (Status s = set_log_level(log_level); !s.is_ok()) {
        std::fprintf(stderr, "error: %s\n", s.message().c_str());
        return 2;
      }
      if (!parse_rate(rate, &o.request_rate)) {
        std::fprintf(stderr, "error: --request-rate must be a positive number or inf, not '%s'\n",
                     rate.c_str());
        return 2;
      }
      // A server that drops a connection must fail that request, not end the client.
      std::signal(SIGPIPE, SIG_IGN);
      if (o.api_key.empty()) {
        if (const char* key = std::getenv("OPENAI_API_KEY")) o.api_key = key;
      }
      auto r = bench::run_bench_serving(o);
      if (!r.is_ok()) {
        std::fprintf(stderr, "error: %s\n", r.status().to_string().c_str());
        return 1;
      }
      std::printf("\n%s", r->summary.c_str());
      std::fflush(stdout);
      return 0;
    };
  });
}

}  // namespace radix::cli
