#!/usr/bin/env bash
# The chain's counted tagged boundaries (RADIX_DECODE_CHAIN_TAGGED=1, decode_chain.h: no
# fence before a count; the next phase validates the words it stages) checked and
# measured in one device call (.bundle carried), every step under a timeout (a tag never
# written shows up as a hang): the chain's GPU tests, memcheck over the tagged test, the
# golden and runtime GPU suites with and without it, the kernel bench's layer-tail rows
# and trace with tagged boundaries, then batch-1/2 decode steps with and without them
# (SPECS / AB as in quick-decode.sh).
set -uo pipefail
# shellcheck disable=SC1091
source .bundle/env.sh
echo "== DecodeChainGpu.*"
timeout 240 test_kernels_gpu --gtest_filter='DecodeChainGpu.*' 2>&1 | grep -E "^\[  (PASSED|FAILED)|FAILED|Failure" | head -20
if command -v compute-sanitizer > /dev/null; then
  echo "== memcheck DecodeChainGpu.Tagged*"
  timeout 200 compute-sanitizer --tool memcheck --print-limit 10 test_kernels_gpu --gtest_filter='DecodeChainGpu.Tagged*' 2>&1 |
    grep -E "ERROR SUMMARY|^\[  (PASSED|FAILED)|Invalid" | head -10
fi
for tagged in 0 1; do
  for t in test_model_golden_gpu test_runtime_gpu; do
    echo "== $t RADIX_DECODE_CHAIN_TAGGED=$tagged"
    RADIX_DECODE_CHAIN_TAGGED=$tagged timeout 120 "$t" 2>&1 | grep -E "^\[  (PASSED|FAILED)|FAILED|Failure" | head -10
  done
done
echo "== layer tail and trace, tagged"
RADIX_DECODE_CHAIN_TAGGED=1 timeout 180 bench_kernels_gpu --quick 2>&1 |
  grep -E "^layer tail|chain trace|^  " | grep -v -E "per SM|^    " | head -24
TESTS=0 SPECS="${SPECS:-1,128,512 1,1024,32 2,1024,32}" AB="${AB:-- RADIX_DECODE_CHAIN_TAGGED=1}" \
  timeout 300 bash scripts/device/quick-decode.sh
