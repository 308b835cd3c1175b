#!/usr/bin/env bash
# Opt-in decode-chain switches checked and measured in one device call (.bundle carried),
# every step under a timeout (a boundary that never completes shows up as a hang):
# the chain's GPU tests, memcheck over each switch's test, the golden and runtime GPU
# suites with each switch on, the kernel bench's layer-tail rows and trace by default and
# with each on,
# then batch-1/2 decode steps with and without them (SPECS / AB as in quick-decode.sh).
#   SWITCHES="RADIX_DECODE_CHAIN_X:X* RADIX_DECODE_CHAIN_Y:Y*" bash scripts/device/switch-check.sh
#   (variable:gtest pattern of its memcheck test; each switch is turned on with =1).
#   Session 13 measured the counted tagged boundaries and the full ring with it.
set -uo pipefail
# shellcheck disable=SC1091
source .bundle/env.sh
switches=${SWITCHES:?"SWITCHES: one VARIABLE:test-pattern per opt-in switch"}
echo "== DecodeChainGpu.*"
timeout 240 test_kernels_gpu --gtest_filter='DecodeChainGpu.*' 2>&1 | grep -E "^\[  (PASSED|FAILED)|FAILED|Failure" | head -20
echo "== layer tail and trace, default"
timeout 180 bench_kernels_gpu --quick 2>&1 | grep -E "^layer tail|chain trace|^  " | grep -v -E "per SM|^    " | head -12
ab="-"
for sw in $switches; do
  var=${sw%%:*} pat=${sw#*:}
  ab="$ab $var=1"
  if command -v compute-sanitizer > /dev/null; then
    echo "== memcheck DecodeChainGpu.$pat"
    timeout 200 compute-sanitizer --tool memcheck --print-limit 10 test_kernels_gpu --gtest_filter="DecodeChainGpu.$pat" 2>&1 |
      grep -E "ERROR SUMMARY|^\[  (PASSED|FAILED)|Invalid" | head -10
  fi
  for t in test_model_golden_gpu test_runtime_gpu; do
    echo "== $t $var=1"
    env "$var=1" timeout 120 "$t" 2>&1 | grep -E "^\[  (PASSED|FAILED)|FAILED|Failure" | head -10
  done
  echo "== layer tail and trace, $var=1"
  env "$var=1" timeout 180 bench_kernels_gpu --quick 2>&1 |
    grep -E "^layer tail|chain trace|^  " | grep -v -E "per SM|^    " | head -24
done
TESTS=0 SPECS="${SPECS:-1,128,512 1,1024,32 2,1024,32}" AB="${AB:-$ab}" \
  timeout 300 bash scripts/device/quick-decode.sh
