#!/usr/bin/env bash
# Clusters of 4 and 2 sampling CTAs per row for 17-66 rows (RADIX_SAMPLE_CLUSTER_WIDE=1,
# written in session 15 without a GPU) checked and measured in one device call (.bundle
# carried; every step under a timeout): the sampling GPU tests (all widths), memcheck
# over them, the runtime GPU suite with it on, the sampling table of bench_kernels_gpu
# (one CTA per row against the cluster ops::sample picks), then sampled decode steps
# (top_p) at batch 32 and 64 without and with it.
#   bash scripts/device/sample-wide-check.sh
# shellcheck disable=SC1091
source scripts/device/check-lib.sh
echo "== SamplingGpu.*"
timeout 120 test_kernels_gpu --gtest_filter='SamplingGpu.*' 2>&1 | pass
memcheck 'SamplingGpu.FewRows*' 150
echo "== test_runtime_gpu RADIX_SAMPLE_CLUSTER_WIDE=1"
RADIX_SAMPLE_CLUSTER_WIDE=1 timeout 120 test_runtime_gpu 2>&1 | pass
echo "== bench_kernels_gpu --sampling"
timeout 120 bench_kernels_gpu --sampling
for b in 32 64; do
  for env in RADIX_SAMPLE_CLUSTER_WIDE=0 RADIX_SAMPLE_CLUSTER_WIDE=1; do
    echo "== batch $b in 1024 out 32 --temperature 0.8 --top-p 0.9, $env"
    env $env timeout 60 radix bench one-batch --model-path configs/llama-3-8b.json --load-format dummy --device cuda \
      --log-level warning --batch-size $b --input-len 1024 --output-len 32 --temperature 0.8 --top-p 0.9 2>&1 |
      grep -E "Decode\.|every weight|error" | sed 's/^/  /'
  done
done
