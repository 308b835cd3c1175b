#!/usr/bin/env bash
# The lm_head as the decode chain's last phase (RADIX_DECODE_CHAIN_LM_HEAD=1, written in
# session 15 without a GPU) checked and measured in one device call (.bundle carried;
# every step under a timeout): the chain's GPU tests (the head both ways), memcheck over
# the head test, the golden and runtime GPU suites by default (the Llama model now
# computes a decode step's logits from the residual without gathering rows) and with it
# on, then batch-1/2 decode steps without and with it.
#   bash scripts/device/lm-head-check.sh
# shellcheck disable=SC1091
source scripts/device/check-lib.sh
echo "== DecodeChainGpu.*"
timeout 240 test_kernels_gpu --gtest_filter='DecodeChainGpu.*' 2>&1 | pass
memcheck 'DecodeChainGpu.TheLastLayer*' 200
for env in RADIX_DECODE_CHAIN_LM_HEAD=0 RADIX_DECODE_CHAIN_LM_HEAD=1; do
  for t in test_model_golden_gpu test_runtime_gpu; do
    echo "== $t $env"
    env $env timeout 120 "$t" 2>&1 | pass
  done
done
TESTS=0 SPECS="${SPECS:-1,128,512 1,1024,32 2,1024,32 1,128,512}" AB="- RADIX_DECODE_CHAIN_LM_HEAD=1" \
  timeout 300 bash scripts/device/quick-decode.sh
