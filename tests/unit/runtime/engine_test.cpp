// The engine end to end on the CPU backend with the bundled default model: outputs are
// independent of batching, chunking, the radix cache and retraction; bad requests get
// clear errors; no KV slot leaks.
#include "runtime/engine.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <random>
#include <thread>

#include "models/model.h"
#include "models/simple_session.h"
#include "tests/runtime/engine_test_util.h"

namespace radix {
namespace {

using testing::greedy;
using testing::make_engine;
using testing::random_prompt;

const std::string& kModel = testing::kDefaultModel;

EngineOptions cpu_options() { return testing::cpu_engine_options(); }

using testing::collect;
using testing::Outcome;

std::vector<std::vector<int32_t>> run_all(Engine& e, const std::vector<std::vector<int32_t>>& prompts,
                                          const SamplingParams& params) {
  std::vector<std::shared_ptr<RequestHandle>> hs;
  for (const auto& p : prompts) {
    auto h = e.submit({"", p, params});
    EXPECT_TRUE(h.is_ok()) << h.status().to_string();
    hs.push_back(*h);
  }
  std::vector<std::vector<int32_t>> out;
  for (auto& h : hs) out.push_back(collect(*h).tokens[0]);
  return out;
}

TEST(Engine, GreedyOutputEqualsTheReferenceSession) {
  auto model = load_causal_lm(kModel, LoadOptions{});
  ASSERT_TRUE(model.is_ok());
  std::mt19937 rng(1);
  const auto prompt = random_prompt(rng, 23);
  auto session = SimpleSession::create(model->get(), OpContext{}, 128);
  auto want = session->greedy(prompt, 12);
  ASSERT_TRUE(want.is_ok());
  auto engine = make_engine(cpu_options());
  auto got = run_all(*engine, {prompt}, greedy(12));
  EXPECT_EQ(got[0], *want);
}

TEST(Engine, BatchOf32MixedLengthsMatchesEachRequestAlone) {
  std::mt19937 rng(2);
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 32; ++i) prompts.push_back(random_prompt(rng, 1 + (i * 37) % 90));
  auto alone_engine = make_engine(cpu_options());
  std::vector<std::vector<int32_t>> alone;
  for (const auto& p : prompts) alone.push_back(run_all(*alone_engine, {p}, greedy(6))[0]);
  for (int chunk : {-1, 16}) {
    EngineOptions o = cpu_options();
    o.chunked_prefill_size = chunk;
    o.disable_radix_cache = true;  // every prompt computed inside the batch
    auto engine = make_engine(o);
    auto batched = run_all(*engine, prompts, greedy(6));
    for (size_t i = 0; i < prompts.size(); ++i) {
      EXPECT_EQ(batched[i], alone[i]) << "request " << i << " chunk " << chunk;
    }
    EXPECT_TRUE(engine->check_kv_invariants().is_ok());
  }
}

TEST(Engine, RadixCacheHitsGiveTheSameOutputAsRecomputation) {
  std::mt19937 rng(3);
  std::vector<std::vector<int32_t>> prompts;
  testing::add_shared_prefix_group(rng, 40, {5, 6, 7, 8}, &prompts);
  EngineOptions off = cpu_options();
  off.disable_radix_cache = true;
  auto ref = run_all(*make_engine(off), prompts, greedy(8));

  auto engine = make_engine(cpu_options());
  auto first = run_all(*engine, {prompts[0]}, greedy(8));
  EXPECT_EQ(first[0], ref[0]);
  // The others share a 40-token prefix with the cached first request.
  for (size_t i = 1; i < prompts.size(); ++i) {
    auto h = engine->submit({"", prompts[i], greedy(8)});
    ASSERT_TRUE(h.is_ok());
    Outcome o = collect(**h);
    EXPECT_EQ(o.tokens[0], ref[i]);
    EXPECT_GE(o.cached, 40) << "request " << i << " should reuse the shared prefix";
  }
  // Flush, then the same requests recompute from scratch with identical results.
  EXPECT_TRUE(engine->flush_cache());
  auto again = run_all(*engine, prompts, greedy(8));
  EXPECT_EQ(again, ref);
  EXPECT_TRUE(engine->check_kv_invariants().is_ok());
}

TEST(Engine, StepTraceWritesOneLinePerStep) {
  // --step-trace: one JSON line per step; its counts add up to what the engine did.
  // Per process: another run of this test (a parallel ctest, a second checkout) may be
  // writing its own trace at the same time.
  const std::string path = ::testing::TempDir() + "radix_step_trace_test." + std::to_string(::getpid()) + ".jsonl";
  std::mt19937 rng(5);
  std::vector<std::vector<int32_t>> prompts;
  int prompt_tokens = 0;
  for (int i = 0; i < 6; ++i) {
    prompts.push_back(random_prompt(rng, 3 + 11 * i));
    prompt_tokens += static_cast<int>(prompts.back().size());
  }
  EngineOptions o = cpu_options();
  o.disable_radix_cache = true;  // every prompt token is computed
  o.chunked_prefill_size = 16;   // several prefill chunks
  o.step_trace_path = path;
  auto engine = make_engine(o);
  ASSERT_NE(engine, nullptr);
  run_all(*engine, prompts, greedy(7));
  engine->shutdown(std::chrono::seconds(5));  // closes the trace; the stats are final
  const EngineStats stats = engine->stats();
  std::FILE* f = std::fopen(path.c_str(), "r");
  ASSERT_NE(f, nullptr);
  char line[512];
  long long expect_step = 0;
  double last_t = 0;
  int extend_tokens = 0, decode_rows = 0, decode_steps = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    long long step = 0, kv = 0;
    double t = 0, fwd = 0, host = 0;
    int es = 0, et = 0, dr = 0, run = 0, q = 0;
    ASSERT_EQ(std::sscanf(line,
                          "{\"step\":%lld,\"t\":%lf,\"extend_seqs\":%d,\"extend_tokens\":%d,\"decode_rows\":%d,"
                          "\"running\":%d,\"queued\":%d,\"kv_used\":%lld,\"forward_ms\":%lf,\"host_ms\":%lf",
                          &step, &t, &es, &et, &dr, &run, &q, &kv, &fwd, &host),
              10)
        << line;
    EXPECT_EQ(step, expect_step++);
    EXPECT_GE(t, last_t);
    last_t = t;
    EXPECT_GT(fwd, 0.0);
    EXPECT_GE(host, 0.0);
    EXPECT_LE(et, 16) << "chunked prefill of 16";
    EXPECT_EQ(es > 0, et > 0);
    extend_tokens += et;
    decode_rows += dr;
    decode_steps += et == 0 ? 1 : 0;
  }
  std::fclose(f);
  std::remove(path.c_str());
  EXPECT_GT(expect_step, 0);
  EXPECT_EQ(extend_tokens, prompt_tokens);
  // Each request's first token comes from its prefill, the other 6 from decode rows.
  EXPECT_EQ(decode_rows, 6 * static_cast<int>(prompts.size()));
  EXPECT_EQ(decode_steps, stats.decode_steps_total);
}

