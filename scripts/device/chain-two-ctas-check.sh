#!/usr/bin/env bash
# Two CTAs of 8 warps per SM for the batch-1 decode chain (RADIX_DECODE_CHAIN_TWO_CTAS=1,
# session 17) checked and measured in one device call (.bundle carried; every step under
# a timeout), with the GPU suite of the default build: the whole kernel test binary (the
# new DecodeChainGpu.TwoCtasPerSmMatchCpu included), memcheck over that test, the kernel
# bench's layer-tail rows without and with it, batch-1/2 decode steps without and with it,
# then the golden and runtime suites (default).
#   bash scripts/device/chain-two-ctas-check.sh
# shellcheck disable=SC1091
source scripts/device/check-lib.sh
echo "== test_kernels_gpu"
timeout 200 test_kernels_gpu 2>&1 | pass
memcheck 'DecodeChainGpu.TwoCtas*' 120
for env in RADIX_DECODE_CHAIN_TWO_CTAS=0 RADIX_DECODE_CHAIN_TWO_CTAS=1; do
  echo "== bench_kernels_gpu --quick, $env"
  env $env timeout 120 bench_kernels_gpu --quick 2>&1 |
    awk '/streaming read|ring, evict|^layer tail|no boundary/ {print} /layer, attention over 128/ {print; exit}'
done
TESTS=0 SPECS="${SPECS:-1,128,512 1,1024,32 1,128,512}" AB="- RADIX_DECODE_CHAIN_TWO_CTAS=1" \
  timeout 200 bash scripts/device/quick-decode.sh
for t in test_model_golden_gpu test_runtime_gpu; do
  echo "== $t"
  timeout 120 "$t" 2>&1 | pass
done
