#!/usr/bin/env bash
# The server e2e suite (tests/e2e: the official openai client and raw HTTP against a real
# `radix serve` on models/default) with the server on the GPU, on the GPU machine from the
# repo root with a bundle made by `scripts/device/bundle.sh build-cuda --e2e` (carry
# .bundle): node and the npm packages come from the bundle. Logs under $OUT.
set -uo pipefail
out=${OUT:-out}
mkdir -p "$out"
# shellcheck disable=SC1091
source .bundle/env.sh
# The tests import their packages from tests/e2e/node_modules.
[[ -e tests/e2e/node_modules ]] || ln -s "$(pwd)/.bundle/node_modules" tests/e2e/node_modules
export RADIX_E2E_DEVICE=cuda
status=0
for t in server_openai bench_serving; do
  start=$(date +%s)
  node "tests/e2e/$t.test.mjs" --radix "$(command -v radix)" --model models/default > "$out/e2e-$t.log" 2>&1
  rc=$?
  echo "e2e $t (server on cuda): exit $rc in $(( $(date +%s) - start )) s; $(grep -E '^# (pass|fail)' "$out/e2e-$t.log" | tr '\n' ' ')"
  [[ $rc -eq 0 ]] || { status=1; grep -E "^not ok|Error|assert" "$out/e2e-$t.log" | head -20; }
done
exit $status