TEST(Engine, StepTraceToAnUnwritablePathIsAnError) {
  EngineOptions o = cpu_options();
  o.step_trace_path = "/nonexistent-dir/trace.jsonl";
  auto e = Engine::create(o);
  ASSERT_FALSE(e.is_ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << e.status().to_string();
}

TEST(Engine, CascadeAttentionGivesTheSameOutputsAsPlainDecode) {
  // Three groups of four requests sharing a 40-token prefix (distinct 5-token
  // questions), plus two unrelated requests; greedy outputs with cascade attention on
  // must equal those without, and decode steps must actually have used groups.
  std::mt19937 rng(11);
  std::vector<std::vector<int32_t>> prompts;
  for (int g = 0; g < 3; ++g) testing::add_shared_prefix_group(rng, 40, std::vector<int>(4, 5), &prompts);
  prompts.push_back(random_prompt(rng, 30));
  prompts.push_back(random_prompt(rng, 7));
  EngineOptions off = cpu_options();
  off.cascade_min_prefix_len = 0;
  auto plain_engine = make_engine(off);
  auto plain = run_all(*plain_engine, prompts, greedy(10));
  EXPECT_EQ(plain_engine->stats().cascade_decode_steps_total, 0);
  EngineOptions o = cpu_options();
  o.cascade_min_prefix_len = 16;
  auto engine = make_engine(o);
  auto cascade = run_all(*engine, prompts, greedy(10));
  EXPECT_EQ(cascade, plain);
  EXPECT_GT(engine->stats().cascade_decode_steps_total, 0);
  // Nothing held once every request finished (the stats catch up after the last event).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (engine->stats().kv_used_slots != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(engine->stats().kv_used_slots, 0);
}

TEST(Engine, TinyPoolRetractsAndStillProducesIdenticalOutputs) {
  std::mt19937 rng(4);
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 8; ++i) prompts.push_back(random_prompt(rng, 20 + i));
  SamplingParams p = greedy(40);
  auto big = run_all(*make_engine(cpu_options()), prompts, p);
  EngineOptions tiny = cpu_options();
  tiny.max_total_tokens = 160;  // far less than 8 * (~24 + 40) tokens
  tiny.disable_radix_cache = true;
  auto engine = make_engine(tiny);
  auto small = run_all(*engine, prompts, p);
  EXPECT_EQ(small, big);
  EXPECT_TRUE(engine->check_kv_invariants().is_ok());
}

