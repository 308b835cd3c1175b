#!/usr/bin/env bash
# Quick decode A/B on the GPU machine (.bundle carried): the attention and fused-GEMM
# kernel tests, then `radix bench one-batch` decode steps at batch 1/64/128 with the
# programmatic dependent launch off and on (RADIX_PDL=1).
source .bundle/env.sh
test_kernels_gpu --gtest_filter='Attention*:FusedGemm*' 2>&1 | grep -E "^\[  (PASSED|FAILED)|FAILED|error" | head -20
ob() {
  radix bench one-batch --model-path configs/llama-3-8b.json --load-format dummy --device cuda --log-level warning "$@" 2>&1 | grep -E "Decode\." | sed 's/^/  /'
}
for spec in "1 128 512" "64 1024 32" "128 1024 32"; do
  read -r b i o <<< "$spec"
  for env in "" "RADIX_PDL=1"; do
    echo "== batch $b in $i out $o ${env:-(default)}"
    env $env bash -c "$(declare -f ob); ob --batch-size $b --input-len $i --output-len $o"
  done
done
