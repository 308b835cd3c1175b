#!/usr/bin/env bash
# The decode chain's items claimed at issue (RADIX_DECODE_CHAIN_CLAIM=1, session 17)
# checked and measured in one device call (.bundle carried; every step under a timeout):
# the chain's GPU tests, memcheck over the claim test, the golden and runtime GPU suites
# with it on, the kernel bench's probe and layer-tail rows without and with it, then
# batch-1/2 decode steps without and with it.
#   bash scripts/device/chain-claim-check.sh
# shellcheck disable=SC1091
source scripts/device/check-lib.sh
echo "== DecodeChainGpu.*"
timeout 200 test_kernels_gpu --gtest_filter='DecodeChainGpu.*' 2>&1 | pass
memcheck 'DecodeChainGpu.ClaimedItems*' 200
for t in test_model_golden_gpu test_runtime_gpu; do
  echo "== $t RADIX_DECODE_CHAIN_CLAIM=1"
  RADIX_DECODE_CHAIN_CLAIM=1 timeout 120 "$t" 2>&1 | pass
done
for env in RADIX_DECODE_CHAIN_CLAIM=0 RADIX_DECODE_CHAIN_CLAIM=1; do
  echo "== bench_kernels_gpu --quick, $env"
  env $env timeout 150 bench_kernels_gpu --quick 2>&1 |
    awk '/streaming read|ring, evict|^layer tail|no boundary|nor staging, stores, dots/ {print} /layer, attention over 128/ {print; exit}'
done
TESTS=0 SPECS="${SPECS:-1,128,512 1,1024,32 2,1024,32 1,128,512}" AB="- RADIX_DECODE_CHAIN_CLAIM=1" \
  timeout 300 bash scripts/device/quick-decode.sh
