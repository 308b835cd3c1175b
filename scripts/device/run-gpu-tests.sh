#!/usr/bin/env bash
# Runs the GPU test suite on the GPU machine from the repo root, using binaries carried
# in .bundle (scripts/device/bundle.sh): every gpu-labelled test binary present
# (test_kernels_gpu, test_model_golden_gpu, test_runtime_gpu), then compute-sanitizer memcheck over the
# kernel tests if the tool is there. Logs go to $OUT (the device tool's output folder;
# ./out when run elsewhere). Exit status: non-zero if any step failed.
#
#   MEMCHECK_FILTER='-GemmGpu.Llama*' MEMCHECK_TIMEOUT=300 bash scripts/device/run-gpu-tests.sh
set -uo pipefail

out=${OUT:-out}
mkdir -p "$out"
[[ -f .bundle/env.sh ]] || { echo "run-gpu-tests.sh: no .bundle (run scripts/device/bundle.sh and carry .bundle)" >&2; exit 2; }
# shellcheck disable=SC1091
source .bundle/env.sh

summary="$out/summary.txt"
: > "$summary"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >> "$summary" 2>&1
status=0

for t in test_kernels_gpu test_model_golden_gpu test_runtime_gpu; do
  command -v "$t" > /dev/null || continue
  start=$(date +%s)
  "$t" --gtest_color=no > "$out/$t.log" 2>&1
  rc=$?
  echo "$t: exit $rc in $(( $(date +%s) - start )) s; $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$out/$t.log" | tr '\n' ' ')" >> "$summary"
  grep -E '^\[  FAILED  \]' "$out/$t.log" >> "$summary"
  [[ $rc -eq 0 ]] || status=1
done

if command -v compute-sanitizer > /dev/null && command -v test_kernels_gpu > /dev/null; then
  start=$(date +%s)
  timeout "${MEMCHECK_TIMEOUT:-360}" compute-sanitizer --tool memcheck --error-exitcode 99 --print-limit 20 \
    test_kernels_gpu --gtest_color=no --gtest_filter="${MEMCHECK_FILTER:-*}" > "$out/memcheck.log" 2>&1
  rc=$?
  echo "memcheck test_kernels_gpu (filter ${MEMCHECK_FILTER:-*}): exit $rc in $(( $(date +%s) - start )) s; $(grep -E 'ERROR SUMMARY' "$out/memcheck.log" | tail -1)" >> "$summary"
  [[ $rc -eq 0 ]] || status=1
else
  echo "compute-sanitizer not found: memcheck skipped" >> "$summary"
fi

cat "$summary"
exit $status
