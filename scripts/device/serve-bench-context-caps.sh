#!/usr/bin/env bash
# What the ShareGPT-like stand-in's long outputs cost at rate inf (issue #7): on the GPU
# machine, from the repo root with .bundle carried (scripts/device/bundle.sh), one fresh
# `radix serve` per run (Llama-3-8B shapes, dummy weights, step trace on) and 1000
# prompts at rate inf, first with SGLang's default filter, then with prompt + output
# capped at each of CAPS (`--sharegpt-context-len`). Each run's step trace is summarized
# (tools/bench/step_trace_summary.py); results in $OUT/serving.jsonl, traces and server
# logs in $OUT/traces.tgz.
#   CAPS (default "1024 512"), PROMPTS (1000)
set -uo pipefail
# shellcheck source=scripts/device/serve-lib.sh
source scripts/device/serve-lib.sh

run() {  # name, extra bench flags...
  local name=$1
  shift
  start_server "$name" --step-trace "$out/steps-$name.jsonl" || return 1
  echo "== $name"
  radix bench serving --backend radix --port $port --tokenizer "$tok" --disable-progress \
    --output-file "$out/serving.jsonl" --dataset-name sharegpt --num-prompts "${PROMPTS:-1000}" --request-rate inf "$@" \
    2>&1 | grep -vE "^\[bench serving\]"
  sleep 1  # the engine flushes its step trace when idle
  stop_server
  python3 tools/bench/step_trace_summary.py "$out/steps-$name.jsonl" --after-gap 1
}

run full
for cap in ${CAPS:-1024 512}; do run "ctx$cap" --sharegpt-context-len "$cap"; done
(cd "$out" && tar czf traces.tgz steps-*.jsonl server-*.log && rm -f steps-*.jsonl server-*.log)
