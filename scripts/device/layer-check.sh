#!/usr/bin/env bash
# Whole decode layers on the GPU machine (.bundle carried), in one device call:
#   the kernel bench's layer rows (attention over 128 / 1K / 4K positions + the chain,
#   with the chain trace: its gap to the next launch is the attention + merge time),
#   for each value of RADIX_DECODE_SPLIT_MIN_POSITIONS in MINPOS (default "64 256 1024");
#   then quick-decode.sh's batch-1 steps for the same values (SPECS as there).
# Every step under a timeout.
set -uo pipefail
# shellcheck disable=SC1091
source .bundle/env.sh
minpos=${MINPOS:-64 256 1024}
for m in $minpos; do
  echo "== kernel bench, RADIX_DECODE_SPLIT_MIN_POSITIONS=$m"
  RADIX_DECODE_SPLIT_MIN_POSITIONS=$m timeout 200 bench_kernels_gpu --quick 2>&1 |
    grep -E "^layer|^8b-mma|chain trace|^  " | grep -v -E "per SM|^    " | head -60
done
ab=""
for m in $minpos; do ab+=" RADIX_DECODE_SPLIT_MIN_POSITIONS=$m"; done
TESTS=0 SPECS="${SPECS:-1,128,512 1,1024,32}" AB="$ab" timeout 300 bash scripts/device/quick-decode.sh
