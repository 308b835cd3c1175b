#!/usr/bin/env bash
# The decode chain's flow pair (RADIX_DECODE_CHAIN_FLOW=1, docs/kernels.md) checked and
# measured in one device call (.bundle carried): the chain's GPU tests (the flow test
# among them), compute-sanitizer memcheck over the flow test, the chain trace with the
# pair, then batch-1/2 decode steps with and without it. Every step under a timeout: a
# wrong count in the kernel shows up as a hang. SPECS / AB as in quick-decode.sh.
set -uo pipefail
# shellcheck disable=SC1091
source .bundle/env.sh
echo "== DecodeChainGpu.*"
timeout 240 test_kernels_gpu --gtest_filter='DecodeChainGpu.*' 2>&1 | grep -E "^\[  (PASSED|FAILED)|FAILED|Failure|error" | head -20
echo "== memcheck DecodeChainGpu.Flow*"
if command -v compute-sanitizer > /dev/null; then
  timeout 240 compute-sanitizer --tool memcheck --print-limit 10 test_kernels_gpu --gtest_filter='DecodeChainGpu.Flow*' 2>&1 |
    grep -E "ERROR SUMMARY|^\[  (PASSED|FAILED)|Invalid" | head -10
fi
echo "== chain trace, flow pair"
RADIX_DECODE_CHAIN_FLOW=1 timeout 180 bench_kernels_gpu --quick 2>&1 | grep -E -A5 "layer tail, decode|chain trace" | head -14
TESTS=0 SPECS="${SPECS:-1,128,512 1,1024,32 2,1024,32}" AB="${AB:-- RADIX_DECODE_CHAIN_FLOW=1}" \
  timeout 300 bash scripts/device/quick-decode.sh
