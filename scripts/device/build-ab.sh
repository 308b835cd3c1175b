#!/usr/bin/env bash
# Decode steps of two builds in one device call: `radix bench one-batch` (dummy
# Llama-3-8B) with the base build's radix and with this build's (.bundle), alternating,
# for each spec and round, so both see the same GPU. For a change with no switch to turn
# it off.
#   here:   bash scripts/device/build-ab.sh --pack BASE_BUILD_DIR   (writes .base/radix.xz)
#           then carry [".bundle", ".base"]
#   there:  SPECS="1,128,512 1,1024,32" ROUNDS=2 EXTRA="--temperature 0.8" bash scripts/device/build-ab.sh
# ENV (optional) is set for both builds, e.g. ENV="RADIX_SAMPLE_CLUSTER=0".
set -uo pipefail
if [[ ${1:-} == --pack ]]; then
  build=${2:?"--pack BASE_BUILD_DIR"}
  root=$(cd "$(dirname "$0")/../.." && pwd)
  rm -rf "$root/.base" && mkdir -p "$root/.base"
  cp "$build/radix" "$root/.base/radix" && strip --strip-unneeded "$root/.base/radix"
  xz -T0 -6 "$root/.base/radix"
  ls -la "$root/.base"
  exit 0
fi
# shellcheck disable=SC1091
source .bundle/env.sh
[[ -f .base/radix.xz ]] || { echo "build-ab.sh: no .base/radix.xz (run --pack here and carry .base)" >&2; exit 2; }
base=$(mktemp -d)/radix
xz -dc .base/radix.xz > "$base" && chmod +x "$base"
new=$(command -v radix)
for spec in ${SPECS:-"1,128,512"}; do
  IFS=, read -r b i o <<< "$spec"
  for round in $(seq 1 "${ROUNDS:-1}"); do
    for which in base new; do
      bin=$base
      [[ $which == new ]] && bin=$new
      echo "== batch $b in $i out $o ${EXTRA:-} ${ENV:-}: $which (round $round)"
      # shellcheck disable=SC2086
      env ${ENV:-} "$bin" bench one-batch --model-path configs/llama-3-8b.json --load-format dummy --device cuda \
        --log-level warning --batch-size "$b" --input-len "$i" --output-len "$o" ${EXTRA:-} 2>&1 |
        grep -E "Decode\.|every weight|error" | sed 's/^/  /'
    done
  done
done
