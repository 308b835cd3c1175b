#!/usr/bin/env bash
# Session 15's call: the GPU tests of the changed kernels on this build (.bundle) and the
# runtime suite (graphs), decode steps of the base build (.base, see build-ab.sh) against
# this one (greedy; greedy without the cluster sampler), this build's top_p steps with and
# without the cluster sampler, then the rest of the GPU suite and the sanitizers over the
# new paths (inactive decode splits exit before the PDL wait, the merge reads only the
# active splits; sampling rows over a cluster).
#   bash scripts/device/active-splits-check.sh
set -uo pipefail
# shellcheck disable=SC1091
source .bundle/env.sh
pass() { grep -E "^\[  (PASSED|FAILED)|FAILED|Failure" | head -12; }
echo "== test_kernels_gpu Attention*:SharedPrefix*:SamplingGpu*"
timeout 120 test_kernels_gpu --gtest_filter='Attention*:SharedPrefix*:SamplingGpu*' 2>&1 | pass
echo "== test_runtime_gpu"
timeout 150 test_runtime_gpu 2>&1 | pass
SPECS="1,128,512 1,1024,32 2,1024,32" timeout 200 bash scripts/device/build-ab.sh
SPECS="1,128,512" ENV="RADIX_SAMPLE_CLUSTER=0" timeout 70 bash scripts/device/build-ab.sh
for env in RADIX_SAMPLE_CLUSTER=0 RADIX_SAMPLE_CLUSTER=1; do
  echo "== batch 1 in 128 out 512 --temperature 0.8 --top-p 0.9, $env (this build)"
  env $env timeout 40 radix bench one-batch --model-path configs/llama-3-8b.json --load-format dummy --device cuda \
    --log-level warning --batch-size 1 --input-len 128 --output-len 512 --temperature 0.8 --top-p 0.9 2>&1 |
    grep -E "sampling|Decode\.|every weight|error" | sed 's/^/  /'
done
echo "== test_kernels_gpu (all)"
timeout 200 test_kernels_gpu 2>&1 | pass
echo "== test_model_golden_gpu"
timeout 120 test_model_golden_gpu 2>&1 | pass
if command -v compute-sanitizer > /dev/null; then
  echo "== memcheck"
  timeout 150 compute-sanitizer --tool memcheck --print-limit 10 test_kernels_gpu \
    --gtest_filter='AttentionGpu.Decode*:AttentionGpu.SplitMerge*:AttentionGpu.Sequences*:SharedPrefix*:SamplingGpu.FewRows*' 2>&1 |
    grep -E "ERROR SUMMARY|^\[  (PASSED|FAILED)|Invalid" | head -10
  echo "== racecheck SamplingGpu.FewRows* (cluster rows)"
  timeout 120 compute-sanitizer --tool racecheck --print-limit 10 test_kernels_gpu \
    --gtest_filter='SamplingGpu.FewRows*' 2>&1 | tail -6
fi
