# Sourced by the one-call check scripts of scripts/device/ on the GPU machine: the
# bundle's binaries on PATH (.bundle carried) and two helpers.
# shellcheck shell=bash
set -uo pipefail
# shellcheck disable=SC1091
source .bundle/env.sh
# A gtest run's verdict lines (stdin).
pass() { grep -E "^\[  (PASSED|FAILED)|FAILED|Failure|error" | head -12; }
# memcheck over test_kernels_gpu's tests matching $1, under a timeout of $2 seconds.
memcheck() {
  command -v compute-sanitizer > /dev/null || { echo "compute-sanitizer not found"; return 0; }
  echo "== memcheck $1"
  timeout "$2" compute-sanitizer --tool memcheck --print-limit 10 test_kernels_gpu --gtest_filter="$1" 2>&1 |
    grep -E "ERROR SUMMARY|^\[  (PASSED|FAILED)|Invalid" | head -10
}