TEST(Engine, SeededSamplingIsReproducibleAndNChoicesDiffer) {
  std::mt19937 rng(5);
  const auto prompt = random_prompt(rng, 12);
  SamplingParams p;
  p.temperature = 1.0f;
  p.max_new_tokens = 10;
  p.ignore_eos = true;
  p.seed = 42;
  p.n = 3;
  auto engine = make_engine(cpu_options());
  auto h1 = engine->submit({"", prompt, p});
  ASSERT_TRUE(h1.is_ok());
  Outcome a = collect(**h1, 3);
  auto h2 = engine->submit({"", prompt, p});
  ASSERT_TRUE(h2.is_ok());
  Outcome b = collect(**h2, 3);
  EXPECT_EQ(a.tokens, b.tokens);
  for (const auto& t : a.tokens) EXPECT_EQ(t.size(), 10u);
  EXPECT_NE(a.tokens[0], a.tokens[1]);
  EXPECT_GE(b.cached, 11) << "n > 1 and repeated prompts reuse the cached prompt";
  EXPECT_TRUE(engine->check_kv_invariants().is_ok());
}

TEST(Engine, AWakeSignalIsNotifiedOnceForEachEventOfItsHandles) {
  // One signal followed by two requests: a waiter sleeping on it sees every event, and
  // the count it reads is the number of events delivered so far.
  std::mt19937 rng(9);
  auto engine = make_engine(cpu_options());
  auto wake = std::make_shared<WakeSignal>();
  GenerateInput a{"", random_prompt(rng, 9), greedy(5), wake};
  GenerateInput b{"", random_prompt(rng, 13), greedy(7), wake};
  auto ha = engine->submit(std::move(a));
  auto hb = engine->submit(std::move(b));
  ASSERT_TRUE(ha.is_ok() && hb.is_ok());
  int events = 0, finished = 0;
  uint64_t seen = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (finished < 2 && std::chrono::steady_clock::now() < deadline) {
    seen = wake->wait(seen, std::chrono::seconds(5));
    RequestEvent e;
    for (auto* h : {&*ha, &*hb}) {
      while ((*h)->next(&e, std::chrono::milliseconds(0))) {
        ++events;
        if (e.finished) ++finished;
      }
    }
  }
  ASSERT_EQ(finished, 2);
  // A handle notifies just after queueing its event: the last notify may still be due.
  for (int i = 0; i < 50 && wake->count() < static_cast<uint64_t>(events); ++i) {
    wake->wait(wake->count(), std::chrono::milliseconds(100));
  }
  EXPECT_EQ(wake->count(), static_cast<uint64_t>(events));
  wake->notify();  // an outside notify wakes a waiter too
  EXPECT_EQ(wake->wait(events, std::chrono::seconds(5)), static_cast<uint64_t>(events) + 1);
}

