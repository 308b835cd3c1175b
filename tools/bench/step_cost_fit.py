#!/usr/bin/env python3
"""Splits a batch-1 decode step's time into what grows with its bytes and what does not,
from the output of scripts/device/fixed-cost-fit.sh (`radix bench one-batch` on one
model config at several layer counts and MLP widths). Standard library only.

    python3 tools/bench/step_cost_fit.py fit.txt [--read-rate 3107] [--layers 32] [--gb 15.061]

Fits, by least squares over the runs,

    step ms = a + b * layers + c * GB read

and prints a, b (the fixed cost of one layer: syncs, launches, the attention's round
trips), the rate the stream runs at (1 / c) and its ratio to the read rate the runs
measured. With --read-rate it also predicts the step of a model of --layers layers reading
--gb GB on a machine of that read rate, assuming the same fixed costs and the same ratio
(how docs/perf.md, session 19, puts the H100's step).
"""
import argparse
import re
import sys

SHAPE = re.compile(r"^== layers (\d+) intermediate (\d+)")
STEP = re.compile(r"Decode\.\s+median latency: ([0-9.]+) s")
ROOF = re.compile(r"Roofline\. decode step reads ([0-9.]+) GB .* at ([0-9.]+) GB/s")


def parse(lines):
    """[(layers, intermediate, step_ms, gb, read_gbps)] of every run with a step and a rate."""
    runs, cur = [], None
    for line in lines:
        m = SHAPE.search(line)
        if m:
            cur = {"layers": int(m.group(1)), "inter": int(m.group(2))}
            continue
        if cur is None:
            continue
        m = STEP.search(line)
        if m:
            cur["ms"] = float(m.group(1)) * 1e3
        m = ROOF.search(line)
        if m:
            cur["gb"], cur["rate"] = float(m.group(1)), float(m.group(2))
        if all(k in cur for k in ("ms", "gb", "rate")):
            runs.append((cur["layers"], cur["inter"], cur["ms"], cur["gb"], cur["rate"]))
            cur = None
    return runs


def solve(rows, ys):
    """Least squares: x minimising |rows x - ys| (normal equations, Gaussian elimination)."""
    n = len(rows[0])
    m = [[sum(r[i] * r[j] for r in rows) for j in range(n)] + [sum(r[i] * y for r, y in zip(rows, ys))]
         for i in range(n)]
    for i in range(n):
        p = max(range(i, n), key=lambda k: abs(m[k][i]))
        m[i], m[p] = m[p], m[i]
        if abs(m[i][i]) < 1e-12:
            raise ValueError("the runs do not separate layers from bytes: vary both")
        for k in range(i + 1, n):
            f = m[k][i] / m[i][i]
            m[k] = [a - f * b for a, b in zip(m[k], m[i])]
    x = [0.0] * n
    for i in reversed(range(n)):
        x[i] = (m[i][n] - sum(m[i][k] * x[k] for k in range(i + 1, n))) / m[i][i]
    return x


def fit(runs):
    """(a ms, b ms per layer, c ms per GB, mean read rate GB/s)."""
    if len(runs) < 3:
        raise ValueError(f"need at least 3 runs, got {len(runs)}")
    a, b, c = solve([(1.0, float(r[0]), r[3]) for r in runs], [r[2] for r in runs])
    return a, b, c, sum(r[4] for r in runs) / len(runs)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("file", help="fixed-cost-fit.sh's output ('-': standard input)")
    p.add_argument("--read-rate", type=float, help="GB/s of another machine to predict a step for")
    p.add_argument("--layers", type=int, default=32)
    p.add_argument("--gb", type=float, default=15.061, help="bytes the predicted step reads (Llama-3-8B, batch 1)")
    args = p.parse_args(argv)
    try:
        if args.file == "-":
            lines = sys.stdin.read().splitlines()
        else:
            with open(args.file) as f:
                lines = f.read().splitlines()
        runs = parse(lines)
        a, b, c, rate = fit(runs)
    except (OSError, ValueError) as e:
        print(f"step_cost_fit: {e}", file=sys.stderr)
        return 2
    eff = 1e3 / c / rate
    print(f"{len(runs)} runs: step ms = {a:.3f} + {b * 1e3:.1f} us x layers + GB / {1e3 / c:.0f} GB/s "
          f"({eff * 100:.1f} % of the {rate:.0f} GB/s read rate the runs measured)")
    for layers, inter, ms, gb, _ in runs:
        print(f"  {layers} layers, intermediate {inter}: {ms:.2f} ms, fit {a + b * layers + c * gb:.2f}")
    if args.read_rate:
        ms = a + b * args.layers + args.gb / (args.read_rate * eff) * 1e3
        print(f"at {args.read_rate:.0f} GB/s, {args.layers} layers, {args.gb:.3f} GB: {ms:.2f} ms = "
              f"{1e3 / ms:.1f} tok/s (same fixed costs, same {eff * 100:.1f} % of the read rate)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
