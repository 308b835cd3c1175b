#!/usr/bin/env bash
# Structured output under load (GPU machine, .bundle carried): one `radix serve` on
# Llama-3-8B shapes with dummy weights and the Llama-3 tokenizer, then the same
# ShareGPT-like online run (PROMPTS at RATE req/s, /v1/completions) twice: plain, and with
# every request held to a JSON schema (json_schema). Results in $OUT/serving.jsonl.
set -uo pipefail
# shellcheck source=scripts/device/serve-lib.sh
source scripts/device/serve-lib.sh
start_server structured || exit 1
schema='{"type":"object","properties":{"name":{"type":"string","maxLength":40},"age":{"type":"integer"},"tags":{"type":"array","items":{"type":"string","maxLength":12},"maxItems":6}},"required":["name","age"]}'
body=$(python3 -c "import json,sys; print(json.dumps({'json_schema': sys.argv[1]}))" "$schema")
for mode in plain schema; do
  echo "== $mode"
  extra=()
  [[ $mode == schema ]] && extra=(--extra-request-body "$body")
  radix bench serving --backend openai --port $port --tokenizer "$tok" --disable-progress --output-file "$out/serving.jsonl" \
    --dataset-name sharegpt --num-prompts "${PROMPTS:-200}" --request-rate "${RATE:-8}" "${extra[@]}" 2>&1 |
    grep -E "Successful|Failed|Output token throughput|Median TTFT|Median ITL|P99 ITL|Median TPOT"
done
stop_server
grep -E "rror" "$out/server-structured.log" | head -5
