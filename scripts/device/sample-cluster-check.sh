#!/usr/bin/env bash
# ops::sample with each row over a cluster of 8 CTAs (RADIX_SAMPLE_CLUSTER=8), checked and
# measured in one device call (.bundle carried; every step under a timeout): the sampling
# GPU tests, memcheck and racecheck over the cluster test, the runtime GPU suite with the
# cluster on, the sampling table of bench_kernels_gpu (both widths), then batch-1 decode
# steps (greedy) without and with it.
#   bash scripts/device/sample-cluster-check.sh
set -uo pipefail
# shellcheck disable=SC1091
source .bundle/env.sh
echo "== SamplingGpu.*"
timeout 120 test_kernels_gpu --gtest_filter='SamplingGpu.*' 2>&1 | grep -E "^\[  (PASSED|FAILED)|FAILED|Failure|row " | head -20
if command -v compute-sanitizer > /dev/null; then
  for tool in memcheck racecheck; do
    echo "== $tool SamplingGpu.RowsSpreadOverAClusterMatchTheCpuOp"
    timeout 240 compute-sanitizer --tool $tool --print-limit 10 test_kernels_gpu \
      --gtest_filter='SamplingGpu.RowsSpreadOverAClusterMatchTheCpuOp' 2>&1 |
      grep -E "ERROR SUMMARY|RACECHECK SUMMARY|^\[  (PASSED|FAILED)|Invalid|hazard" | head -10
  done
fi
echo "== test_runtime_gpu RADIX_SAMPLE_CLUSTER=8"
RADIX_SAMPLE_CLUSTER=8 timeout 180 test_runtime_gpu 2>&1 | grep -E "^\[  (PASSED|FAILED)|FAILED|Failure" | head -10
echo "== bench_kernels_gpu --sampling"
timeout 120 bench_kernels_gpu --sampling
TESTS=0 SPECS="${SPECS:-1,128,512}" AB="${AB:-- RADIX_SAMPLE_CLUSTER=8 - RADIX_SAMPLE_CLUSTER=8}" \
  timeout 300 bash scripts/device/quick-decode.sh