TEST(Engine, RejectsPromptsThatCanNeverRunWithClearErrors) {
  EngineOptions o = cpu_options();
  o.context_length = 64;
  auto engine = make_engine(o);
  std::mt19937 rng(6);
  auto too_long = engine->submit({"", random_prompt(rng, 64), greedy(4)});
  ASSERT_FALSE(too_long.is_ok());
  EXPECT_EQ(too_long.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(too_long.status().message().find("context length"), std::string::npos);
  auto empty = engine->submit({"", {}, greedy(4)});
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  auto oov = engine->submit({"", {1, 2, 999999}, greedy(4)});
  EXPECT_EQ(oov.status().code(), StatusCode::kInvalidArgument);
  auto neg = engine->submit({"", {1, -5}, greedy(4)});
  EXPECT_EQ(neg.status().code(), StatusCode::kInvalidArgument);
  SamplingParams bad = greedy(4);
  bad.top_p = 0.0f;
  EXPECT_EQ(engine->submit({"", {1, 2}, bad}).status().code(), StatusCode::kInvalidArgument);
  // A long generation is clipped to the context instead of failing.
  auto h = engine->submit({"", random_prompt(rng, 60), greedy(1000)});
  ASSERT_TRUE(h.is_ok());
  Outcome out = collect(**h);
  EXPECT_EQ(out.tokens[0].size(), 4u);
  EXPECT_EQ(out.reasons[0], FinishReason::kLength);
}

TEST(Engine, AbortStopsARunningRequestAndFreesItsSlots) {
  auto engine = make_engine(cpu_options());
  std::mt19937 rng(7);
  auto h = engine->submit({"", random_prompt(rng, 10), greedy(100000)});
  ASSERT_TRUE(h.is_ok());
  RequestEvent ev;
  ASSERT_TRUE((*h)->next(&ev, std::chrono::seconds(60)));  // running now
  (*h)->abort();
  Outcome rest = collect(**h);
  EXPECT_EQ(rest.reasons[0], FinishReason::kAbort);
  EXPECT_TRUE(engine->check_kv_invariants().is_ok());
  EXPECT_EQ(engine->stats().num_running, 0);
}

TEST(Engine, PromptLogprobsCoverThePromptFromTheStartPosition) {
  auto engine = make_engine(cpu_options());
  std::mt19937 rng(8);
  const auto prompt = random_prompt(rng, 9);
  SamplingParams p = greedy(2);
  p.return_logprob = true;
  p.logprob_start_len = 3;
  p.top_logprobs_num = 2;
  auto h = engine->submit({"", prompt, p});
  ASSERT_TRUE(h.is_ok());
  std::vector<TokenLogprob> prompt_lp, out_lp;
  RequestEvent ev;
  while ((*h)->next(&ev, std::chrono::seconds(60))) {
    prompt_lp.insert(prompt_lp.end(), ev.prompt_logprobs.begin(), ev.prompt_logprobs.end());
    out_lp.insert(out_lp.end(), ev.logprobs.begin(), ev.logprobs.end());
  }
  ASSERT_EQ(prompt_lp.size(), prompt.size() - 3);
  for (size_t i = 0; i < prompt_lp.size(); ++i) {
    EXPECT_EQ(prompt_lp[i].id, prompt[3 + i]);
    EXPECT_LE(prompt_lp[i].logprob, 0.0f);
    EXPECT_EQ(prompt_lp[i].top.size(), 2u);
  }
  ASSERT_EQ(out_lp.size(), 2u);
  // Greedy: the sampled token is the most likely one.
  EXPECT_EQ(out_lp[0].top[0].first, out_lp[0].id);
}

TEST(Engine, PromptLogprobsSpanChunkBoundariesWithoutGaps) {
  // A prompt prefilled in chunks of 16: every position from the start gets its logprob,
  // equal to the one an unchunked prefill gives (each chunk's last row predicts the
  // next chunk's first token).
  std::mt19937 rng(9);
  const auto prompt = random_prompt(rng, 75);
  SamplingParams p = greedy(1);
  p.return_logprob = true;
  p.logprob_start_len = 0;
  std::vector<std::vector<TokenLogprob>> got;
  for (int chunk : {-1, 16}) {
    EngineOptions o = cpu_options();
    o.chunked_prefill_size = chunk;
    auto engine = make_engine(o);
    auto h = engine->submit({"", prompt, p});
    ASSERT_TRUE(h.is_ok());
    std::vector<TokenLogprob> lp;
    RequestEvent ev;
    while ((*h)->next(&ev, std::chrono::seconds(60))) lp.insert(lp.end(), ev.prompt_logprobs.begin(), ev.prompt_logprobs.end());
    ASSERT_EQ(lp.size(), prompt.size()) << "chunk " << chunk;  // position 0 has none (NaN)
    for (size_t i = 0; i < lp.size(); ++i) EXPECT_EQ(lp[i].id, prompt[i]) << "chunk " << chunk << " position " << i;
    got.push_back(lp);
  }
  for (size_t i = 1; i < prompt.size(); ++i) EXPECT_NEAR(got[1][i].logprob, got[0][i].logprob, 1e-4) << "position " << i;
}

}  // namespace
}  // namespace radix

