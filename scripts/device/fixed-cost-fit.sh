#!/usr/bin/env bash
# How a batch-1 decode step's time splits into a part that grows with the bytes it
# streams and a part that does not (.bundle carried): `radix bench one-batch` (dummy
# weights) on Llama-3-8B's config with other layer counts and MLP widths, each SHAPE
# "LAYERS,INTERMEDIATE" (default: 32 layers at 7168, 14336, 21504 and 28672, and 16 and
# 48 layers at 14336). The step's bytes and the read rate (measured in each run) are
# printed with the median step; a least-squares fit over the rows (docs/perf.md, session
# 19) gives the fixed cost per layer and the rate the stream really runs at.
#   SHAPES="32,14336 32,28672" bash scripts/device/fixed-cost-fit.sh
set -uo pipefail
# shellcheck disable=SC1091
source .bundle/env.sh
for shape in ${SHAPES:-"32,7168" "32,14336" "32,21504" "32,28672" "16,14336" "48,14336" "32,14336"}; do
  IFS=, read -r layers inter <<< "$shape"
  cfg=/tmp/llama-${layers}x${inter}.json
  python3 - "$layers" "$inter" "$cfg" << 'EOF'
import json, sys
c = json.load(open("configs/llama-3-8b.json"))
c["num_hidden_layers"], c["intermediate_size"] = int(sys.argv[1]), int(sys.argv[2])
json.dump(c, open(sys.argv[3], "w"))
EOF
  echo "== layers $layers intermediate $inter"
  radix bench one-batch --model-path "$cfg" --load-format dummy --device cuda --log-level warning \
    --batch-size 1 --input-len 128 --output-len 512 2>&1 | grep -E "Decode\.|Roofline\.|rror" | sed 's/^/  /'
done
