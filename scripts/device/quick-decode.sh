#!/usr/bin/env bash
# Quick decode A/B on the GPU machine (.bundle carried): the attention and fused-GEMM
# kernel tests, then `radix bench one-batch` decode steps at batch 1/64/128 for each
# setting in AB (default: the defaults and RADIX_DECODE_ATTN=simt; e.g.
# AB="RADIX_PDL=0 RADIX_PDL=1"; "-" is the defaults; commas join several variables of one
# setting: AB="- RADIX_GEMV_MMA_MIN_ROWS=2,RADIX_GEMV_MMA_MAX_ROWS=16"). TESTS=0 skips the tests.
source .bundle/env.sh
if [[ ${TESTS:-1} != 0 ]]; then
  test_kernels_gpu --gtest_filter='Attention*:SharedPrefix*:FusedGemm*' 2>&1 | grep -E "^\[  (PASSED|FAILED)|FAILED|error" | head -20
fi
ob() {
  radix bench one-batch --model-path configs/llama-3-8b.json --load-format dummy --device cuda --log-level warning "$@" 2>&1 | grep -E "Decode\.|Roofline" | sed 's/^/  /'
}
for spec in ${SPECS:-"1,128,512" "64,1024,32" "128,1024,32" "128,4096,32"}; do
  IFS=, read -r b i o <<< "$spec"
  for env in ${AB:-- RADIX_DECODE_ATTN=simt}; do
    [[ $env == - ]] && env=""
    env=${env//,/ }
    echo "== batch $b in $i out $o ${env:-(default)}"
    env $env bash -c "$(declare -f ob); ob --batch-size $b --input-len $i --output-len $o"
  done
done
