#!/usr/bin/env bash
# A batch-1 decode step against a slower memory on the same chip (.bundle carried): for
# each setting in HOGS (default "0 1 1:0.5": STREAMS[:DUTY]), scripts/device/bandwidth-hog.py
# runs that many streams of device-to-device copies (0: none), copying DUTY of the time, while `radix bench
# one-batch` measures its steps and then its read rate (the read probe runs under the
# same copies). An H200 with copies taking ~1.4 TB/s of its HBM traffic reads at about
# an H100's rate with the H100's SMs, clocks and L2: the issue's bar (175 of 193 tok/s,
# 90.7 % of the read rate) is stated for that machine.
#   HOGS="0 2" SPECS="1,128,512" bash scripts/device/emulated-bandwidth.sh
set -uo pipefail
# shellcheck disable=SC1091
source .bundle/env.sh
ob() {
  radix bench one-batch --model-path configs/llama-3-8b.json --load-format dummy --device cuda --log-level warning "$@" 2>&1 |
    grep -E "Decode\.|Roofline|rror" | sed 's/^/  /'
}
for spec in ${SPECS:-"1,128,512"}; do
  IFS=, read -r b i o <<< "$spec"
  for hs in ${HOGS:-0 1 1:0.5}; do
    IFS=: read -r h duty <<< "$hs"
    echo "== batch $b in $i out $o, copy streams: $h, duty ${duty:-1}"
    hog=""
    if [[ $h != 0 ]]; then
      rm -f /tmp/hog.ready
      python3 scripts/device/bandwidth-hog.py --streams "$h" --gib "${HOG_GIB:-2}" --duty "${duty:-1}" --ready-file /tmp/hog.ready &
      hog=$!
      for _ in $(seq 300); do [[ -f /tmp/hog.ready ]] && break; sleep 0.1; done
      [[ -f /tmp/hog.ready ]] || { echo "  the copies did not start"; kill "$hog"; wait "$hog"; continue; }
    fi
    ob --batch-size "$b" --input-len "$i" --output-len "$o"
    if [[ -n $hog ]]; then kill -TERM "$hog"; wait "$hog"; fi
  done
done
