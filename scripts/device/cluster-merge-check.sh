#!/usr/bin/env bash
# The cluster-merged decode attention (RADIX_DECODE_CLUSTER_MERGE=1) checked and measured
# in one device call (.bundle carried; every step under a timeout): the attention GPU
# tests, batch-1/2/4 decode steps without and with it (quick-decode.sh), the runtime GPU
# suite with it on, then memcheck over its test.
#   bash scripts/device/cluster-merge-check.sh
set -uo pipefail
# shellcheck disable=SC1091
source .bundle/env.sh
pass() { grep -E "^\[  (PASSED|FAILED)|FAILED|Failure|error" | head -12; }
echo "== test_kernels_gpu Attention*:SharedPrefix*"
timeout 90 test_kernels_gpu --gtest_filter='Attention*:SharedPrefix*' 2>&1 | pass
TESTS=0 SPECS="${SPECS:-1,128,512 1,1024,32 1,4096,32 2,1024,32 4,1024,32 1,128,512}" \
  AB="- RADIX_DECODE_CLUSTER_MERGE=1" timeout 300 bash scripts/device/quick-decode.sh
echo "== test_runtime_gpu RADIX_DECODE_CLUSTER_MERGE=1"
RADIX_DECODE_CLUSTER_MERGE=1 timeout 100 test_runtime_gpu 2>&1 | pass
if command -v compute-sanitizer > /dev/null; then
  echo "== memcheck AttentionGpu.ClusterMerged*"
  timeout 80 compute-sanitizer --tool memcheck --print-limit 10 test_kernels_gpu \
    --gtest_filter='AttentionGpu.ClusterMerged*' 2>&1 | grep -E "ERROR SUMMARY|^\[  (PASSED|FAILED)|Invalid" | head -10
fi
