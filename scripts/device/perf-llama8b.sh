#!/usr/bin/env bash
# The Llama-3-8B performance set recorded in docs/perf.md, run on the GPU machine from
# the repo root with .bundle carried (scripts/device/bundle.sh): kernel ceilings and
# kernel rates (bench_kernels_gpu --quick), then `radix bench one-batch` with dummy
# weights at batch 1 (128 in / 512 out, CUDA graphs on and off), batch 64 and 128 at
# 1K context, and a 4096-token prefill. Output: stdout and $OUT/perf.log (JSON lines in
# $OUT/one_batch.jsonl).
set -uo pipefail
out=${OUT:-out}
mkdir -p "$out"
# shellcheck disable=SC1091
source .bundle/env.sh
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  bench_kernels_gpu --quick
  run() {
    echo "== radix bench one-batch $*"
    radix bench one-batch --model-path configs/llama-3-8b.json --load-format dummy --device cuda \
      --log-level warning --result-filename "$out/one_batch.jsonl" "$@" 2>&1 | grep -E "Prefill|Decode|Total|graphs"
  }
  run --batch-size 1 --input-len 128 --output-len 512
  run --batch-size 1 --input-len 128 --output-len 512 --disable-cuda-graph
  echo "(RADIX_PDL=1: programmatic dependent launch on)"
  RADIX_PDL=1 run --batch-size 1 --input-len 128 --output-len 512
  echo "(RADIX_GEMV=bulk: the bulk-copy GEMV instead of the register-streaming one)"
  RADIX_GEMV=bulk run --batch-size 1 --input-len 128 --output-len 512
  echo "(RADIX_GEMV=bulk RADIX_PDL=1 RADIX_CARVEOUT=1: with PDL and the largest shared-memory carveout)"
  RADIX_GEMV=bulk RADIX_PDL=1 RADIX_CARVEOUT=1 run --batch-size 1 --input-len 128 --output-len 512
  run --batch-size 64 --input-len 1024 --output-len 32
  run --batch-size 128 --input-len 1024 --output-len 32
  run --batch-size 1 --input-len 4096 --output-len 2
} 2>&1 | tee "$out/perf.log"