namespace radix {
namespace {

TEST(Engine, AbortChoiceStopsOneChoiceAndTheOthersFinish) {
  auto engine = make_engine(cpu_options());
  std::mt19937 rng(21);
  SamplingParams p;
  p.temperature = 0.8f;
  p.n = 3;
  p.max_new_tokens = 40;
  p.ignore_eos = true;
  auto h = engine->submit({"", random_prompt(rng, 12), p});
  ASSERT_TRUE(h.is_ok());
  std::vector<int> tokens(3, 0);
  std::vector<FinishReason> reasons(3, FinishReason::kNone);
  bool aborted = false;
  RequestEvent ev;
  while ((*h)->next(&ev, std::chrono::seconds(60))) {
    tokens[static_cast<size_t>(ev.index)] += static_cast<int>(ev.token_ids.size());
    if (ev.finished) reasons[static_cast<size_t>(ev.index)] = ev.finish_reason;
    if (!aborted && ev.index == 1 && tokens[1] >= 2) {
      (*h)->abort_choice(-1);  // not a choice: must not stop anything
      (*h)->abort_choice(3);
      (*h)->abort_choice(1);
      aborted = true;
    }
  }
  ASSERT_TRUE(aborted);
  // The decode steps and their host / forward split are counted for /metrics (the last
  // step's are added after its events went out, so the count is a lower bound here).
  const EngineStats st = engine->stats();
  EXPECT_GE(st.decode_steps_total, 30);
  EXPECT_GT(st.decode_forward_seconds_total, 0.0);
  EXPECT_GT(st.decode_host_seconds_total, 0.0);
  EXPECT_EQ(reasons[1], FinishReason::kAbort);
  EXPECT_LT(tokens[1], 40);
  EXPECT_EQ(reasons[0], FinishReason::kLength);
  EXPECT_EQ(reasons[2], FinishReason::kLength);
  EXPECT_EQ(tokens[0], 40);
  EXPECT_EQ(tokens[2], 40);
  EXPECT_TRUE(engine->check_kv_invariants().is_ok());
}

}  // namespace
}  // namespace radix
