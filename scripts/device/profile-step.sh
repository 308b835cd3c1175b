#!/usr/bin/env bash
# Per-kernel profile of one decode step on the GPU machine (.bundle carried; no nsys
# there, so Nsight Compute): for each batch size in BATCHES (default "1 64 128"), an
# eager `radix bench one-batch` (INPUT_LEN, default 1024; one decode step after the
# prefill) under ncu measuring gpu__time_duration per kernel, then
# tools/bench/ncu_step_summary.py on the last step, then the same batch's graph-mode
# decode step from `radix bench one-batch` (the difference to the kernels' sum is the
# time between kernels). CSVs and summaries under $OUT.
# Extra engine flags for every run: ARGS (e.g. ARGS="--kv-cache-dtype bf16").
set -uo pipefail
out=${OUT:-out}
mkdir -p "$out"
# shellcheck disable=SC1091
source .bundle/env.sh
command -v ncu > /dev/null || { echo "profile-step.sh: no ncu on this machine" >&2; exit 2; }
status=0
for b in ${BATCHES:-1 64 128}; do
  csv="$out/ncu-b$b.csv"
  # shellcheck disable=SC2086
  timeout "${NCU_TIMEOUT:-300}" ncu --csv --metrics gpu__time_duration.sum --cache-control none --clock-control none \
    radix bench one-batch --model-path "${MODEL:-configs/llama-3-8b.json}" --load-format dummy --device cuda \
    --batch-size "$b" --input-len "${INPUT_LEN:-1024}" --output-len 2 --warmup-steps 0 --disable-cuda-graph \
    --log-level warning ${ARGS:-} > "$csv" 2> "$out/ncu-b$b.err" || { echo "ncu failed for batch $b"; status=1; continue; }
  echo "== batch $b, input ${INPUT_LEN:-1024}: one eager decode step"
  python3 tools/bench/ncu_step_summary.py "$csv" --layers "${LAYERS:-32}" | tee "$out/summary-b$b.txt" | head -25
  # The same step as a CUDA graph, timed: what it takes beyond the kernels' own durations
  # is launch gaps and ramp-up between kernels (ncu serializes and times kernels alone).
  # shellcheck disable=SC2086
  radix bench one-batch --model-path "${MODEL:-configs/llama-3-8b.json}" --load-format dummy --device cuda \
    --batch-size "$b" --input-len "${INPUT_LEN:-1024}" --output-len 64 --log-level warning ${ARGS:-} 2>&1 |
    grep -E "Decode\.|Roofline\." | sed 's/^/  graphs: /'
done
exit $status
